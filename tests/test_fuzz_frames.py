"""Arbitrary frames through the real consumers: the server never breaks.

For every frame the server's answer (everything it sends before the pong
that answers the ping sent right after) is the one the contract defines for
that frame, computed independently by the validator; the socket stays up,
and the database holds only valid messages, with gap-free seqs. Every
endpoint gets every frame type (``ws/chat/``'s included): each one answers
what it speaks and refuses the rest.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import channel_layers
from django.db.models import Count
from django.test import override_settings
from hypothesis import example, given, settings
from hypothesis import strategies as st

from messaging.connection_validator import CHAT_FRAMES, DIRECT_FRAMES, NOTIFICATION_FRAMES, ConnectionValidator
from messaging.exceptions import ErrorCode, ProtocolError
from messaging.models import Event, Message
from messaging.realtime.presence import tracker
from messaging.store import conversations

from . import cursors
from .robustness import STATS
from .strategies import broken_chat_frames, raw_chat_frames, raw_frames, valid_chat_frames, valid_frames
from .support import communicator, session_cookie
from .support.answers import USER_ANSWERS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHAT = DIRECT_FRAMES
USER = CHAT_FRAMES
NOTIFICATIONS = NOTIFICATION_FRAMES
KNOWN_CODES = {code.value for code in ErrorCode}
MAX_LENGTH, MAX_FRAME = 4000, 65536
#: every frame type of every endpoint, sent to each endpoint
ANY_ENDPOINTS_FRAMES = st.one_of(valid_chat_frames().map(json.dumps), broken_chat_frames().map(json.dumps))

EXTREMES = [
    "",
    "\x00",
    '{"type": "message", "content": "\\ud800", "client_id": "x"}',
    '{"type": "message", "content": "a\\u0000b", "client_id": "x"}',
    '{"type": "read", "up_to": ' + "9" * 5000 + "}",
    '{"type": "read", "up_to": 1e400}',
    '{"type": "sync", "after": 9223372036854775808}',
    "[" * 20000 + "]" * 20000,
    '{"type": "message", "content": "' + "x" * (MAX_LENGTH + 1) + '", "client_id": "x"}',
    '{"type": "ping", "pad": "' + "x" * MAX_FRAME + '"}',
    '{"type": "message", "content": "\U0001f600" , "client_id": "' + "é" * 64 + '"}',
    '{"type": "history", "before": null, "limit": true}',
    '{"type": ["ping"]}',
    '{"type": "ping", "type": "message"}',
    b"\xff\xfe binary",
]
extremes = st.sampled_from(EXTREMES)
frames = st.lists(
    st.one_of(
        raw_frames(),
        extremes,
        st.binary(min_size=1, max_size=256),
        valid_frames().map(json.dumps),
        ANY_ENDPOINTS_FRAMES,
    ),
    min_size=1,
    max_size=12,
)
validator = ConnectionValidator(max_length=MAX_LENGTH, max_frame_bytes=MAX_FRAME, conversation_required=False)
user_validator = ConnectionValidator(max_length=MAX_LENGTH, max_frame_bytes=MAX_FRAME)


def parsed(raw: str | bytes, allowed: frozenset[str]) -> object:
    check = user_validator if allowed == USER else validator
    return check.parse(None, raw, allowed=allowed) if isinstance(raw, bytes) else check.parse(raw, allowed=allowed)


def expected_answer(raw: str | bytes, allowed: frozenset[str]) -> str | None:
    """The frame type (or error code) the contract promises for ``raw``; None = silence allowed."""
    frame = parsed(raw, allowed)
    if isinstance(frame, ProtocolError):
        return f"error:{frame.code.value}"
    if allowed == USER:
        return USER_ANSWERS[frame.type]
    return {
        "message": "ack",
        "sync": "sync",
        "history": "history",
        "ping": "pong",
        "list": "notifications",
        "mark_read": "mark_read",
    }.get(frame.type)


# On ws/chat/ a well-formed frame may still name a conversation or a user the
# sender has nothing to do with: the contract's refusals are defined answers too.
REFUSED = ("not_found", "forbidden", "invalid_frame")


async def exchange(comm, raw: str | bytes, allowed: frozenset[str]) -> list[dict]:
    """Send ``raw`` and a ping; return what came back before the ping's pong (and the ack, for a message)."""
    key = "bytes" if isinstance(raw, bytes) else "text"
    await comm.send_input({"type": "websocket.receive", key: raw})
    await comm.send_input({"type": "websocket.receive", "text": '{"type": "ping"}'})
    expected = expected_answer(raw, allowed)
    pongs_due = 2 if expected == "pong" else 1
    # A message is answered once committed, which may be after the pong.
    ack_due = expected == "ack" and parsed(raw, allowed).type == "message"
    answers = []
    while pongs_due or ack_due:
        frame = await comm.receive_json_from(timeout=5)
        if frame["type"] == "pong" and pongs_due:
            pongs_due -= 1
            if pongs_due:  # the frame was a ping: this pong is its answer
                answers.append(frame)
            continue
        if frame["type"] in ("ack", "error") and ack_due and frame.get("client_id") == parsed(raw, allowed).client_id:
            ack_due = False
        answers.append(frame)
    return answers


