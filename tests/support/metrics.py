"""The operator's metrics as ``/metrics`` shows them, read in a test."""

from __future__ import annotations

from prometheus_client import REGISTRY


def metric(name: str, **labels: str) -> float:
    """One sample of a Prometheus metric in this process; 0 when it was never moved."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
