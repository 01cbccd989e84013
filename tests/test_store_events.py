"""The conversation log (``messaging.store.events``): gap-free seq, idempotency, commit before return, pages."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from messaging.models import Conversation, Event, Message
from messaging.store import conversations, events
from messaging.store.errors import Conflict, Forbidden, NotFound
from messaging.store.events import NewMessage

from .concurrency import run_in_threads
from .servers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def direct(a, b) -> Conversation:
    return conversations.get_or_create_direct(a, b)[0]


def send(conversation: Conversation, sender, content: str = "hi", client_id: str | None = None) -> events.Appended:
    return events.create_message(conversation.pk, sender, content, client_id or uuid.uuid4().hex)


def member(user, conversation: Conversation):
    return conversations.member_of(user.pk, conversation.pk)


def test_seq_has_no_gaps_under_concurrent_senders(alice, bob) -> None:
    conversation = direct(alice, bob)
    per_thread = 15

    def sender(user) -> None:
        for _ in range(per_thread):
            send(conversation, user)

    run_in_threads(sender, [(alice,), (bob,)] * 2)
    seqs = sorted(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
    assert seqs == list(range(1, 4 * per_thread + 1))
    conversation.refresh_from_db()
    assert conversation.last_seq == conversation.last_message_seq == 4 * per_thread


def test_seq_has_no_gaps_when_batches_and_single_messages_race(alice, bob) -> None:
    """Group commit (one transaction for a batch) and single sends share the conversation's lock."""
    conversation = direct(alice, bob)

    def batch(user) -> None:
        for _ in range(5):
            outcomes = events.create_messages(
                [NewMessage(conversation.pk, user, "b", uuid.uuid4().hex) for _ in range(4)]
            )
            assert all(isinstance(o, events.Appended) and o.created for o in outcomes)

    def single(user) -> None:
        for _ in range(20):
            send(conversation, user)

    run_in_threads(lambda kind, user: kind(user), [(batch, alice), (single, bob), (batch, bob), (single, alice)])
    seqs = sorted(Event.objects.filter(conversation=conversation).values_list("seq", flat=True))
    assert seqs == list(range(1, 81))


