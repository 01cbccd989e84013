"""Message status only moves sent → delivered → read, whatever the order of events.

A status is derived from the other member's cursors (``messaging.store.receipts``),
so these state it over the cursors the store keeps and the statuses derived from them.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from hypothesis import given
from hypothesis import strategies as st

from messaging.models import Participant

from .concurrency import run_in_threads
from .cursors import deliver, direct, read, send, statuses

pytestmark = pytest.mark.django_db(transaction=True)

RANK = {"sent": 0, "delivered": 1, "read": 2}


def make_pair():
    tag = uuid.uuid4().hex[:8]
    users = get_user_model().objects
    a, b = users.create_user(f"a{tag}"), users.create_user(f"b{tag}")
    return a, b, direct(a, b)


actors = st.sampled_from(["a", "b"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("send"), actors, st.just(0)),
        st.tuples(st.just("deliver"), actors, st.integers(0, 12)),
        st.tuples(st.just("read"), actors, st.integers(0, 12)),
    ),
    min_size=1,
    max_size=25,
)


@given(steps)
def test_status_is_monotone_and_cursors_stay_ordered_under_any_order_of_events(script) -> None:
    a, b, conversation = make_pair()
    users = {"a": a, "b": b}
    seen: dict[int, int] = {}
    for kind, who, n in script:
        user = users[who]
        if kind == "send":
            send(conversation, user)
        elif kind == "deliver":
            deliver(conversation, user, n)
        else:
            read(conversation, user, n)
        conversation.refresh_from_db()
        for row in Participant.objects.filter(conversation=conversation):
            assert row.read_seq <= row.delivered_seq <= conversation.last_seq
            assert (row.delivered_at is not None) == (row.delivered_seq > 0)
            assert (row.read_at is not None) == (row.read_seq > 0)
        for seq, status in statuses(conversation, a, b).items():
            assert RANK[status] >= seen.get(seq, 0), "status moved backwards"
            seen[seq] = RANK[status]


@given(st.lists(st.tuples(st.sampled_from(["deliver", "read"]), st.integers(1, 10)), min_size=1, max_size=12))
def test_the_sender_can_never_move_their_own_messages(script) -> None:
    a, b, conversation = make_pair()
    for _ in range(5):
        send(conversation, a)
    for kind, n in script:
        (deliver if kind == "deliver" else read)(conversation, a, n)
    # a's cursors may move (a read its own conversation), but a's messages follow b's cursors only.
    assert set(statuses(conversation, a, b).values()) == {"sent"}


def test_concurrent_deliveries_and_reads_announce_each_advance_once(alice, bob) -> None:
    conversation = direct(alice, bob)
    for _ in range(20):
        send(conversation, alice)

    def worker(kind: str) -> list:
        mark = deliver if kind == "deliver" else read
        return [mark(conversation, bob, up_to) for up_to in range(1, 21)]

    changes = [c for made in run_in_threads(worker, [(k,) for k in ["deliver", "read"] * 3]) for c in made]
    assert set(statuses(conversation, alice, bob).values()) == {"read"}
    reads = sorted(c.read_seq for c in changes if c is not None and c.read_moved)
    delivered = sorted(c.delivered_seq for c in changes if c is not None and c.delivered_moved)
    # Each advance is announced once: no two changes report the same position.
    assert len(reads) == len(set(reads)) and reads[-1] == 20
    assert len(delivered) == len(set(delivered)) and delivered[-1] == 20
