"""Where a bench's CPU went: seconds per group of processes, read from /proc (Linux).

A snapshot sums user and system time of each group's live processes (a group is the
processes started from some root pids, or those of one command name); two snapshots give
what each group used in between. Processes that end in between are not counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _processes() -> dict[int, tuple[int, str, float]]:
    """Return {pid: (parent pid, command name, CPU seconds)} of every readable process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        found[int(entry.name)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / TICK)
    return found


def _descendants(roots: Iterable[int], processes: dict[int, tuple[int, str, float]]) -> set[int]:
    tree, pending = set(), list(roots)
    while pending:
        pid = pending.pop()
        if pid in tree:
            continue
        tree.add(pid)
        pending.extend(p for p, (parent, _, _) in processes.items() if parent == pid)
    return tree


def snapshot(groups: dict[str, tuple[str, Any]]) -> dict[str, float]:
    """Return CPU seconds per group.

    A group is ("tree", root pids): those and their children; ("pid", pid): that one
    process alone; or ("name", command): every process of that name (e.g. "postgres").
    """
    processes = _processes()
    totals = {}
    for label, (kind, members) in groups.items():
        if kind == "name":
            pids = {p for p, (_, name, _) in processes.items() if name == members}
        elif kind == "pid":
            pids = {members}
        else:
            pids = _descendants(members, processes)
        totals[label] = sum(processes[p][2] for p in pids & processes.keys())
    return totals


def report(before: dict[str, float], after: dict[str, float], seconds: float,
           per: int, per_what: str) -> list[str]:
    """Return lines saying each group's CPU share of the machine, and its CPU per unit."""
    cores = os.cpu_count() or 1
    lines = [f"CPU over {seconds:.0f} s on {cores} cores ({cores * seconds:.0f} CPU-s):"]
    for label in before:
        used = after[label] - before[label]
        each = f", {used / per * 1000:.1f} ms per {per_what}" if per else ""
        lines.append(f"  {label:<26} {used:7.1f} s  {used / (cores * seconds):5.1%}{each}")
    return lines