def check_answer(raw: str | bytes, answers: list[dict], allowed: frozenset[str]) -> None:
    """The answer the contract defines for ``raw`` is among the answers; no undue error."""
    expected = expected_answer(raw, allowed)
    kinds = [a["type"] if a["type"] != "error" else f"error:{a['code']}" for a in answers]
    for answer in answers:
        if answer["type"] == "error":
            assert answer["code"] in KNOWN_CODES and answer["detail"]
            assert answer["code"] != "server_error", (raw, answer)
    if allowed == USER and not expected_is_error(expected):
        check_user_socket_answer(raw, answers, expected)
    elif expected == "mark_read":
        # Valid in form; the database decides whether the id is one of yours.
        assert set(kinds) <= {"error:not_found", "unread_count"}, (raw, kinds)
    elif expected is None:
        assert not [k for k in kinds if k.startswith("error")], (raw, kinds)
    else:
        assert expected in kinds, (raw, expected, kinds)
    STATS[f"fuzz: frames answered with {expected or 'silence (typing/read)'}"] += 1


def expected_is_error(expected: str | None) -> bool:
    return expected is not None and expected.startswith("error:")


def check_user_socket_answer(raw: str | bytes, answers: list[dict], expected: str | None) -> None:
    """A valid ws/chat/ frame: its answer, or one of the refusals, carrying the request's ref and client_id."""
    frame = parsed(raw, USER)
    ref, client_id = frame.ref, getattr(frame, "client_id", None)
    replies = [a for a in answers if a["type"] in ("error", expected) and a.get("ref") == ref]
    if expected == "ack":
        replies = [a for a in replies if a["type"] == "error" or a["client_id"] == client_id]
    if expected is None:
        assert all(a["code"] in REFUSED for a in replies if a["type"] == "error"), (raw, answers)
        return
    assert len(replies) == 1, (raw, expected, answers)
    [reply] = replies
    if reply["type"] == "error":
        assert reply["code"] in REFUSED, (raw, reply)
        assert reply.get("client_id") == client_id, (raw, reply)
        STATS[f"fuzz: ws/chat/ {frame.type} refused with {reply['code']}"] += 1
    else:
        STATS[f"fuzz: ws/chat/ {frame.type} answered with {expected}"] += 1


def database_holds_only_valid_messages() -> None:
    for message in Message.objects.all():
        if message.deleted_at is not None:  # deleted for everyone: its text is gone from every table
            assert message.content == ""
            continue
        assert message.content.strip() and len(message.content) <= MAX_LENGTH
        assert "\x00" not in message.content
        message.content.encode("utf-8")
        assert 1 <= len(message.client_id) <= 64
    for conversation_id, n in Event.objects.values_list("conversation_id").annotate(n=Count("id")):
        seqs = sorted(Event.objects.filter(conversation_id=conversation_id).values_list("seq", flat=True))
        assert seqs == list(range(1, n + 1))
    assert not Event.objects.values("sender", "client_id").annotate(n=Count("id")).filter(n__gt=1).exists()


# What each endpoint may ever send back, and its name in the printed figures.
ENDPOINTS = {"/ws/chat/bob/": "ws/chat/<username>/", "/ws/chat/": "ws/chat/", "/ws/notifications/": "ws/notifications/"}
ANSWER_TYPES = {
    "/ws/chat/bob/": {"error", "ack", "message", "status", "typing", "presence", "sync", "history", "pong"},
    "/ws/chat/": {
        "error",
        "ack",
        "event",
        "receipts",
        "typing",
        "presence",
        "conversation",
        "muted",
        "pinned",
        "sync",
        "history",
        "resume",
        "conversations",
        "members",
        "search",
        "edits",
        "pong",
    },
    "/ws/notifications/": {"error", "notifications", "unread_count", "notification", "pong"},
}


