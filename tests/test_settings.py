"""School settings: defaults from SPEC.md, strict validation, audited changes, the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from caseflow import audit, settings
from caseflow.cli_settings import settings_group
from caseflow.db import db
from caseflow.engine import duration, standard_functions
from caseflow.models import AuditEvent, Setting
from caseflow.services import ValidationFailed, settings_admin
from tests import factories


def H(n: int) -> timedelta:
    return timedelta(hours=n)


def M(n: int) -> timedelta:
    return timedelta(minutes=n)


def D(n: int) -> timedelta:
    return timedelta(days=n)



# SPEC.md "Due times", written out by hand: setting key -> (red, orange, yellow).
SPEC_DUE_TIMES = {
    "major_ack": (H(1), H(1), H(1)),
    "stop_payment": (M(30), M(30), M(30)),
    "triage_review": (H(2), H(24), H(72)),
    "talk": (H(4), H(24), H(72)),
    "talk_ongoing": (M(30), M(30), M(30)),  # "30 min whenever the fraud is still going on"
    "parent_contact": (H(24), H(48), H(72)),
    "parent_retry": (H(24), H(24), H(24)),  # "each next one due 24 h after a failure"
    "psych_accept": (H(2), H(24), H(24)),
    "psych_accept_crisis": (H(1), H(1), H(1)),  # "crisis referral: 1 h"
    "psych_decline_decision": (H(24), H(24), H(24)),
    "psych_summary": (D(7), D(7), D(7)),
    "police_referral": (H(24), H(24), H(24)),
    "discipline": (D(14), D(14), D(14)),
    "class_lesson": (D(7), D(7), D(7)),
    "followup_interval": (D(14), D(14), D(14)),
    "closure_review": (D(7), D(7), D(7)),
    "withdrawal_approval": (H(24), H(24), H(24)),
    # "Other processes": warnings, police feedback, screening.
    "warning_reach": (M(30), M(30), M(30)),
    "warning_leaders": (H(2), H(2), H(2)),
    "police_feedback": (H(24), H(24), H(24)),
    "screening_round": (D(7), D(7), D(7)),
    "screening_review": (D(3), D(3), D(3)),
}

SPEC_OTHER = {
    "lead_office": "student_affairs",
    "parent_contact_attempts": 3,
    "followup_visits": {"red": 4, "orange": 2, "yellow": 1},
    "case_counts_by": "happened",
    "month_cutoff_day": 0,
}
SPEC_OTHER_DURATIONS = {"screening_cycle": D(14), "session_idle_timeout": M(30),
                        "session_absolute_timeout": H(12)}

ADMIN = audit.Actor(None, "admin", "admin")


@pytest.fixture
def people(app):
    return factories.org()


def _changes() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.event_type == "setting_changed"))


@pytest.mark.parametrize("key", sorted(SPEC_DUE_TIMES))
def test_each_due_time_default_equals_spec(app, key):
    value = settings.get(f"due.{key}")
    got = tuple(duration(value[level]) for level in ("red", "orange", "yellow"))
    assert got == SPEC_DUE_TIMES[key]


def test_other_defaults_equal_spec(app):
    for key, expected in SPEC_OTHER.items():
        assert settings.get(key) == expected, key
    for key, expected in SPEC_OTHER_DURATIONS.items():
        assert duration(settings.get(key)) == expected, key
    assert settings.lead_office_role() == "student_affairs"


def test_every_setting_is_described_and_its_default_is_valid():
    from caseflow.settings_defaults import DUE_TIMES, GROUPS, OTHER

    keys = {f"due.{k}" for k in DUE_TIMES} | set(OTHER)
    assert keys == set(settings.REGISTRY)
    for entry in settings.definitions():
        assert entry.group in GROUPS and all(entry.label) and all(entry.meaning), entry.key
        assert settings.parse(entry.key, entry.default) == entry.default, entry.key
        assert settings.display(entry.key, entry.default, "zh")
        assert settings.display(entry.key, entry.default, "en")


@pytest.mark.parametrize(("text", "zh", "en"), [
    ("PT30M", "30分钟", "30 min"),
    ("P7D", "7天", "7 days"),
    ("PT24H", "24小时", "24 hours"),
    ("PT1H30M", "1小时30分钟", "1 hour 30 min"),
    ("P1DT2H", "1天2小时", "1 day 2 hours"),
    ("P2W", "2周", "2 weeks"),
])
def test_durations_are_shown_in_chinese_and_english(text, zh, en):
    assert settings.format_duration(text, "zh") == zh
    assert settings.format_duration(text, "en") == en


def test_values_are_shown_in_words(app):
    assert settings.display("due.talk", settings.get("due.talk"), "zh") == \
        "红色 4小时；橙色 24小时；黄色 72小时"
    assert settings.display("due.warning_reach", settings.get("due.warning_reach")) == "30分钟"
    assert settings.display("due.major_ack", settings.get("due.major_ack"), "en") == \
        "1 hour at every level"
    assert settings.display("lead_office", "security_office", "zh") == "保卫处"
    assert settings.display("month_cutoff_day", 0, "zh") == "自然月"
    assert settings.display("month_cutoff_day", 27, "zh") == "每月27日"


@pytest.mark.parametrize("text", ["30min", "-PT30M", "PT0M", "PT", "P1M", "PT0.5H", "P400D", ""])
def test_bad_durations_are_refused(text):
    with pytest.raises(settings.Invalid):
        settings.canonical_duration(text)


@pytest.mark.parametrize(("key", "raw", "words"), [
    ("due.stop_payment", "-PT30M", "negative"),
    ("due.talk_ongoing", "30min", "not an ISO 8601 duration"),
    ("due.talk", {"red": "30min", "orange": "PT24H", "yellow": "PT72H"}, "red: '30min'"),
    ("session_idle_timeout", "PT0S", "longer than zero"),
    ("lead_office", "police_station", "'police_station' is not one of"),
    ("month_cutoff_day", "31", "from 1 to 28"),
    ("parent_contact_attempts", "-1", "from 1 to 10"),
    ("followup_visits", "red=4 orange=2", "yellow"),
    ("term_start_dates", "2025-09-31", "not a date"),
    ("fraud_free_min_app_signup_pct", "120", "from 0 to 100"),
])
def test_a_bad_value_is_refused_naming_the_field_and_nothing_changes(people, key, raw, words):
    before = settings.get(key)
    with pytest.raises(ValidationFailed) as caught:
        settings_admin.change(key, raw, "学校决定", ADMIN, people.admin.id)
    assert words in " ".join(caught.value.errors[key])
    assert db.session.get(Setting, key) is None
    assert _changes() == 0
    assert settings.get(key) == before


def test_an_empty_reason_is_refused(people):
    for reason in ("", "   ", None):
        with pytest.raises(ValidationFailed) as caught:
            settings_admin.change("due.talk_ongoing", "PT20M", reason, ADMIN, people.admin.id)
        assert list(caught.value.errors) == ["reason"]
    assert db.session.get(Setting, "due.talk_ongoing") is None and _changes() == 0


def test_an_unknown_key_and_an_unchanged_value_are_refused(people):
    with pytest.raises(ValidationFailed) as unknown:
        settings_admin.change("due.nap", "PT1H", "why", ADMIN, people.admin.id)
    assert "unknown setting 'due.nap'" in unknown.value.errors["key"][0]
    with pytest.raises(ValidationFailed) as same:
        settings_admin.change("lead_office", "student_affairs", "why", ADMIN, people.admin.id)
    assert "current value" in same.value.errors["lead_office"][0]
    assert _changes() == 0


def test_messages_come_in_chinese_on_request(people):
    with pytest.raises(ValidationFailed) as caught:
        settings_admin.change("month_cutoff_day", "31", "", ADMIN, people.admin.id, lang="zh")
    assert "1到28" in caught.value.errors["month_cutoff_day"][0]
    assert caught.value.errors["reason"] == ["请填写修改理由"]


def test_a_change_is_stored_audited_and_read_back(people):
    actor = audit.Actor(people.admin.id, "admin", "admin", "127.0.0.1")
    result = settings_admin.change("due.talk", "red=PT2H, orange=PT12H, yellow=PT48H",
                                   "  领导小组要求缩短谈话时限 ", actor, people.admin.id)
    new = {"red": "PT2H", "orange": "PT12H", "yellow": "PT48H"}
    assert result.new == new and result.reason == "领导小组要求缩短谈话时限"
    assert settings.get("due.talk") == new
    row = db.session.get(Setting, "due.talk")
    assert json.loads(row.value) == new and row.updated_by == people.admin.id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "setting_changed"))
    assert json.loads(event.detail) == {
        "key": "due.talk", "new": new, "reason": "领导小组要求缩短谈话时限",
        "old": {"red": "PT4H", "orange": "PT24H", "yellow": "PT72H"}}
    assert event.actor_id == people.admin.id and event.actor_role == "admin"
    assert audit.verify(db.session).ok


def test_every_change_is_its_own_audit_event(people):
    settings_admin.change("month_cutoff_day", "27", "上报截止28日前", ADMIN, people.admin.id)
    settings_admin.change("month_cutoff_day", "0", "恢复自然月", ADMIN, people.admin.id)
    details = [json.loads(d) for d in db.session.scalars(
        select(AuditEvent.detail).where(AuditEvent.event_type == "setting_changed")
        .order_by(AuditEvent.seq))]
    assert [(d["old"], d["new"], d["reason"]) for d in details] == [
        (0, 27, "上报截止28日前"), (27, 0, "恢复自然月")]
    assert settings.get("month_cutoff_day") == 0


def test_a_changed_due_time_reaches_bpmn_scripts(people):
    due_time = standard_functions(settings.get)["due_time"]
    assert due_time("talk", "red") == "PT4H"
    settings_admin.change("due.talk", {"red": "PT1H", "orange": "PT24H", "yellow": "PT72H"},
                          "试行", ADMIN, people.admin.id)
    assert standard_functions(settings.get)["due_time"]("talk", "red") == "PT1H"
    assert standard_functions(settings.get)["due_time"]("talk", "orange") == "PT24H"
    flat = standard_functions(settings.get)
    settings_admin.change("due.warning_reach", "PT20M", "试行", ADMIN, people.admin.id)
    assert flat["due_time"]("warning_reach") == "PT20M"
    assert flat["setting"]("due.warning_reach")["red"] == "PT20M"


def test_changing_the_lead_office_says_open_tasks_stay(people):
    result = settings_admin.change("lead_office", "security_office", "按方案由保卫处牵头",
                                   ADMIN, people.admin.id)
    assert settings.lead_office_role() == "security_office"
    assert "Open tasks already assigned stay where they are" in result.note("en")
    assert "已分派的待办任务仍留在原处理部门" in result.note("zh")
    info = settings_admin.describe("lead_office", "zh")
    assert info.note and info.display == "保卫处" and info.default_display == "学生处"


def test_get_returns_copies_and_reads_each_transaction_afresh(people):
    value = settings.get("due.talk")
    value["red"] = "PT1M"
    assert settings.get("due.talk")["red"] == "PT4H"
    db.session.add(Setting(key="parent_contact_attempts", value="5"))
    db.session.commit()
    assert settings.get("parent_contact_attempts") == 5


def test_an_invalid_stored_value_falls_back_to_the_default(people):
    db.session.add(Setting(key="due.talk_ongoing", value=json.dumps({"red": "soon"})))
    db.session.commit()
    assert settings.get("due.talk_ongoing") == {"red": "PT30M", "orange": "PT30M",
                                                "yellow": "PT30M"}


def test_describe_all_gives_value_default_meaning_and_last_change(people):
    settings_admin.change("academic_year_start_month", "8", "学年8月开始", ADMIN, people.admin.id)
    infos = {i.key: i for i in settings_admin.describe_all("zh")}
    assert set(infos) == set(settings.REGISTRY)
    month = infos["academic_year_start_month"]
    assert (month.value, month.default, month.display, month.is_default) == (8, 9, "8月", False)
    assert month.changed_by == people.admin.display_name and month.changed_at is not None
    assert month.group_label == "统计周期" and "学年" in month.meaning
    english = {i.key: i for i in settings_admin.describe_all("en")}
    assert english["due.talk"].meaning.startswith("Time for the counselor")
    assert english["due.talk"].changed_by is None
    groups = [g for g, _, _ in settings_admin.grouped(list(infos.values()))]
    assert groups == ["due", "warnings", "screening", "triage", "lead_office", "periods",
                      "fraud_free", "sessions"]


# -- the command line -------------------------------------------------------------------


@pytest.fixture
def cli(people, app, cli_database):
    db.session.commit()

    def run(*args: str):
        result = CliRunner().invoke(settings_group, list(args), catch_exceptions=False)
        db.session.rollback()  # see what the command committed
        return result
    return run


def test_cli_list_and_get(cli):
    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert "due.talk = " in listed.output and "lead_office = \"student_affairs\"" in listed.output
    assert "Talk with the student: red 4 hours; orange 24 hours; yellow 72 hours" in listed.output
    got = cli("get", "due.talk")
    assert json.loads(got.output) == {"orange": "PT24H", "red": "PT4H", "yellow": "PT72H"}
    verbose = cli("--lang", "zh", "get", "month_cutoff_day", "-v")
    assert verbose.output.splitlines()[:2] == ["0", "月度截止日: 自然月"]


def test_cli_set_changes_and_audits(cli):
    result = cli("set", "lead_office", "security_office", "--reason", "按方案由保卫处牵头")
    assert result.exit_code == 0, result.output
    assert "Student affairs office → Security office" in result.output
    assert "Open tasks already assigned stay where they are" in result.output
    assert settings.get("lead_office") == "security_office"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.event_type == "setting_changed"))
    assert event.actor.startswith("cli:") and json.loads(event.detail)["new"] == "security_office"
    listed = cli("list").output
    assert 'lead_office = "security_office" *' in listed and "changed by cli" in listed


@pytest.mark.parametrize(("args", "message"), [
    (["due.talk", "red=30min,orange=PT24H,yellow=PT72H", "--reason", "x"],
     "refused: due.talk: red: '30min' is not an ISO 8601 duration"),
    (["month_cutoff_day", "31", "--reason", "x"], "refused: month_cutoff_day: 31: must be 0"),
    (["lead_office", "police", "--reason", "x"], "refused: lead_office: 'police' is not one of"),
    (["due.talk_ongoing", "PT20M"], "refused: reason: give the reason"),
    (["due.nap", "PT1H", "--reason", "x"], "refused: key: unknown setting 'due.nap'"),
])
def test_cli_set_refuses_bad_input_and_changes_nothing(cli, args, message):
    result = cli("set", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(Setting)) == 0
    assert _changes() == 0


def test_cli_get_of_an_unknown_key_exits_1(cli):
    result = cli("get", "nope")
    assert result.exit_code == 1 and "unknown setting 'nope'" in result.output
