"""``manage.py bench_chat`` against real daphne processes, with tiny numbers.

These check that the benchmark runs and counts right, never how fast
anything is: the figures are printed (``pytest -s``) for whoever wants them.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from bench.runner import BenchConfig, run_against
from bench.server import RunningServer, describe_stack
from tests.servers import Daphne, manage, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ZERO = ("lost", "duplicated", "out_of_order", "failed", "unacked")
SYNC_ZERO = ("missing_in_sync", "mismatched_in_sync", "duplicated_in_sync", "seq_gaps")


def assert_nothing_lost(load: dict[str, Any], synced: bool) -> None:
    check = load["correctness"]
    assert check["ok"], check
    for key in ZERO + (SYNC_ZERO if synced else ()):
        assert check[key] == 0, (key, check)
    assert check["received"] == check["acked"]


def test_bench_chat_on_its_own_daphne_reports_both_targets_and_loses_nothing(tmp_path) -> None:
    out = io.StringIO()
    call_command(
        "bench_chat",
        "--pairs",
        "2",
        "--messages",
        "15",
        "--window",
        "3",
        "--warmup",
        "3",
        "--idle",
        "10",
        "--group-members",
        "8",
        "--group-online",
        "4",
        "--group-messages",
        "6",
        "--group-warmup",
        "2",
        "--idle-tabs",
        "--rounds",
        "2",
        "--plot",
        str(tmp_path / "charts"),
        "--label",
        "this-branch",
        "--json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert_charts_drawn(tmp_path / "charts", result)
    print(json.dumps({k: result[k] for k in ("ratio", "group_ratio", "idle", "server_peak_rss_kb")}, indent=1))

    assert result["ok"] is True
    assert set(result["load"]) == {"linkup", "relay"}
    for name, load in result["load"].items():
        assert load["sent"] == load["acked"] == load["delivered"] == 2 * 15
        assert load["latency"]["count"] == 30
        latency = load["latency"]
        assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        assert load["throughput_msg_s"] > 0
        assert_nothing_lost(load, synced=name == "linkup")
    assert result["load"]["linkup"]["correctness"]["synced"] == 2 * (15 + 3)
    # The recipients on ws/chat/ confirm what they got, coalesced: at least once, never more than once a message.
    assert 1 <= result["load"]["linkup"]["correctness"]["received_frames"] <= 2 * (15 + 3)
    assert {"throughput", "p99", "server_cpu_per_msg"} == set(result["ratio"])
    assert all(value > 0 for value in result["ratio"].values())
    # --rounds 2: the ratios again, the relay going first; the first round's are the main figures.
    assert result["rounds"]["ok"] is True
    for name in ("throughput", "p99"):
        rounds = result["rounds"][name]
        assert rounds["rounds"] == 2 and rounds["values"][0] == result["ratio"][name]
        assert all(value > 0 for value in rounds["values"])
        assert min(rounds["values"]) <= rounds["median"] <= max(rounds["values"])
    # ... and the group's fan-out p99 ratio again, the first round's being the main figure.
    group_rounds = result["group_rounds"]
    assert group_rounds["ok"] is True and group_rounds["fanout_p99"]["rounds"] == 2
    assert group_rounds["fanout_p99"]["values"][0] == result["group_ratio"]["fanout_p99"]
    assert all(value > 0 for value in group_rounds["fanout_p99"]["values"])
    assert set(result["idle"]) == {"linkup", "relay"}
    for idle in result["idle"].values():
        assert idle["opened"] == 10 and idle["failed"] == 0
        assert idle["rss_before_kb"] > 0 and idle["rss_after_kb"] > 0
    # LinkUp's idle sockets as tabs (chat + bell), each answering one heartbeat; the relay has no heartbeat.
    beat = result["idle"]["linkup"]["heartbeat"]
    assert result["idle"]["linkup"]["tabs"] and beat["pings"] == 10 and beat["failed"] == 0
    assert beat["server_cpu_ms_per_socket"] is not None and result["idle"]["relay"]["heartbeat"] is None
    assert result["server_peak_rss_kb"] > 0
    assert_group_run_reached_every_recipient_once(result)
    # The embedded default, or PostgreSQL / Redis when the suite runs with DATABASE_URL / REDIS_URL;
    # the search indexer beside daphne as scripts/start runs it (bench_chat's default).
    assert result["stack"] == describe_stack(dict(os.environ)) | {"search_indexer": "worker"}


def assert_charts_drawn(directory: Path, result: dict[str, Any]) -> None:
    """--plot kept the run (with its --label) and drew its latency, memory and rounds charts as PNG images."""
    [kept] = (directory / "runs").glob("*.json")
    run = json.loads(kept.read_text())
    assert run["run_id"] == result["run_id"] and run["label"] == "this-branch"
    for name in ("latency-vs-load.png", "memory-vs-sockets.png", "rounds.png"):
        image = (directory / name).read_bytes()
        assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 10_000, name


def assert_group_run_reached_every_recipient_once(result: dict[str, Any]) -> None:
    assert set(result["group"]) == {"linkup", "relay"}
    for name, group in result["group"].items():
        assert group["sent"] == group["acked"] == 6
        assert group["recipients"] == 4 and group["deliveries"] == 6 * 4
        assert group["fanout"]["count"] == 6 * 4 and group["last_recipient"]["count"] == 6
        assert 0 < group["fanout"]["p50_ms"] <= group["fanout"]["p99_ms"] <= group["last_recipient"]["max_ms"]
        check = group["correctness"]
        assert check["ok"], check
        assert check["deliveries_expected"] == check["received"] == (6 + 2) * 4
        for key in ZERO:
            assert check[key] == 0, (name, key, check)
    linkup = result["group"]["linkup"]["correctness"]
    assert linkup["synced"] == 6 + 2
    for key in SYNC_ZERO:
        assert linkup[key] == 0, (key, linkup)
    assert {"fanout_p50", "fanout_p99", "last_recipient_p99", "server_cpu_per_msg"} == set(result["group_ratio"])


def test_bench_of_the_one_to_one_view_against_a_running_server_without_the_relay(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    manage(env, "migrate", "--no-input", "-v", "0")
    server = Daphne(env).start()
    try:
        config = BenchConfig(
            pairs=1,
            messages=10,
            window=1,
            idle=0,
            warmup=2,
            relay=False,
            password="pw-for-the-bench",
            endpoint="direct",
        )
        # Seeded through bench_users with the server's environment (its database).
        target = RunningServer(server.base_url, env=env)
        result = asyncio.run(run_against(target, config, {"database": "?", "channel_layer": "?"}))
    finally:
        server.stop()
    assert result["ok"] is True
    assert set(result["load"]) == {"linkup"} and "ratio" not in result and result["group"] == {}
    assert result["params"]["endpoint"] == "direct"
    assert_nothing_lost(result["load"]["linkup"], synced=True)
    # That view marks delivery itself: its client confirms nothing.
    assert result["load"]["linkup"]["correctness"]["received_frames"] == 0
    # Without a pid there is nothing to read memory from, and the report says so.
    assert result["load"]["linkup"]["server_peak_rss_kb"] is None
