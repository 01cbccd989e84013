"""The database operations: gap-free seq, idempotency, pages and status rules."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from unittest import mock

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from messaging import async_handlers as handlers
from messaging.conf import Rate
from messaging.exceptions import InvalidFrame, RateLimited
from messaging.models import Conversation, Message, Participant
from messaging.guards.rate_limit import TokenBucket

from .concurrency import run_in_threads
from .servers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def direct(a, b) -> Conversation:
    return handlers.get_or_create_direct_conversation(a, b)


def send(conversation: Conversation, sender, recipient, content: str = "hi", client_id: str | None = None):
    return handlers.create_message(conversation.pk, sender, recipient, content, client_id or uuid.uuid4().hex)


def test_a_direct_conversation_is_unique_per_pair_and_has_two_participants(alice, bob) -> None:
    first = direct(alice, bob)
    assert direct(bob, alice).pk == first.pk
    assert Conversation.objects.count() == 1
    assert set(Participant.objects.filter(conversation=first).values_list("user__username", flat=True)) == {"alice", "bob"}


def test_seq_has_no_gaps_under_concurrent_senders(alice, bob, carol) -> None:
    conversation = direct(alice, bob)
    per_thread = 15

    def sender(user, peer) -> None:
        for _ in range(per_thread):
            send(conversation, user, peer)

    run_in_threads(sender, [(alice, bob), (bob, alice)] * 2)
    seqs = sorted(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
    assert seqs == list(range(1, 4 * per_thread + 1))
    conversation.refresh_from_db()
    assert conversation.last_seq == 4 * per_thread


# A writer in a process of its own: it says "ready" once Django is set up, and
# starts on "go", so that every process writes at the same time.
WRITER = """
import sys, uuid, django
django.setup()
from django.contrib.auth import get_user_model
from messaging.async_handlers import create_message
conversation_id, sender_id, recipient_id, count = map(int, sys.argv[1:])
users = get_user_model().objects
sender, recipient = users.get(pk=sender_id), users.get(pk=recipient_id)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(count):
    create_message(conversation_id, sender, recipient, "from another process", uuid.uuid4().hex)
