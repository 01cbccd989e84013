"""``manage.py bench_storm`` against a real daphne it kills and restarts, with tiny numbers.

They check that the storm runs and counts right, never how fast anything is:
the figures are printed (``pytest -s``) for whoever wants them.
"""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from bench.storm import BASE_DELAY, MAX_DELAY, READY_TIMEOUT, retry_delay

SOCKET_JS = Path(settings.BASE_DIR) / "messaging" / "static" / "messaging" / "js" / "socket.js"


def test_the_storm_clients_back_off_with_the_browsers_own_defaults() -> None:
    defaults = re.search(r"baseDelay = (\d+), maxDelay = (\d+),.*pongTimeout = (\d+)", SOCKET_JS.read_text())
    assert defaults is not None, "socket.js's ReconnectingSocket defaults moved: update bench/storm.py with them"
    assert [int(v) for v in defaults.groups()] == [BASE_DELAY * 1000, MAX_DELAY * 1000, READY_TIMEOUT * 1000]


@pytest.mark.parametrize(
    ("failures", "low", "high"), [(1, 0.25, 0.5), (2, 0.5, 1.0), (5, 4.0, 8.0), (6, 5.0, 10.0), (40, 5.0, 10.0)]
)
def test_a_retry_waits_half_its_ceiling_plus_a_random_half_capped(failures: int, low: float, high: float) -> None:
    rng = random.Random(failures)
    delays = [retry_delay(failures, rng) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    assert max(delays) - min(delays) > (high - low) / 2  # jittered, not one fixed delay


@pytest.mark.e2e
@pytest.mark.slow
def test_bench_storm_brings_every_socket_back_after_a_sigkill_and_loses_nothing() -> None:
    out = io.StringIO()
    call_command(
        "bench_storm",
        "--clients",
        "12",
        "--pairs",
        "2",
        "--senders",
        "1",
        "--send-rate",
        "10",
        "--before-kill",
        "1",
        "--json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    print(json.dumps({k: v for k, v in result.items() if k not in ("back", "synced")}, indent=1))

    assert result["ok"] is True
    assert result["opened"] == 12 and result["chat"] == result["notifications"] == 6
    assert result["not_back"] == result["not_synced"] == 0
    assert 0 < result["restarted_after_s"] <= result["all_back_s"] <= result["all_synced_s"]
    assert result["acked_before_kill"] > 0 and result["senders_checked"] == 1
    assert result["lost"] == result["duplicated"] == result["never_acked"] == result["missed_by_tabs"] == 0
    # The server was really gone: the first retries found nothing listening.
    assert result["failed_attempts"].get("connection refused (no server listening)", 0) > 0
    assert result["server_peak_rss_kb"] > 0 and result["server_cpu_s"] > 0
