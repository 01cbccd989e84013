"""The benchmark's parts that need no server: percentiles, profiles, the relay and its route."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.management import CommandError, call_command
from django.test import override_settings

from bench.abuse import close_code
from bench.client import Ack, DirectProtocol, LinkUpProtocol, RelayProtocol, Synced, check_sync, index_of
from bench.flame import summarize
from bench.flood import frame_for
from bench.relay import bench_urlpatterns
from bench.stats import percentile, ratio, rounds_summary, summarize_latencies
from bench.users import seed
from messaging.routing import websocket_urlpatterns
from messaging.routing_validator import RoutingValidator, check_websocket_routes

from .support import ORIGIN


def test_rounds_without_the_relay_are_refused_before_anything_starts() -> None:
    with pytest.raises(CommandError, match="--rounds compares LinkUp with the relay"):
        call_command("bench_chat", "--no-relay", "--rounds", "3", "--pairs", "1", "--idle", "0")


def test_percentile_is_a_latency_that_was_observed() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_latency_summary_is_in_milliseconds_and_ordered() -> None:
    summary = summarize_latencies([0.003, 0.001, 0.002, 0.010])
    assert summary["count"] == 4
    assert summary["p50_ms"] == 2.0 and summary["max_ms"] == 10.0
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summarize_latencies([])["p99_ms"] is None


def test_ratio_of_missing_figures_is_none() -> None:
    assert ratio(50, 200) == 0.25
    assert ratio(None, 200) is None and ratio(50, 0) is None


def test_rounds_summary_gives_the_median_and_counts_the_rounds_that_met_the_goal() -> None:
    odd = rounds_summary([0.9, 0.7, 0.85], lambda value: value >= 0.8)
    even = rounds_summary([1.5, 2.5, 1.0, 3.0], lambda value: value <= 2)

    assert odd == {"values": [0.9, 0.7, 0.85], "median": 0.85, "met": 2, "rounds": 3}
    assert even["median"] == 2.0 and even["met"] == 2 and even["rounds"] == 4


def test_a_round_without_a_figure_counts_as_not_meeting_the_goal_and_is_left_out_of_the_median() -> None:
    summary = rounds_summary([None, 1.2, 1.4], lambda value: value <= 2)

    assert summary["median"] == 1.3 and summary["met"] == 2 and summary["rounds"] == 3
    assert rounds_summary([None], lambda value: True)["median"] is None


def test_profile_summary_counts_self_and_cumulative_and_leaves_waiting_out() -> None:
    raw = "\n".join(
        [
            "thread (1): MainThread;Server.run (daphne/server.py);handle (app/a.py);encode (json/encoder.py) 6",
            "thread (1): MainThread;Server.run (daphne/server.py);handle (app/a.py) 2",
            "thread (2): Worker;Thread.run (threading.py);_worker (concurrent/futures/thread.py);query (db/q.py) 2",
            "thread (1): MainThread;Server.run (daphne/server.py);EpollSelector.select (selectors.py) 40",
        ]
    )
    summary = summarize(raw)
    assert summary["samples"] == 10 and summary["waiting"] == 40
    assert summary["self"][0] == {"function": "encode (json/encoder.py)", "samples": 6, "percent": 60.0}
    cumulative = {e["function"]: e["samples"] for e in summary["cumulative"]}
    assert cumulative["handle (app/a.py)"] == 8 and cumulative["query (db/q.py)"] == 2
    assert "Server.run (daphne/server.py)" not in cumulative  # plumbing every sample passes through
    threads = {e["function"]: e["samples"] for e in summary["threads"]}
    assert threads == {"the event loop": 8, "an executor thread (sync_to_async / database)": 2}


def test_protocols_read_acks_and_deliveries() -> None:
    event = {"conversation": 3, "id": 9, "seq": 4, "kind": "message", "client_id": "r-1-7"}
    linkup = LinkUpProtocol()
    assert json.loads(linkup.outgoing(3, "r-1-7", "x")) == {
        "type": "message",
        "conversation": 3,
        "content": "x",
        "client_id": "r-1-7",
    }
    ack = linkup.sender_event({"type": "ack", "client_id": "r-1-7", "event": event})
    assert (ack.client_id, ack.message_id, ack.seq) == ("r-1-7", 9, 4)
    assert linkup.sender_event({"type": "error", "code": "rate_limited", "client_id": "r-1-7"}).code == "rate_limited"
    delivery = linkup.delivery({"type": "event", "event": event})
    assert (delivery.order, delivery.conversation) == (4, 3)
    assert linkup.delivery({"type": "event", "event": {**event, "kind": "renamed", "client_id": "x"}}) is None
    assert linkup.delivery({"type": "receipt", "conversation": 3}) is None

    message = {"id": 9, "seq": 4, "client_id": "r-1-7"}
    direct = DirectProtocol()
    ack = direct.sender_event({"type": "ack", "client_id": "r-1-7", "message": message})
    assert (ack.client_id, ack.message_id, ack.seq) == ("r-1-7", 9, 4)
    assert direct.delivery({"type": "message", "message": message}).order == 4
    assert direct.delivery({"type": "status"}) is None

    relay = RelayProtocol()
    assert relay.sender_event({"type": "message", "content": "x", "client_id": "r-1-7"}).client_id == "r-1-7"
    assert relay.delivery({"type": "message", "content": "x", "client_id": "r-1-7"}).order == index_of("r-1-7") == 7


def test_final_sync_check_counts_missing_duplicated_and_gaps() -> None:
    acked = {f"p-{i}": Ack(f"p-{i}", 100 + i, 10 + i) for i in range(1, 4)}
    whole = [Synced(f"p-{i}", 100 + i, 10 + i) for i in range(1, 4)]
    clean = check_sync(whole, acked, "p", 10)
    assert clean["synced"] == 3 and clean["missing_in_sync"] == clean["seq_gaps"] == clean["duplicated_in_sync"] == 0
    holed = check_sync([whole[0], whole[2]], acked, "p", 10)
    assert holed["missing_in_sync"] == 1 and holed["seq_gaps"] == 1
    assert check_sync([*whole, whole[2]], acked, "p", 10)["duplicated_in_sync"] == 1


@pytest.mark.django_db
def test_seeding_makes_the_pairs_conversations_and_one_group_however_often_it_runs() -> None:
    from django.contrib.auth import get_user_model

    from messaging.models import Conversation, Participant

    first = seed(2, "pw", group_members=6, group_online=3)
    again = seed(2, "pw", group_members=6, group_online=3)
    assert [p["conversation"] for p in first["pairs"]] == [p["conversation"] for p in again["pairs"]]
    assert first["group"]["conversation"] == again["group"]["conversation"]
    group = Conversation.objects.get(pk=first["group"]["conversation"])
    assert group.kind == Conversation.Kind.GROUP and group.member_count == 6
    assert Participant.objects.filter(conversation=group, left_seq__isnull=True).count() == 6
    assert first["group"]["sender"] == "bench-g1" and first["group"]["online"] == ["bench-g2", "bench-g3", "bench-g4"]
    assert set(first["group"]["cookies"]) == {"bench-g1", "bench-g2", "bench-g3", "bench-g4"}
    # Each cookie is a live session of its user.
    from importlib import import_module

    from django.conf import settings

    key = first["group"]["cookies"]["bench-g3"].split("=", 1)[1]
    user_id = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key).load()["_auth_user_id"]
    assert get_user_model().objects.get(pk=user_id).username == "bench-g3"


def test_the_relay_is_not_routed_unless_enabled() -> None:
    assert bench_urlpatterns() == []
    assert not any("bench" in str(route.pattern) for route in websocket_urlpatterns)


@override_settings(MESSAGING_BENCH_RELAY=True)
def test_the_routes_with_the_relay_pass_the_routing_validator() -> None:
    routes = list(websocket_urlpatterns) + bench_urlpatterns()
    assert len(routes) == len(websocket_urlpatterns) + 1
    assert RoutingValidator().validate(routes) == []
    with override_settings(WEBSOCKET_URLPATTERNS="tests.test_bench_parts.ROUTES_WITH_RELAY"):
        assert check_websocket_routes() == []


ROUTES_WITH_RELAY = list(websocket_urlpatterns) + bench_urlpatterns(enabled=True)


def relay_communicator(cookie: str | None) -> WebsocketCommunicator:
    from channels.auth import AuthMiddlewareStack
    from channels.security.websocket import AllowedHostsOriginValidator

    app = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(bench_urlpatterns(enabled=True))))
    headers = [(b"origin", ORIGIN)] + ([(b"cookie", f"sessionid={cookie}".encode())] if cookie else [])
    return WebsocketCommunicator(app, "/ws/bench/relay/room-1/", headers=headers)


@pytest.mark.django_db(transaction=True)
async def test_the_relay_refuses_an_anonymous_socket() -> None:
    comm = relay_communicator(None)
    connected, _ = await comm.connect(timeout=3)
    assert not connected


async def test_the_relay_forwards_text_verbatim_to_every_socket_of_the_room(alice: Any, bob: Any, cookies: Any) -> None:
    from channels.db import database_sync_to_async

    sender = relay_communicator(await database_sync_to_async(cookies)(alice))
    recipient = relay_communicator(await database_sync_to_async(cookies)(bob))
    assert (await sender.connect(timeout=3))[0] and (await recipient.connect(timeout=3))[0]
    text = '{"type": "message", "content": "not validated", "client_id": "c-1-0"}'
    await sender.send_to(text_data=text)
    assert await recipient.receive_from(timeout=3) == text
    assert await sender.receive_from(timeout=3) == text
    await sender.disconnect()
    await recipient.disconnect()


def test_manage_py_check_passes_with_the_relay_mounted(tmp_path: Any) -> None:
    from tests.servers import manage, server_env

    out = manage(server_env(tmp_path, MESSAGING_BENCH_RELAY="1"), "check")
    assert "no issues" in out


def test_the_flood_cycles_through_every_frame_kind_a_client_may_send() -> None:
    frames = [frame_for(index, 7) for index in range(9)]
    kinds = {json.loads(text)["type"] if text.startswith('{"') else "garbage" for text in frames}
    assert kinds == {"message", "ping", "typing", "sync", "history", "received", "conversations", "garbage"}
    repeats = [json.loads(frame_for(index, 7))["client_id"] for index in (5, 14)]
    assert repeats[0] == repeats[1]
    new = [json.loads(frame_for(index, 7))["client_id"] for index in (0, 9)]
    assert new[0] != new[1]


def test_a_slow_readers_close_code_is_found_behind_its_unread_frames() -> None:
    text = struct.pack("!BB", 0x81, 126) + struct.pack("!H", 300) + b"x" * 300
    close = struct.pack("!BB", 0x88, 2) + struct.pack("!H", 4408)
    assert close_code(text + text + close) == 4408
    assert close_code(text + close[:3]) is None
    assert close_code(text) is None
