"""What bench/load.py prints: each run's figures against the targets, and their medians."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.load_client import Figures
from bench.stats import pct

APP = "app (gunicorn)"


def report(figures: Figures, seconds: float) -> None:
    """Print what the clients of one timed run measured, and whether it met the target."""
    total = sum(len(v) for v in figures.ms.values())
    done = len(figures.ms["completion"])
    print(f"{total:,} requests in {seconds:.0f} s: {total / seconds:.0f} requests/s; "
          f"{done:,} completions: {done / seconds:.1f} completions/s")
    for kind, ms in figures.ms.items():
        if ms:
            print(f"  {kind:<11} n={len(ms):>6}  p50 {statistics.median(ms):6.1f} ms  "
                  f"p95 {pct(ms, 95):6.1f} ms  p99 {pct(ms, 99):6.1f} ms  max {max(ms):6.0f} ms")
    errors = sum(figures.errors.values())
    print(f"errors: {errors} {figures.errors or ''}  (reconnects after the server closed an "
          f"idle connection: {figures.retries})")
    if figures.ran_out:
        print("NOTE: some clients ran out of open tasks before the time was up: seed more "
              "cases (--cases) or run for less time")
    ok = done / seconds >= 100 and figures.ms["completion"] and pct(
        figures.ms["completion"], 99) <= 150 and errors == 0
    print(f"target >= 100 completions/s with p99 <= 150 ms and 0 errors: "
          f"{'met' if ok else 'MISSED'}")


def report_lag(lags: list[float], unfired: int) -> None:
    """Print how late the workers fired the probe escalations, against the 5 s target."""
    if lags:
        print(f"timer lag ({len(lags)} probe escalations): p50 {statistics.median(lags):.2f} s  "
              f"p95 {pct(lags, 95):.2f} s  p99 {pct(lags, 99):.2f} s  max {max(lags):.2f} s; "
              f"due but not fired: {unfired}")
    ok = bool(lags) and pct(lags, 99) <= 5 and unfired == 0
    print(f"target timer lag p99 <= 5 s: {'met' if ok else 'MISSED'}")


@dataclass
class Run:
    """One timed run's figures and CPU shares."""

    figures: Figures
    seconds: float
    cpu_before: dict[str, float]
    cpu_after: dict[str, float]

    def per_completion(self, group: str) -> float:
        """Return the group's CPU ms per completion."""
        done = max(len(self.figures.ms["completion"]), 1)
        return (self.cpu_after[group] - self.cpu_before[group]) / done * 1000


def summary(runs: list[Run]) -> None:
    """Print each run's headline figures and their medians (the machine's speed varies)."""
    rates = [len(r.figures.ms["completion"]) / r.seconds for r in runs]
    p99s = [pct(r.figures.ms["completion"], 99) for r in runs if r.figures.ms["completion"]]
    app_ms = [r.per_completion(APP) for r in runs]

    def listed(values: list[float], digits: int) -> str:
        if not values:
            return "none"
        return (f"{', '.join(f'{x:.{digits}f}' for x in values)} "
                f"(median {statistics.median(values):.{digits}f})")

    print(f"\n{len(runs)} runs: completions/s {listed(rates, 1)}; completion p99 ms "
          f"{listed(p99s, 0)}; app CPU ms per completion {listed(app_ms, 1)}")
