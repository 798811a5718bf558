"""fraud_case as a model: the deploy checks, lanes, due properties and timers of every task,
the forms (bilingual labels, widgets, lookups, refusals) and the script helpers."""

from __future__ import annotations

import pytest

from caseflow.engine.runtime import due_from
from tests.workflows.conftest import T0, D, H, S, iso


# --------------------------------------------------------------------------- the model
def test_model_passes_the_deploy_checks_and_lanes_map_to_roles(process):
    from lxml import etree

    from caseflow.engine.parsing import check_files
    from tests.workflows.conftest import BPMN_FILE, DMN_FILES
    from workflows.fraud_case import LANES

    files = {p.name: p.read_bytes() for p in [BPMN_FILE, *DMN_FILES]}
    reports = check_files(files)
    assert [(r.file, r.problems) for r in reports if not r.ok] == []

    root = etree.parse(str(BPMN_FILE)).getroot()
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
          "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    proc = root.find("bpmn:process", ns)
    assert proc.get("id") == "fraud_case" and proc.get("name") == "涉诈学生个案处置"
    assert proc.get("isExecutable") == "true"
    lanes = {lane.get("id"): lane.get("name") for lane in proc.iterfind(".//bpmn:lane", ns)}
    assert lanes == {"Counselor": "辅导员", "CollegeOfficer": "学院学工办",
                     "PsychCenter": "心理健康中心", "SecurityOffice": "保卫处",
                     "LeadOffice": "牵头部门"}
    assert set(lanes.values()) == set(LANES)
    # every flow node of the process is in exactly one lane (nested ones in their
    # sub-process's lane, which SpiffWorkflow hands down to them)
    refs = [r.text for r in proc.iterfind(".//bpmn:flowNodeRef", ns)]
    assert len(refs) == len(set(refs))
    flow_nodes = [el.get("id") for el in proc if etree.QName(el).localname not in (
        "laneSet", "sequenceFlow", "dataObject", "dataObjectReference")]
    assert sorted(refs) == sorted(flow_nodes)
    # every element has a shape or an edge, every shape a name in Chinese where it has one
    drawn = {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNShape", ns)}
    drawn |= {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNEdge", ns)}
    ids = {el.get("id") for el in proc.iter() if el.get("id")
           and etree.QName(el).localname not in ("laneSet", "dataObject", "property",
                                                  "timerEventDefinition",
                                                  "messageEventDefinition",
                                                  "signalEventDefinition",
                                                  "terminateEventDefinition")}
    assert ids - drawn == {"fraud_case"}  # the process is drawn as its participant (pool)
    specs = [process.spec, *process.subprocess_specs.values()]
    task_lanes = {t.lane for s in specs for t in s.task_specs.values()
                  if getattr(t, "bpmn_id", None)}
    assert task_lanes <= set(LANES)


def test_every_human_task_has_a_form_a_lane_and_a_due_property(process):
    from caseflow.settings_defaults import DUE_TIMES
    from workflows.fraud_case import FORMS, LANES, TASK_KEYS

    specs = [process.spec, *process.subprocess_specs.values()]
    human = {t.bpmn_id: t for s in specs for t in s.task_specs.values() if t.manual}
    assert set(human) == set(FORMS)
    for spec_id, spec in human.items():
        assert spec.lane in LANES, spec_id
        props = spec.extensions.get("properties", {})
        assert props.get("due"), f"{spec_id} has no due property"
        assert spec.bpmn_name and not spec.bpmn_name.isascii(), spec_id
    assert set(TASK_KEYS) == set(FORMS) - {"counseling_session"}
    assert set(TASK_KEYS.values()) <= set(DUE_TIMES)


def test_every_task_opens_with_a_due_time_and_every_timer_evaluates(open_case, sim):
    """A tour that opens every human task once: each due value parses, each timer waits."""
    from lxml import etree

    from tests.workflows.conftest import BPMN_FILE
    from workflows.fraud_case import FORMS

    a = open_case(loss_cny="60000", last_transfer_at=iso(T0 - 2 * H))
    a.complete("triage_review", confirm_risk=False, new_risk_level="orange",
               override_reason="已止付")
    a.complete("downgrade_approval", approval="refuse", reason="不同意")
    a.send("withdraw", {"reason": "误报", "by": "college_officer:1"})
    a.complete("withdrawal_approval", approval="refuse", reason="不同意")
    for spec in ("major_ack", "stop_payment", "talk", "police_referral", "parent_contact",
                 "class_lesson"):
        a.complete(spec)
    a.complete("psych_accept", accept="decline", decline_reason="满", first_session_at=None)
    a.complete("psych_decline_decision", decline_action="re_refer", reason="再转")
    a.complete("psych_accept")
    a.advance(2 * D)
    a.complete("counseling_session", more_sessions=True,
               next_session_at=iso(sim.now + 7 * D))
    a.advance(7 * D)
    a.complete("counseling_session")
    a.complete("psych_summary")
    a.advance(a.timers()["wait_visit"] - sim.now + S)
    a.complete("followup_visit")
    b = open_case(category="involved", behaviour="payment_account")
    b.complete("talk", knowing="yes")
    c = open_case(category="at_risk", discovery_source="screening", fraud_type="fake_job")
    for spec in ("triage_review", "talk", "parent_contact"):
        c.complete(spec)
    c.advance(14 * D + S)
    c.complete("followup_visit")

    opened = a.opened + b.opened + c.opened
    assert {spec for spec, _, _ in opened} == set(FORMS)
    for spec, lane, due in opened:
        assert due and due_from(due, sim.now) is not None, spec
        assert lane, spec
    root = etree.parse(str(BPMN_FILE)).getroot()
    timers = {el.getparent().get("id") for el in root.iter(
        "{http://www.omg.org/spec/BPMN/20100524/MODEL}timerEventDefinition")}
    assert timers - (a.timer_ids | b.timer_ids | c.timer_ids) == set()


# --------------------------------------------------------------------------- the forms
def test_forms_carry_bilingual_labels_widgets_and_lookups():
    from marshmallow import fields as mf
    from marshmallow import validate

    from workflows.fraud_case import FORMS, LOOKUPS, REGISTRATION

    widgets = {"text", "textarea", "select", "radio", "checkboxes", "datetime", "date",
               "money", "number", "boolean"}
    confidential = []
    for name, schema_cls in [*FORMS.items(), ("registration", REGISTRATION)]:
        schema = schema_cls()
        for field_name, f in schema.fields.items():
            meta = f.metadata
            where = f"{name}.{field_name}"
            assert meta["label"]["zh"] and meta["label"]["en"], where
            assert not meta["label"]["zh"].isascii(), where
            if "help" in meta:
                assert meta["help"]["zh"] and meta["help"]["en"], where
            assert meta.get("widget") in widgets, where
            if meta.get("lookup"):
                assert meta["lookup"] in LOOKUPS, where
                inner = f.inner if isinstance(f, mf.List) else f
                assert not any(isinstance(v, validate.OneOf) for v in inner.validators), where
            for v in (f.inner if isinstance(f, mf.List) else f).validators:
                if isinstance(v, validate.OneOf):
                    labels = meta.get("choices") or {}
                    assert set(labels) == set(v.choices), where
                    assert all(lb["zh"] and lb["en"] for lb in labels.values()), where
            if isinstance(f, mf.Decimal):
                assert f.as_string and meta["widget"] == "money", where
            if isinstance(f, mf.String) and meta["widget"] in ("text", "textarea") \
                    and not meta.get("lookup"):
                assert any(isinstance(v, validate.Length) and v.max for v in f.validators), where
            if meta.get("confidential"):
                confidential.append(where)
    assert confidential == ["counseling_session.notes"]


def test_lookups_are_seed_data_with_stable_codes():
    import re

    from workflows.fraud_case import CRISIS_SIGNS, LOOKUPS

    assert set(LOOKUPS) == {"fraud_type", "discovery_source", "behaviour", "risk_sign",
                            "money_source"}
    for kind, items in LOOKUPS.items():
        codes = [i["code"] for i in items]
        assert len(codes) == len(set(codes)), kind
        for item in items:
            assert set(item) == {"code", "zh", "en", "crisis"}
            assert re.fullmatch(r"[a-z][a-z0-9_]*", item["code"])
            assert item["crisis"] is False or kind == "risk_sign"
    assert len(LOOKUPS["fraud_type"]) == 13
    assert {"living_expenses", "tuition", "online_loan", "borrowed", "parents", "other"} == {
        i["code"] for i in LOOKUPS["money_source"]}
    assert {"self_harm_talk", "suicidal_thoughts", "severe_distress"} <= CRISIS_SIGNS
    signs = {i["code"]: i["crisis"] for i in LOOKUPS["risk_sign"]}
    assert signs["large_debts"] is signs["repeated_victim"] is signs["public_opinion"] is False


def test_forms_refuse_future_times_negative_money_and_long_text(sim):
    from marshmallow import ValidationError

    from tests.workflows.conftest import form_defaults
    from workflows.fraud_case import FORMS, REGISTRATION

    talk = form_defaults("talk", sim.now)
    with pytest.raises(ValidationError) as err:
        FORMS["talk"]().load({**talk, "talked_at": iso(sim.now + 2 * H)})
    assert err.value.messages["talked_at"] == ["must not be in the future"]
    with pytest.raises(ValidationError) as err:
        FORMS["talk"]().load({**talk, "reached_how": "telepathy", "place": "x" * 201})
    assert set(err.value.messages) == {"reached_how", "place"}
    stop = form_defaults("stop_payment", sim.now)
    with pytest.raises(ValidationError) as err:
        FORMS["stop_payment"]().load({**stop, "amount_cny": "-1"})
    assert "amount_cny" in err.value.messages
    assert FORMS["stop_payment"]().dump(FORMS["stop_payment"]().load(stop))["amount_cny"] \
        == "8000.00"
    with pytest.raises(ValidationError) as err:
        FORMS["counseling_session"]().load({"session_at": iso(sim.now),
                                            "risk_assessment": "high", "more_sessions": True})
    assert "next_session_at" in err.value.messages
    with pytest.raises(ValidationError) as err:
        REGISTRATION().load({"student_id": 1, "discovery_source": "hotline",
                             "category": "involved", "what_happened": "x"})
    assert err.value.messages == {"behaviour": ["give the behaviour"]}


def test_registration_dump_carries_every_start_key(sim):
    from tests.workflows.conftest import registration
    from workflows.fraud_case import START_KEYS

    data = registration(sim, category="at_risk", fraud_type="fake_job",
                        risk_signs=["suicidal_thoughts", "public_opinion"])
    assert set(START_KEYS) <= set(data)
    assert data["crisis_sign"] is True and data["public_opinion_risk"] is True
    assert data["loss_cny"] == "0.00" and data["ongoing"] == "unknown"


def test_case_facts_keys_are_documented():
    from workflows.fraud_case import CASE_FACTS_KEYS, init_case_facts

    assert set(init_case_facts({})) == set(CASE_FACTS_KEYS)
    required = {"category", "fraud_type", "behaviour", "loss_cny", "recovered_cny",
                "last_transfer_at", "hours_since_transfer", "ongoing", "crisis_sign",
                "repeated_victim", "psych_watch", "hardship", "public_opinion_risk", "minor",
                "risk_level", "risk_override", "override_reason", "flags", "started",
                "counselor_id", "outcome", "downgraded", "followups_planned",
                "followups_done", "closing_summary"}
    assert required <= set(CASE_FACTS_KEYS)


def test_script_helpers_keep_money_as_decimal_strings_and_return_new_dicts():
    from workflows.fraud_case import (
        FUNCTIONS,
        add_duration,
        apply_triage,
        init_case_facts,
        merge_finding,
        money,
        money_add,
    )

    assert money("8000") == "8000.00" and money(None) == "0.00" and money("-5") == "0.00"
    assert money_add("0.10", "0.20") == "0.30"
    assert money_add("9999.99", "0.01") == "10000.00"
    assert add_duration("2026-03-02T01:00:00+00:00", "PT1H") == "2026-03-02T02:00:00+00:00"
    facts = init_case_facts({"category": "victim", "loss_cny": "100"})
    merged = merge_finding(facts, {"loss_cny": "0.5", "last_transfer_at": "2026-03-01T00:00:00"})
    assert merged is not facts and facts["loss_cny"] == "100.00"
    assert merged["loss_cny"] == "100.50"
    assert merged["last_transfer_at"] == "2026-03-01T00:00:00+00:00"
    rated = apply_triage({**merged, "risk_level": "orange", "risk_prev": "red"}, ["major"])
    assert rated["risk_level"] == "red" and rated["flags"]["major"]
    assert all(callable(f) for f in FUNCTIONS.values())
