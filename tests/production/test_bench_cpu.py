"""bench/cpu.py says how much CPU each group of processes used between two snapshots."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bench import cpu

# spin 0.4 s of CPU, then stay alive (an ended process is no longer counted)
SPIN = ("import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
        "time.sleep(30)\n")


def test_a_snapshot_counts_a_process_tree_by_its_root_and_a_process_alone():
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                               f"subprocess.run([sys.executable, '-c', {SPIN!r}])\n"
                               "time.sleep(30)"], start_new_session=True)
    try:
        groups = {"tree": ("tree", [parent.pid]), "root alone": ("pid", parent.pid),
                  "me": ("pid", os.getpid())}
        before = cpu.snapshot(groups)
        deadline = time.monotonic() + 30
        after = before
        while after["tree"] - before["tree"] < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
            after = cpu.snapshot(groups)
        lines = cpu.report(before, after, 1.0, 10, "thing")
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the child too
        parent.wait()
    assert after["tree"] - before["tree"] >= 0.3
    assert after["root alone"] - before["root alone"] < 0.2  # the child spun, not the root
    assert lines[0].startswith(f"CPU over 1 s on {os.cpu_count()} cores")
    assert lines[1].split()[0] == "tree" and "ms per thing" in lines[1]
