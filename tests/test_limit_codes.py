"""Every limit its own error code: each allowance, driven past its limit, answers its code with ``retry_after`` and ``setting``.

Over the socket (the project's ASGI application through ``WebsocketCommunicator``)
every refusal keeps the socket open and never counts as a bad frame (each
test sets ``MESSAGING_BAD_FRAME_LIMIT`` to one, so a refusal counted as one
would close it), and nothing is stored. Over the HTTP API the same codes are
the 429 JSON body, with ``Retry-After``; the HTTP twins of the socket's
fetches draw from the same fetch allowances.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client, override_settings

from messaging import conf
from messaging.guards.work import WorkBudget, fetch_budget
from messaging.models import Event, Profile
from messaging.store.conversations import get_or_create_direct, member_of

pytestmark = pytest.mark.django_db(transaction=True)

ONE_BAD_FRAME = "1/60s"


@database_sync_to_async
def direct(a: Any, b: Any) -> int:
    return get_or_create_direct(a, b)[0].pk


@database_sync_to_async
def messages_stored() -> int:
    return Event.objects.filter(kind="message").count()


def message(conversation: int, client_id: str) -> dict[str, Any]:
    return {"type": "message", "conversation": conversation, "content": "hi", "client_id": client_id}


def assert_refusal(frame: dict[str, Any], code: str, setting: str) -> None:
    """The whole error frame of a refusal over an allowance."""
    assert frame["type"] == "error", frame
    assert (frame["code"], frame["setting"]) == (code, setting), frame
    assert frame["retry_after"] > 0 and setting in frame["detail"], frame


async def assert_still_open(socket: Any, conversation: int, probe: str) -> None:
    """The socket still answers: the refusal neither closed it nor counted as a bad frame.

    With ``MESSAGING_BAD_FRAME_LIMIT`` at one, one malformed frame is still
    answered; had the refusal counted as a bad one, this one would close the socket.
    """
    assert not socket.comm.future.done(), "the socket was closed"
    await socket.send_text("not json")
    assert (await socket.expect("error"))["code"] == "invalid_json"
    if probe == "message":
        await socket.send(message(conversation, "after-the-refusal"))
        assert (await socket.expect("ack"))["client_id"] == "after-the-refusal"
    else:
        await socket.send({"type": "ping", "ref": "still-open"})
        assert (await socket.expect("pong"))["ref"] == "still-open"


# --- The socket: one refusal per allowance ------------------------------------------------------

# setting, the frame that draws from it (for a conversation; the n-th sent), the code, how to probe afterwards
SOCKET_LIMITS: list[tuple[str, Callable[[int, int], dict[str, Any]], str, str]] = [
    ("MESSAGING_RATE_LIMIT", lambda c, n: message(c, f"mine-{n}"), "rate_limited", "ping"),
    ("MESSAGING_PING_RATE_LIMIT", lambda c, n: {"type": "ping"}, "ping_rate_limited", "message"),
    (
        "MESSAGING_TYPING_RATE_LIMIT",
        lambda c, n: {"type": "typing", "conversation": c, "is_typing": True},
        "typing_rate_limited",
        "ping",
    ),
    (
        "MESSAGING_REPORT_RATE_LIMIT",
        lambda c, n: {"type": "received" if n == 1 else "read", "conversation": c, "up_to": 1},
        "report_rate_limited",
        "ping",
    ),
    (
        "MESSAGING_FETCH_RATE_LIMIT",
        lambda c, n: {"type": "sync", "conversation": c, "after": 0},
        "fetch_rate_limited",
        "ping",
    ),
    ("MESSAGING_SEARCH_RATE_LIMIT", lambda c, n: {"type": "search", "q": "hello"}, "search_rate_limited", "ping"),
]


@pytest.mark.parametrize(("setting", "frame", "code", "probe"), SOCKET_LIMITS, ids=[s[2] for s in SOCKET_LIMITS])
async def test_each_socket_allowance_past_its_limit_answers_its_own_code_and_keeps_the_socket(
    alice, bob, open_socket, setting: str, frame: Callable[[int, int], dict[str, Any]], code: str, probe: str
) -> None:
    conversation = await direct(alice, bob)
    peer = await open_socket(bob, "/ws/chat/")
    await peer.send(message(conversation, "from-bob"))
    await peer.expect("ack")
    with override_settings(**{setting: "1/60s", "MESSAGING_BAD_FRAME_LIMIT": ONE_BAD_FRAME}):
        socket = await open_socket(alice, "/ws/chat/")
        await socket.send({**frame(conversation, 1), "ref": 1})
        await socket.send({**frame(conversation, 2), "ref": 2})
        refused = await socket.expect("error")
        assert_refusal(refused, code, setting)
        assert refused["ref"] == 2
        if code == "rate_limited":
            assert refused["client_id"] == "mine-2"
        await assert_still_open(socket, conversation, probe)
    # Nothing of the refused frame was stored: bob's message, alice's first (or her probe); her read cursor unmoved.
    assert await messages_stored() == (2 if code == "rate_limited" or probe == "message" else 1)
    assert (await database_sync_to_async(member_of)(alice.pk, conversation)).read_seq == 0


@contextlib.asynccontextmanager
async def database_thread_held(at_most: float = 2.0) -> AsyncIterator[None]:
    """The database thread busy for the block, so what a socket sends stays in flight (a refusal needs no database).

    Let go at the end of the block, or after ``at_most`` seconds should the
    block still be waiting then: on its receive timeout the test communicator
    cancels the consumer and waits for it, which would otherwise wait on the
    held thread for ever instead of failing the test.
    """
    release = threading.Event()
    holder = asyncio.ensure_future(database_sync_to_async(release.wait)())
    await asyncio.sleep(0.05)
    safety = asyncio.get_running_loop().call_later(at_most, release.set)
    try:
        yield
    finally:
        release.set()
        safety.cancel()
        await holder


@override_settings(MESSAGING_MAX_IN_FLIGHT=1, MESSAGING_BAD_FRAME_LIMIT=ONE_BAD_FRAME)
async def test_a_message_past_the_sockets_in_flight_cap_is_too_many_in_flight_and_never_queued(
    alice, bob, open_socket
) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    # The database thread held, so the first message stays in flight while the second arrives.
    async with database_thread_held():
        await socket.send(message(conversation, "first"))
        await socket.send(message(conversation, "second"))
        refused = await socket.expect("error")
    assert_refusal(refused, "too_many_in_flight", "MESSAGING_MAX_IN_FLIGHT")
    assert refused["client_id"] == "second"
    assert (await socket.expect("ack"))["client_id"] == "first"
    await assert_still_open(socket, conversation, "ping")
    assert await messages_stored() == 1


@override_settings(MESSAGING_MAX_IN_FLIGHT=2, MESSAGING_BAD_FRAME_LIMIT=ONE_BAD_FRAME)
async def test_the_in_flight_cap_holds_each_message_until_its_ack_and_gives_its_place_back_after(
    alice, bob, open_socket
) -> None:
    """Twice in a row: two messages in flight are queued, the third is refused; once acked, two go again."""
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    for burst in ("a", "b"):
        async with database_thread_held():
            for n in (1, 2, 3):
                await socket.send(message(conversation, f"{burst}{n}"))
            refused = await socket.expect("error")
        assert_refusal(refused, "too_many_in_flight", "MESSAGING_MAX_IN_FLIGHT")
        assert refused["client_id"] == f"{burst}3"
        acked = [(await socket.expect("ack"))["client_id"] for _ in range(2)]
        assert acked == [f"{burst}1", f"{burst}2"]
    assert await messages_stored() == 4


@override_settings(MESSAGING_RATE_LIMIT="2/60s", MESSAGING_BAD_FRAME_LIMIT=ONE_BAD_FRAME)
async def test_each_users_socket_draws_from_that_users_own_message_allowance(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    alices = await open_socket(alice, "/ws/chat/")
    bobs = await open_socket(bob, "/ws/chat/")
    for n in (1, 2):
        await alices.send(message(conversation, f"alice-{n}"))
        assert (await alices.expect("ack"))["client_id"] == f"alice-{n}"
    await alices.send(message(conversation, "alice-3"))
    assert_refusal(await alices.expect("error"), "rate_limited", "MESSAGING_RATE_LIMIT")
    await bobs.send(message(conversation, "bob-1"))
    assert (await bobs.expect("ack"))["client_id"] == "bob-1"
    assert await messages_stored() == 3


@override_settings(MESSAGING_RATE_LIMIT="2/60s", MESSAGING_BAD_FRAME_LIMIT=ONE_BAD_FRAME)
async def test_a_resend_of_a_stored_message_gives_its_message_token_back(alice, bob, open_socket) -> None:
    """An outbox resent after a reconnect costs nothing: after two resends, the second new message still goes."""
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    for client_id in ("first", "first", "first", "second"):
        await socket.send(message(conversation, client_id))
        assert (await socket.expect("ack"))["client_id"] == client_id
    assert await messages_stored() == 2


# --- The HTTP API: the same codes as the 429 body, with Retry-After --------------------------------


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_http_refusal(response: Any, code: str, setting: str) -> None:
    assert response.status_code == 429, response.content
    body = response.json()
    assert_refusal(body, code, setting)
    assert int(response["Retry-After"]) >= 1


def fetch_twins(conversation: int) -> list[str]:
    """The HTTP API's twins of the socket's fetches: inbox, members, sync, history, and the first contract's history."""
    base = f"/messages/api/conversations/{conversation}"
    return ["/messages/api/conversations", base, f"{base}/events", f"{base}/history", "/messages/api/bob/history"]


