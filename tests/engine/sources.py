"""Small BPMN and DMN sources for the parsing tests, and a shortcut to check one file."""

from __future__ import annotations

from caseflow.engine.parsing import FileReport, check_files
from tests.bpmn_snippets import HEAD


def bpmn(body: str, executable: str = "true") -> bytes:
    return (f'{HEAD}<bpmn:process id="P" isExecutable="{executable}">\n{body}\n'
            "</bpmn:process>\n</bpmn:definitions>\n").encode()


def flow(fid: str, src: str, dst: str, condition: str | None = None) -> str:
    cond = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}">{cond}'
            "</bpmn:sequenceFlow>")


def timer_process(expression: str) -> bytes:
    return bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "U")}
<bpmn:userTask id="U"/>
{flow("f2", "U", "E")}
<bpmn:endEvent id="E"/>
<bpmn:boundaryEvent id="Timer_1" attachedToRef="U" cancelActivity="false">
  <bpmn:timerEventDefinition id="TED_1">
    <bpmn:timeDuration>{expression}</bpmn:timeDuration>
  </bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
{flow("f3", "Timer_1", "E2")}
<bpmn:endEvent id="E2"/>""")


def rule_process(decision: str) -> bytes:
    return bpmn(f"""
<bpmn:startEvent id="S"/>
{flow("f1", "S", "BR")}
<bpmn:businessRuleTask id="BR">
  <bpmn:extensionElements>
    <spiffworkflow:calledDecisionId>{decision}</spiffworkflow:calledDecisionId>
  </bpmn:extensionElements>
</bpmn:businessRuleTask>
{flow("f2", "BR", "U")}
<bpmn:userTask id="U"/>
{flow("f3", "U", "E")}
<bpmn:endEvent id="E"/>""")


def dmn(*decisions: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="DRD" '
            'name="rules" namespace="http://caseflow.test">\n'
            + "\n".join(decisions) + "\n</definitions>\n").encode()


def decision(did: str, policy: str = 'hitPolicy="FIRST"',
             rules: tuple[tuple[str, str], ...] = (("&gt; 10", '"high"'), ("-", '"low"'))) -> str:
    rows = "\n".join(
        f'<rule id="{did}_r{i}"><inputEntry id="{did}_i{i}"><text>{cell}</text></inputEntry>'
        f'<outputEntry id="{did}_o{i}"><text>{out}</text></outputEntry></rule>'
        for i, (cell, out) in enumerate(rules, 1))
    return (f'<decision id="{did}" name="{did}"><decisionTable id="{did}_t" {policy}>'
            f'<input id="{did}_in" label="amount"><inputExpression id="{did}_ie" typeRef="number">'
            f'<text>amount</text></inputExpression></input>'
            f'<output id="{did}_out" name="level" typeRef="string"/>{rows}'
            "</decisionTable></decision>")


def line_of(source: bytes, text: str) -> int:
    return next(i for i, line in enumerate(source.decode().splitlines(), 1) if text in line)


def one(name: str, data: bytes) -> FileReport:
    [report] = check_files({name: data})
    return report