def fuzz_socket(cookie: str, path: str, first: str, batch: list[str | bytes], allowed: frozenset[str]) -> None:
    """Open ``path``, check its ``first`` frame, and check the answer to every frame of ``batch``."""

    async def scenario() -> None:
        comm = communicator(path, cookie)
        assert (await comm.connect(timeout=5))[0]
        assert (await comm.receive_json_from(timeout=5))["type"] == first
        for raw in batch:
            answers = await exchange(comm, raw, allowed)
            check_answer(raw, answers, allowed)
            assert {a["type"] for a in answers} <= ANSWER_TYPES[path]
            STATS[f"fuzz: frames sent to {ENDPOINTS[path]}"] += 1
        await comm.disconnect()

    channel_layers.backends.clear()
    try:
        asyncio.run(scenario())
    finally:
        tracker.stop()


@override_settings(MESSAGING_RATE_LIMIT="off", MESSAGING_TYPING_RATE_LIMIT="off", MESSAGING_BAD_FRAME_LIMIT="off")
def test_arbitrary_frames_on_the_chat_socket_get_their_defined_answer(alice, bob) -> None:
    cookie = session_cookie(alice)

    @settings(max_examples=60, deadline=None)
    @given(frames)
    @example(EXTREMES)
    def run(batch: list[str | bytes]) -> None:
        fuzz_socket(cookie, "/ws/chat/bob/", "connected", batch, CHAT)
        database_holds_only_valid_messages()

    run()


@override_settings(
    MESSAGING_RATE_LIMIT="off",
    MESSAGING_TYPING_RATE_LIMIT="off",
    MESSAGING_BAD_FRAME_LIMIT="off",
    MESSAGING_SEARCH_RATE_LIMIT="off",
)
def test_arbitrary_frames_on_the_user_socket_get_their_defined_answer(alice, bob, carol) -> None:
    """ws/chat/: every frame type, naming conversations and people that exist or not, in any order."""
    direct, _ = conversations.get_or_create_direct(alice, bob)
    mine = conversations.create_group(alice, "mine", ["bob"], "fuzz-g1", max_members=10).conversation
    theirs = conversations.create_group(bob, "theirs", ["carol"], "fuzz-g2", max_members=10).conversation
    # Messages at the seqs message actions aim at most (1 to 12), hers and others', so that edits,
    # deletions, reactions and hiding reach real messages, not only the refusals.
    for conversation in (direct, mine, theirs):
        for sender in (alice, bob, alice, bob, alice, bob) if conversation != theirs else (bob, carol, bob):
            cursors.send(conversation, sender)
    cookie = session_cookie(alice)
    # Frames name alice's conversations, one she is not in, and one that does not exist.
    targeted = valid_chat_frames(
        conversations=st.sampled_from([direct.pk, mine.pk, theirs.pk, 10**9]),
        names=st.sampled_from(["alice", "bob", "carol", "nobody"]),
    ).map(json.dumps)
    # About two frames in three are well formed (one_of would flatten the
    # noise's many branches in, and they would drown the well-formed ones).
    noise = st.one_of(raw_chat_frames(), extremes)
    frame = st.builds(lambda pick, raw, good: raw if pick == 0 else good, st.integers(0, 2), noise, targeted)
    user_frames = st.lists(frame, min_size=1, max_size=12)

    @settings(max_examples=60, deadline=None)
    @given(user_frames)
    @example(EXTREMES)
    def run(batch: list[str | bytes]) -> None:
        fuzz_socket(cookie, "/ws/chat/", "connected", batch, USER)
        database_holds_only_valid_messages()

    run()


@override_settings(MESSAGING_BAD_FRAME_LIMIT="off")
def test_arbitrary_frames_on_the_notifications_socket_get_their_defined_answer(alice) -> None:
    cookie = session_cookie(alice)
    notification_frames = st.lists(
        st.one_of(
            raw_frames(),
            ANY_ENDPOINTS_FRAMES,
            st.builds(lambda i: json.dumps({"type": "mark_read", "id": i}), st.integers(-5, 2**64)),
            st.builds(
                lambda b, n: json.dumps({"type": "list", "before": b, "limit": n}),
                st.none() | st.integers(-1, 10),
                st.integers(-1, 120),
            ),
            st.just('{"type": "mark_all_read"}'),
        ),
        min_size=1,
        max_size=10,
    )

    @settings(max_examples=25, deadline=None)
    @given(notification_frames)
    def run(batch: list[str | bytes]) -> None:
        fuzz_socket(cookie, "/ws/notifications/", "unread_count", batch, NOTIFICATIONS)

    run()
