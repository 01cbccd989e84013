"""Latency percentiles and throughput, computed the same way for every target."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypedDict


class LatencySummary(TypedDict):
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values.

    Nearest rank, not interpolation: p99 of 100 samples is the 99th sample,
    a latency that was really observed.
    """
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_latencies(seconds: Sequence[float]) -> LatencySummary:
    values = sorted(seconds)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    return {
        "count": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p95_ms": ms(percentile(values, 95)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(values[-1] if values else None),
        "mean_ms": ms(sum(values) / len(values) if values else None),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


#: the goals a round's LinkUp / relay ratio is held to: throughput at least, p99 (and the group's fan-out p99) at most
THROUGHPUT_GOAL = 0.8
P99_GOAL = 2.0


def rounds_summary(values: Sequence[float | None], goal: Callable[[float], bool]) -> dict[str, Any]:
    """One ratio measured in several rounds: the values, their median, and how many rounds met ``goal``.

    On a shared machine a single round's ratio moves with whatever else ran
    during it; the median of rounds taken back to back moves less, and the
    count says how often the goal held (rounds without a figure count as
    not meeting it).
    """
    known = sorted(v for v in values if v is not None)
    middle = len(known) // 2
    median = (
        None if not known else known[middle] if len(known) % 2 else round((known[middle - 1] + known[middle]) / 2, 3)
    )
    return {
        "values": list(values),
        "median": median,
        "met": sum(1 for v in known if goal(v)),
        "rounds": len(values),
    }