print("done", flush=True)
"""


def env_for_this_test_database() -> dict[str, str]:
    """The environment that points a fresh process at the database this test uses."""
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "linkup.settings"}
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(db["NAME"])
    else:
        env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return env


def test_seq_has_no_gaps_under_concurrent_senders_in_separate_processes(alice, bob) -> None:
    conversation = direct(alice, bob)
    per_writer = 20
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(conversation.pk), str(sender.pk), str(peer.pk), str(per_writer)],
            cwd=ROOT, env=env_for_this_test_database(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for sender, peer in [(alice, bob), (bob, alice), (alice, bob)]
    ]
    try:
        for writer in writers:
            assert writer.stdout.readline().strip() == "ready"
        for writer in writers:
            writer.stdin.write("go\n")
            writer.stdin.flush()
        for _ in range(per_writer):
            send(conversation, bob, alice)
        for writer in writers:
            assert writer.stdout.readline().strip() == "done"
            assert writer.wait(60) == 0
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    total = per_writer * (len(writers) + 1)
    seqs = sorted(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    conversation.refresh_from_db()
    assert conversation.last_seq == total


def test_a_repeated_client_id_never_creates_a_second_row_even_concurrently(alice, bob) -> None:
    conversation = direct(alice, bob)
    results = run_in_threads(lambda: send(conversation, alice, bob, client_id="same-id"), [()] * 4)
    assert Message.objects.filter(sender=alice, client_id="same-id").count() == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({m.pk for m, _ in results}) == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == 1


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=12))
def test_repeats_return_the_first_message_and_keep_seq_dense(client_ids) -> None:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    tag = uuid.uuid4().hex[:8]
    a = users.create_user(f"a{tag}")
    b = users.create_user(f"b{tag}")
    conversation = direct(a, b)
    first: dict[str, int] = {}
    for cid in client_ids:
        message, created = send(conversation, a, b, client_id=f"{tag}-{cid}")
        assert created == (cid not in first)
        first.setdefault(cid, message.pk)
        assert message.pk == first[cid]
    seqs = list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(first) + 1))


def test_a_client_id_from_another_conversation_is_refused(alice, bob, carol) -> None:
    send(direct(alice, bob), alice, bob, client_id="shared")
    with pytest.raises(InvalidFrame):
        send(direct(alice, carol), alice, carol, client_id="shared")


def test_rate_limit_refuses_new_messages_but_not_repeats(alice, bob) -> None:
    conversation = direct(alice, bob)
    bucket = TokenBucket("messages", Rate(2, 60))
    for cid in ("one", "two"):
        handlers.create_message(conversation.pk, alice, bob, "hi", cid, bucket=bucket)
    with pytest.raises(RateLimited) as caught:
        handlers.create_message(conversation.pk, alice, bob, "hi", "three", bucket=bucket)
    assert caught.value.client_id == "three"
    message, created = handlers.create_message(conversation.pk, alice, bob, "hi", "one", bucket=bucket)
    assert not created and message.seq == 1
    assert Message.objects.count() == 2


def test_sync_pages_are_oldest_first_and_history_newest_first(alice, bob) -> None:
    conversation = direct(alice, bob)
    for i in range(7):
        send(conversation, alice, bob, content=f"m{i}")
    page = handlers.get_messages(conversation.pk, alice.pk, after=2, limit=3)
    assert [m.seq for m in page.messages] == [3, 4, 5] and page.has_more
    page = handlers.get_messages(conversation.pk, alice.pk, after=5, limit=3)
    assert [m.seq for m in page.messages] == [6, 7] and not page.has_more
    page = handlers.get_messages(conversation.pk, alice.pk, before=None, limit=3)
    assert [m.seq for m in page.messages] == [7, 6, 5] and page.has_more
    page = handlers.get_messages(conversation.pk, alice.pk, before=3, limit=3)
    assert [m.seq for m in page.messages] == [2, 1] and not page.has_more


def test_fetching_delivers_only_the_readers_messages(alice, bob) -> None:
    conversation = direct(alice, bob)
    send(conversation, alice, bob)
    send(conversation, bob, alice)
    page = handlers.get_messages(conversation.pk, alice.pk, after=0)
    assert page.delivered is not None and page.delivered.by == "alice" and page.delivered.up_to == 2
    statuses = dict(Message.objects.values_list("seq", "status"))
    assert statuses == {1: "sent", 2: "delivered"}
    assert handlers.get_messages(conversation.pk, alice.pk, after=0).delivered is None


def test_read_covers_the_range_once_and_never_the_readers_own(alice, bob) -> None:
    conversation = direct(alice, bob)
    for _ in range(3):
        send(conversation, alice, bob)
    send(conversation, bob, alice)
    change = handlers.mark_message_read(conversation.pk, bob.pk, up_to=100)
    assert change is not None and change.status == "read" and change.up_to == 3 and change.by == "bob"
    assert handlers.mark_message_read(conversation.pk, bob.pk, up_to=100) is None
    statuses = dict(Message.objects.values_list("seq", "status"))
    assert statuses == {1: "read", 2: "read", 3: "read", 4: "sent"}
    assert all(m.delivered_at and m.read_at for m in Message.objects.filter(status="read"))
    assert handlers.mark_delivered(conversation.pk, bob.pk, up_to=3) is None


def test_callers_that_know_the_username_save_its_lookup(alice, bob) -> None:
    conversation = direct(alice, bob)
    for _ in range(3):
        send(conversation, alice, bob)
    with mock.patch.object(handlers, "_username", side_effect=AssertionError("looked the username up")):
        page = handlers.get_messages(conversation.pk, bob.pk, after=0, limit=2, username="bob")
        assert page.delivered is not None and page.delivered.by == "bob" and page.delivered.up_to == 2
        change = handlers.mark_message_read(conversation.pk, bob.pk, 3, "bob")
        assert change is not None and change.by == "bob" and change.up_to == 3
        online = handlers.register_connection(bob.pk, "chan.bob", "chat", "host:1:abc", username="bob")
        assert online is not None and online.online and online.username == "bob"
        offline = handlers.unregister_connection(bob.pk, "chan.bob", 60, username="bob")
        assert offline is not None and not offline.online and offline.username == "bob"


def test_the_username_is_looked_up_when_not_given(alice, bob) -> None:
    online = handlers.register_connection(bob.pk, "chan.bob", "chat", "host:1:abc")
    assert online is not None and online.username == "bob"
    offline = handlers.unregister_connection(bob.pk, "chan.bob", 60)
    assert offline is not None and offline.username == "bob"


def test_unread_counts_the_peers_unread_messages(alice, bob) -> None:
    conversation = direct(alice, bob)
    for _ in range(3):
        send(conversation, alice, bob)
    assert handlers.unread_count(conversation.pk, bob.pk) == 3
    assert handlers.unread_count(conversation.pk, alice.pk) == 0
    handlers.mark_message_read(conversation.pk, bob.pk, up_to=2)
    assert handlers.unread_count(conversation.pk, bob.pk) == 1


def test_open_chat_refuses_unknown_users_and_oneself(alice, bob) -> None:
    assert handlers.open_chat(alice, "nobody") is None
    assert handlers.open_chat(alice, "alice") is None
    assert Conversation.objects.count() == 0
    chat = handlers.open_chat(alice, "bob")
    assert chat is not None and chat.peer_username == "bob"