# A writer in a process of its own: it says "ready" once Django is set up, and
# starts on "go", so that every process writes at the same time.
WRITER = """
import sys, uuid, django
django.setup()
from django.contrib.auth import get_user_model
from messaging.store.events import create_message
conversation_id, sender_id, count = map(int, sys.argv[1:])
sender = get_user_model().objects.get(pk=sender_id)
print("ready", flush=True)
sys.stdin.readline()
for _ in range(count):
    create_message(conversation_id, sender, "from another process", uuid.uuid4().hex)
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
            [sys.executable, "-c", WRITER, str(conversation.pk), str(sender.pk), str(per_writer)],
            cwd=ROOT,
            env=env_for_this_test_database(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for sender in (alice, bob, alice)
    ]
    try:
        for writer in writers:
            assert writer.stdout.readline().strip() == "ready"
        for writer in writers:
            writer.stdin.write("go\n")
            writer.stdin.flush()
        for _ in range(per_writer):
            send(conversation, bob)
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
    results = run_in_threads(lambda: send(conversation, alice, client_id="same-id"), [()] * 4)
    assert Message.objects.filter(sender=alice, client_id="same-id").count() == 1
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len({r.event.pk for r in results}) == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == conversation.last_message_seq == 1


def test_a_repeat_in_the_same_batch_is_stored_once(alice, bob) -> None:
    conversation = direct(alice, bob)
    outcomes = events.create_messages([NewMessage(conversation.pk, alice, "twice", "dup") for _ in range(3)])
    assert [o.created for o in outcomes] == [True, False, False]
    assert len({o.event.pk for o in outcomes}) == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == 1 and Message.objects.count() == 1


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
        appended = send(conversation, a, client_id=f"{tag}-{cid}")
        assert appended.created == (cid not in first)
        first.setdefault(cid, appended.event.pk)
        assert appended.event.pk == first[cid]
    seqs = list(Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(first) + 1))
    conversation.refresh_from_db()
    assert conversation.last_seq == conversation.last_message_seq == len(first)


@given(
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
    st.lists(st.tuples(st.booleans(), st.sampled_from(["a", "b", "c", "d", "e"])), min_size=1, max_size=12),
)
def test_a_batch_of_runs_keeps_seqs_dense_and_in_the_batch_order(stored_before, batch) -> None:
    """A sender's consecutive messages of a batch take their seqs together; repeats among them hand theirs back.

    The seqs follow the batch's order (the order the events are announced
    in), not only each sender's own order: a socket must get them in seq order.
    """
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    tag = uuid.uuid4().hex[:8]
    a, b = users.create_user(f"a{tag}"), users.create_user(f"b{tag}")
    conversation = direct(a, b)
    for cid in stored_before:
        send(conversation, a, client_id=f"{tag}-{cid}")
    outcomes = events.create_messages(
        [NewMessage(conversation.pk, b if by_b else a, "hi", f"{tag}-{cid}") for by_b, cid in batch]
    )
    seen = {(a.pk, f"{tag}-{cid}") for cid in stored_before}
    for (by_b, cid), outcome in zip(batch, outcomes, strict=True):
        key = ((b if by_b else a).pk, f"{tag}-{cid}")
        assert outcome.created == (key not in seen)
        seen.add(key)
    rows = list(
        Message.objects.filter(conversation=conversation).order_by("seq").values_list("seq", "sender_id", "client_id")
    )
    assert [seq for seq, _, _ in rows] == list(range(1, len(seen) + 1))
    assert {(o.event.seq, o.event.sender_id, o.event.client_id) for o in outcomes if o.created} <= set(rows)
    created = [o.event.seq for o in outcomes if o.created]
    assert created == sorted(created)  # the batch's order, whoever sent them
    conversation.refresh_from_db()
    assert conversation.last_seq == conversation.last_message_seq == len(seen)


def test_a_new_event_is_built_as_its_stored_row(alice, bob) -> None:
    """The plain insert builds the event it answers from a row of its own (Model.from_db): every field as stored."""
    built = send(direct(alice, bob), alice, content="as stored", client_id="row").event
    stored = Event.objects.get(pk=built.pk)
    assert {f.attname: getattr(built, f.attname) for f in Event._meta.concrete_fields} == {
        f.attname: getattr(stored, f.attname) for f in Event._meta.concrete_fields
    }


def test_while_queries_are_logged_a_messages_plain_statements_are_in_the_log(alice, bob) -> None:
    """The INSERT and the seq UPDATE go to the driver's cursor; Django's query log (DEBUG, CaptureQueriesContext) still has them."""
    conversation = direct(alice, bob)
    with CaptureQueriesContext(connection) as captured:
        send(conversation, alice, content="counted", client_id="logged")
    statements = [query["sql"] for query in captured.captured_queries]
    assert any(sql.startswith("INSERT INTO") and Event._meta.db_table in sql for sql in statements), statements
    assert any(sql.startswith("UPDATE") and "last_seq = last_seq +" in sql for sql in statements), statements


def test_a_client_id_from_another_conversation_is_a_conflict(alice, bob, carol) -> None:
    send(direct(alice, bob), alice, client_id="shared")
    with pytest.raises(Conflict) as refused:
        send(direct(alice, carol), alice, client_id="shared")
    assert str(refused.value) == "this client_id was already used for another event"
    assert Message.objects.count() == 1


def test_another_sender_may_use_the_same_client_id(alice, bob) -> None:
    conversation = direct(alice, bob)
    assert send(conversation, alice, client_id="same").created
    assert send(conversation, bob, client_id="same").created
    assert Message.objects.count() == 2


def test_a_refused_message_leaves_no_trace(alice, bob, carol) -> None:
    """(The rate limit is no longer the store's: it is taken before the write queue, tests/test_abuse_limits.py.)"""
    conversation = direct(alice, bob)
    with pytest.raises(NotFound):
        events.create_message(conversation.pk, carol, "not mine", "c1")
    with pytest.raises(NotFound):
        events.create_message(conversation.pk + 1000, alice, "nowhere", "a0")
    assert events.create_message(conversation.pk, alice, "now", "a1").event.seq == 1
    conversation.refresh_from_db()
    assert conversation.last_seq == 1 and Message.objects.count() == 1


def test_one_refusal_in_a_batch_does_not_roll_back_the_others(alice, bob, carol) -> None:
    conversation = direct(alice, bob)
    outcomes = events.create_messages(
        [
            NewMessage(conversation.pk, alice, "first", "a1"),
            NewMessage(conversation.pk, carol, "intruder", "c1"),
            NewMessage(conversation.pk, bob, "second", "b1"),
        ]
    )
    assert isinstance(outcomes[1], NotFound)
    assert [outcomes[0].event.seq, outcomes[2].event.seq] == [1, 2]
    assert list(Message.objects.order_by("seq").values_list("client_id", flat=True)) == ["a1", "b1"]


def test_a_member_who_left_a_group_can_no_longer_send(alice, bob, carol) -> None:
    created = conversations.create_group(alice, "trip", ["bob", "carol"], "g1", max_members=10)
    group = created.conversation.pk
    conversations.leave(carol, group, "leave-1")
    with pytest.raises(Forbidden):
        events.create_message(group, carol, "still here?", "c1")
    assert events.create_message(group, bob, "bye carol", "b1").event.seq == 3


def test_a_stored_message_is_committed_when_create_message_returns(alice, bob) -> None:
    """What the ack rests on: another connection sees the row as soon as the call returns."""
    conversation = direct(alice, bob)
    appended = send(conversation, alice, client_id="committed")
    [seen] = run_in_threads(
        lambda: Message.objects.filter(pk=appended.event.pk).values_list("client_id", flat=True).first(), [()]
    )
    assert seen == "committed"


def test_sync_pages_are_oldest_first_and_history_newest_first(alice, bob) -> None:
    conversation = direct(alice, bob)
    for i in range(7):
        send(conversation, alice, content=f"m{i}")
    reader = member(alice, conversation)
    page = events.events_after(reader, 2, 3)
    assert [m.seq for m in page.events] == [3, 4, 5] and page.has_more
    page = events.events_after(reader, 5, 3)
    assert [m.seq for m in page.events] == [6, 7] and not page.has_more
    page = events.events_before(reader, None, 3)
    assert [m.seq for m in page.events] == [7, 6, 5] and page.has_more
    page = events.events_before(reader, 3, 3)
    assert [m.seq for m in page.events] == [2, 1] and not page.has_more


def test_pages_stay_inside_the_members_window(alice, bob, carol, make_user) -> None:
    dave = make_user("dave")
    change = conversations.create_group(alice, "window", ["bob"], "g1", max_members=10)
    group = change.conversation.pk
    events.create_message(group, alice, "before carol", "m1")  # 2
    conversations.add_members(alice, group, ["carol"], "add-carol", max_members=10)  # 3
    events.create_message(group, bob, "with carol", "m2")  # 4
    conversations.remove_member(alice, group, "carol", "rm-carol")  # 5
    events.create_message(group, alice, "after carol", "m3")  # 6
    conversations.add_members(alice, group, ["dave"], "add-dave", max_members=10)  # 7
    carol_view = conversations.member_of(carol.pk, group)
    assert [e.seq for e in events.events_after(carol_view, 0, 100).events] == [3, 4, 5]
    assert [e.seq for e in events.events_before(carol_view, None, 100).events] == [5, 4, 3]
    dave_view = conversations.member_of(dave.pk, group)
    assert [e.seq for e in events.events_after(dave_view, 0, 100).events] == [7]
    founder = conversations.member_of(bob.pk, group)
    assert [e.seq for e in events.events_after(founder, 0, 100).events] == list(range(1, 8))


# --- what the eleventh mutation round found unguarded ----------------------------------------


@pytest.mark.parametrize(("length", "quoted"), [(100, "x" * 100), (101, "x" * 99 + "…")])
def test_a_reply_quotes_up_to_a_hundred_characters_and_cuts_a_longer_message_with_an_ellipsis(
    alice, bob, length, quoted
) -> None:
    conversation = direct(alice, bob)
    original = send(conversation, alice, "x" * length).event.seq
    reply = events.create_message(conversation.pk, bob, "yes", uuid.uuid4().hex, reply_to=original)
    assert reply.event.view.reply_to.preview == quoted


def test_a_resent_reply_is_acked_with_its_quote_and_its_edits_like_the_first_send(alice, bob) -> None:
    from messaging.store.message_actions import edit_message

    conversation = direct(alice, bob)
    original = send(conversation, alice, "where?").event.seq
    first = events.create_message(conversation.pk, bob, "here", "r1", reply_to=original)
    edit_message(bob, conversation.pk, first.event.seq, "over here", uuid.uuid4().hex, window=None)
    again = events.create_message(conversation.pk, bob, "here", "r1", reply_to=original)
    assert not again.created and again.event.pk == first.event.pk
    view = again.event.view
    assert (view.as_of, view.content, view.deleted) == (first.event.seq, "over here", False)
    assert view.edited_at is not None and view.edited_at == Event.objects.get(pk=first.event.pk).edited_at
    assert (view.reply_to.seq, view.reply_to.sender, view.reply_to.preview) == (original, "alice", "where?")


@pytest.mark.parametrize(
    ("case", "error", "detail"),
    [
        ("former member", Forbidden, "you are no longer a member of this conversation"),
        ("never a member", NotFound, "there is no conversation {id} of yours"),
        ("reply to nothing", NotFound, "there is no message 9 of yours to reply to in this conversation"),
    ],
)
def test_a_message_that_cannot_be_sent_says_why(alice, bob, carol, case, error, detail) -> None:
    created = conversations.create_group(alice, "trip", ["bob"], "g1", max_members=10)
    group = created.conversation.pk
    sender, reply_to = {"former member": (bob, None), "never a member": (carol, None)}.get(case, (alice, 9))
    if case == "former member":
        conversations.leave(bob, group, "leave-1")
    with pytest.raises(error) as refused:
        events.create_message(group, sender, "hello", uuid.uuid4().hex, reply_to=reply_to)
    assert str(refused.value) == detail.format(id=group)


def test_a_conflicting_first_message_leaves_a_group_without_a_last_message(alice, bob, carol) -> None:
    send(direct(alice, carol), alice, client_id="used")
    group = conversations.create_group(alice, "trip", ["bob"], "g1", max_members=10).conversation
    with pytest.raises(Conflict):
        events.create_message(group.pk, alice, "hello", "used")
    group.refresh_from_db()
    assert (group.last_seq, group.last_message_seq) == (1, 0)
    assert conversations.summaries_for(bob, [group.pk])[0].last_message is None


def test_a_resent_reply_whose_original_the_sender_hid_since_still_names_it_without_a_quote(alice, bob) -> None:
    from messaging.store.message_actions import hide_messages

    conversation = direct(alice, bob)
    original = send(conversation, alice, "where?").event.seq
    events.create_message(conversation.pk, bob, "here", "r1", reply_to=original)
    hide_messages(bob, conversation.pk, [original])
    again = events.create_message(conversation.pk, bob, "here", "r1", reply_to=original)
    reply = again.event.view.reply_to
    assert (reply.seq, reply.sender, reply.preview) == (original, None, None)


def test_a_failed_read_of_who_new_messages_notify_is_recorded_and_the_messages_stay_stored(
    alice, bob, monkeypatch
) -> None:
    from django.db import OperationalError

    from messaging.models import MessagingError

    def refused(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(events, "new_message_recipients", refused)
    conversation = direct(alice, bob)
    [outcome] = events.create_messages([NewMessage(conversation.pk, alice, "hi", "a1")], notify_expiry=30)
    assert outcome.created and outcome.notify is None
    [row] = MessagingError.objects.all()
    assert (row.category, row.message, row.context["exception"]) == (
        "database_error",
        "could not read who new messages notify",
        "OperationalError: database is locked",
    )


def test_a_refused_reply_in_a_batch_leaves_the_messages_after_it_stored(alice, bob) -> None:
    conversation = direct(alice, bob)
    outcomes = events.create_messages(
        [
            NewMessage(conversation.pk, alice, "to nothing", "a1", reply_to=99),
            NewMessage(conversation.pk, alice, "fine", "a2"),
        ]
    )
    assert isinstance(outcomes[0], NotFound)
    assert outcomes[1].created and outcomes[1].event.seq == 1


def test_messages_the_database_refused_on_every_attempt_are_recorded_with_their_client_ids(
    alice, bob, monkeypatch
) -> None:
    from messaging.models import MessagingError
    from messaging.retry_handler import RetriesExhausted
    from messaging.store.errors import Unavailable

    def gave_up(function, *args, **kwargs):
        raise RetriesExhausted(3, OperationalError("database is locked"))

    monkeypatch.setattr(events.database_retry, "call", gave_up)
    conversation = direct(alice, bob)
    outcomes = events.create_messages(
        [NewMessage(conversation.pk, alice, "one", "a1"), NewMessage(conversation.pk, alice, "two", "a2")]
    )
    assert all(isinstance(o, Unavailable) for o in outcomes)
    [row] = MessagingError.objects.all()
    assert (row.category, row.message, row.user_id) == ("database_error", "could not store 2 message(s)", alice.pk)
    assert (row.context["client_ids"], row.context["attempts"]) == (["a1", "a2"], 3)
    assert row.context["exception"] == "OperationalError: database is locked"


def test_a_former_members_resent_reply_stays_refused(alice, bob, carol) -> None:
    group = conversations.create_group(alice, "trip", ["bob", "carol"], "g1", max_members=10).conversation.pk
    original = events.create_message(group, alice, "where?", "a1").event.seq
    events.create_message(group, carol, "here", "c1", reply_to=original)
    conversations.leave(carol, group, "leave-1")
    with pytest.raises(Forbidden):
        events.create_message(group, carol, "here", "c1", reply_to=original)


def test_a_batch_of_one_senders_messages_to_one_conversation_takes_its_seqs_in_one_update(alice, bob) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    with CaptureQueriesContext(connection) as queries:
        events.create_messages([NewMessage(direct.pk, alice, f"m{n}", uuid.uuid4().hex) for n in range(4)])
    updates = [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "messaging_conversation"')]
    assert len(updates) == 1
    assert [e.seq for e in Event.objects.filter(conversation=direct).order_by("seq")] == [1, 2, 3, 4]
