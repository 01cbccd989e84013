"""The operations drill: SMTP stopped mid-run is seen in /metrics and loses no email."""

from __future__ import annotations

import asyncio

import pytest

from bench.drill import DrillConfig, run_drill

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.stack_independent]


def test_an_smtp_outage_opens_the_breaker_queues_the_emails_and_loses_none() -> None:
    lines: list[str] = []
    result = asyncio.run(run_drill(DrillConfig(pairs=2, duration=9, rate=4), lines.append))
    print("\n".join(lines))
    assert result["emails_queued"] > 0
    assert result["emails_lost"] == 0 and result["emails_duplicated"] == 0
    assert result["retries"]["retried"] > 0
    assert result["breaker_transitions"]["open"] >= 1 and result["breaker_transitions"]["closed"] >= 1
    assert result["admin_error_counts"].get("delivery_error", 0) >= 1
    assert result["healthz"]["status"] == "ok"
