"""Message status only moves sent → delivered → read, whatever the order of events."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from hypothesis import given
from hypothesis import strategies as st

from messaging import async_handlers as handlers
from messaging.models import Message

from .concurrency import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

RANK = {"sent": 0, "delivered": 1, "read": 2}

actors = st.sampled_from(["a", "b"])
events = st.lists(
    st.one_of(
        st.tuples(st.just("send"), actors, st.just(0)),
        st.tuples(st.just("deliver"), actors, st.integers(0, 12)),
        st.tuples(st.just("read"), actors, st.integers(0, 12)),
        st.tuples(st.just("sync"), actors, st.integers(0, 12)),
        st.tuples(st.just("history"), actors, st.integers(0, 12)),
    ),
    min_size=1,
    max_size=25,
)


def make_pair():
    tag = uuid.uuid4().hex[:8]
    users = get_user_model().objects
    a, b = users.create_user(f"a{tag}"), users.create_user(f"b{tag}")
    return a, b, handlers.get_or_create_direct_conversation(a, b)


@given(events)
def test_status_is_monotone_under_any_order_of_events(steps) -> None:
    a, b, conversation = make_pair()
    users = {"a": a, "b": b}
    seen: dict[int, int] = {}
    for kind, who, n in steps:
        user, peer = users[who], users["b" if who == "a" else "a"]
        if kind == "send":
            handlers.create_message(conversation.pk, user, peer, "x", uuid.uuid4().hex)
        elif kind == "deliver":
            handlers.mark_delivered(conversation.pk, user.pk, n)
        elif kind == "read":
            handlers.mark_message_read(conversation.pk, user.pk, n)
        elif kind == "sync":
            handlers.get_messages(conversation.pk, user.pk, after=n)
        else:
            handlers.get_messages(conversation.pk, user.pk, before=n or None)
        for message in Message.objects.filter(conversation=conversation):
            rank = RANK[message.status]
            assert rank >= seen.get(message.pk, 0), "status moved backwards"
            seen[message.pk] = rank
            assert (message.delivered_at is not None) == (rank >= 1)
            assert (message.read_at is not None) == (rank == 2)


@given(st.lists(st.tuples(st.sampled_from(["deliver", "read"]), st.integers(1, 10)), min_size=1, max_size=12))
def test_the_sender_can_never_move_their_own_messages(steps) -> None:
    a, b, conversation = make_pair()
    for _ in range(5):
        handlers.create_message(conversation.pk, a, b, "x", uuid.uuid4().hex)
    for kind, n in steps:
        if kind == "deliver":
            assert handlers.mark_delivered(conversation.pk, a.pk, n) is None
        else:
            assert handlers.mark_message_read(conversation.pk, a.pk, n) is None
    assert set(Message.objects.filter(conversation=conversation).values_list("status", flat=True)) == {"sent"}


def test_concurrent_deliveries_and_reads_announce_each_advance_once(alice, bob) -> None:
    conversation = handlers.get_or_create_direct_conversation(alice, bob)
    for _ in range(20):
        handlers.create_message(conversation.pk, alice, bob, "x", uuid.uuid4().hex)

    def worker(kind: str) -> list:
        mark = handlers.mark_delivered if kind == "deliver" else handlers.mark_message_read
        return [mark(conversation.pk, bob.pk, up_to) for up_to in range(1, 21)]

    changes = [change for made in run_in_threads(worker, [(k,) for k in ["deliver", "read"] * 3]) for change in made]
    assert set(Message.objects.values_list("status", flat=True)) == {"read"}
    reads = sorted(c.up_to for c in changes if c is not None and c.status == "read")
    # Each read advance covers new messages only: the ranges never overlap.
    assert len(reads) == len(set(reads)) and reads[-1] == 20
