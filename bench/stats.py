"""Figures the benches print: one percentile rule for all of them."""

from __future__ import annotations


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile of `values` (nearest rank; values need not be sorted)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