@override_settings(MESSAGING_SEARCH_RATE_LIMIT="1/60s")
def test_searching_past_the_limit_over_http_is_429_search_rate_limited(alice) -> None:
    client = client_of(alice)
    assert client.get("/messages/api/search", {"q": "hello"}).status_code == 200
    assert_http_refusal(
        client.get("/messages/api/search", {"q": "hello"}), "search_rate_limited", "MESSAGING_SEARCH_RATE_LIMIT"
    )


@override_settings(MESSAGING_PROFILE_RATE_LIMIT="1/60s")
def test_changing_the_profile_past_the_limit_over_http_is_429_profile_rate_limited(alice) -> None:
    client = client_of(alice)
    body = {"content_type": "application/json"}
    assert client.post("/messages/api/profile", data='{"status": "here"}', **body).status_code == 200
    refused = client.post("/messages/api/profile", data='{"status": "gone"}', **body)
    assert_http_refusal(refused, "profile_rate_limited", "MESSAGING_PROFILE_RATE_LIMIT")
    assert Profile.for_user(alice.pk).status_line == "here"


@override_settings(MESSAGING_FETCH_RATE_LIMIT="1/60s")
def test_each_http_fetch_twin_draws_from_a_per_user_fetch_allowance(alice, bob) -> None:
    conversation = get_or_create_direct(alice, bob)[0].pk
    client = client_of(alice)
    urls = fetch_twins(conversation)
    assert client.get(urls[0]).status_code == 200
    for url in urls:  # per user, whichever endpoint: the one fetch the limit allows is spent
        assert_http_refusal(client.get(url), "fetch_rate_limited", "MESSAGING_FETCH_RATE_LIMIT")
    assert client_of(bob).get(urls[0]).status_code == 200, "another user's allowance is their own"


