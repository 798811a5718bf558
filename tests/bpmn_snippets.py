"""Tiny BPMN documents written inline by tests."""

from __future__ import annotations

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'id="Defs" targetNamespace="http://bpmn.io/schema/bpmn">\n')


def script_process(process_id: str, script: str) -> bytes:
    """A process: start → script task running `script` → end."""
    return (HEAD + f'''<bpmn:process id="{process_id}" isExecutable="true">
  <bpmn:startEvent id="StartEvent"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:scriptTask id="Script" name="脚本"><bpmn:incoming>F1</bpmn:incoming>
    <bpmn:outgoing>F2</bpmn:outgoing><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
  <bpmn:endEvent id="EndEvent"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="F1" sourceRef="StartEvent" targetRef="Script" />
  <bpmn:sequenceFlow id="F2" sourceRef="Script" targetRef="EndEvent" />
</bpmn:process></bpmn:definitions>''').encode()


def gateway_process(process_id: str, condition: str) -> bytes:
    """A process: start → exclusive gateway whose condition is `condition` → ends."""
    return (HEAD + f'''<bpmn:process id="{process_id}" isExecutable="true">
  <bpmn:startEvent id="StartEvent"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
  <bpmn:exclusiveGateway id="Gw" default="F3"><bpmn:incoming>F1</bpmn:incoming>
    <bpmn:outgoing>F2</bpmn:outgoing><bpmn:outgoing>F3</bpmn:outgoing></bpmn:exclusiveGateway>
  <bpmn:endEvent id="EndA"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  <bpmn:endEvent id="EndB"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
  <bpmn:sequenceFlow id="F1" sourceRef="StartEvent" targetRef="Gw" />
  <bpmn:sequenceFlow id="F2" sourceRef="Gw" targetRef="EndA">
    <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"
      >{condition}</bpmn:conditionExpression>
  </bpmn:sequenceFlow>
  <bpmn:sequenceFlow id="F3" sourceRef="Gw" targetRef="EndB" />
</bpmn:process></bpmn:definitions>''').encode()