@override_settings(MESSAGING_FETCH_WORK_LIMIT="1000/10s")
def test_a_user_in_debt_is_refused_every_http_fetch_twin_with_fetch_work_limited(alice, bob) -> None:
    conversation = get_or_create_direct(alice, bob)[0].pk
    fetch_budget(conf.limits().fetch_work).charge(alice.pk, 5.0)  # 50 s to pay back: 40 s over the window
    client = client_of(alice)
    for url in fetch_twins(conversation):
        refused = client.get(url)
        assert_http_refusal(refused, "fetch_work_limited", "MESSAGING_FETCH_WORK_LIMIT")
        assert 30 < refused.json()["retry_after"] <= 40.01
    assert client_of(bob).get(fetch_twins(conversation)[0]).status_code == 200


# One millisecond of database work per 100 s: any fetch (a few queries, well over 1 ms) puts the user in debt.
@override_settings(MESSAGING_FETCH_WORK_LIMIT="1/100s", MESSAGING_BAD_FRAME_LIMIT=ONE_BAD_FRAME)
async def test_the_socket_and_the_http_api_draw_from_one_fetch_budget(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    client = await database_sync_to_async(client_of)(alice)
    assert (await database_sync_to_async(client.get)("/messages/api/conversations")).status_code == 200
    socket = await open_socket(alice, "/ws/chat/")
    await socket.send({"type": "sync", "conversation": conversation, "after": 0, "ref": "s"})
    refused = await socket.expect("error")
    assert_refusal(refused, "fetch_work_limited", "MESSAGING_FETCH_WORK_LIMIT")
    await assert_still_open(socket, conversation, "message")


@override_settings(MESSAGING_FETCH_WORK_LIMIT="1/100s")
async def test_fetches_over_the_socket_put_the_user_in_debt_where_the_http_api_sees_it(alice, bob, open_socket) -> None:
    conversation = await direct(alice, bob)
    socket = await open_socket(alice, "/ws/chat/")
    for ref in range(100):  # each fetch costs some database time; soon the socket itself is refused
        await socket.send({"type": "history", "conversation": conversation, "before": None, "ref": ref})
        answer = await socket.expect_where(lambda f, ref=ref: f.get("ref") == ref)
        if answer["type"] == "error":
            break
    assert_refusal(answer, "fetch_work_limited", "MESSAGING_FETCH_WORK_LIMIT")
    client = await database_sync_to_async(client_of)(alice)
    refused = await database_sync_to_async(client.get)(f"/messages/api/conversations/{conversation}/events")
    assert_http_refusal(refused, "fetch_work_limited", "MESSAGING_FETCH_WORK_LIMIT")


@pytest.mark.requires_redis
async def test_two_processes_budgets_are_one_budget_kept_in_redis(alice) -> None:
    """Two budget objects (as two daphne processes hold) share one debt, and it lives in Redis, not in a process."""
    import redis

    rate = conf.Rate(1000, 10)
    http_process, socket_process = WorkBudget(rate), WorkBudget(rate)
    await database_sync_to_async(http_process.charge)(alice.pk, 3.0)  # 30 s to pay back: 20 s over the window
    await socket_process.acharge(alice.pk, 1.0)  # and 10 s more, from the other process, on the event loop
    assert 29 < await socket_process.await_(alice.pk) <= 30
    assert 29 < http_process.wait(alice.pk) <= 30
    stored = [key for key in redis.Redis.from_url(os.environ["REDIS_URL"]).keys("*messaging:work:*")]
    assert any(key.endswith(f":{alice.pk}".encode()) for key in stored)
