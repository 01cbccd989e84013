"""Search's security boundary: a user finds exactly the messages they may see that match, on both stacks.

What a user may find: messages of conversations they are (or were) a member
of, inside their window (``joined_seq <= seq <= left_seq``), not deleted,
archived ones included. The property test builds random histories through
the store (groups, direct chats, sends, adds, removals, leaves, edits,
purges, deletions, archiving) and compares every search, page by page and
by both of the search's plans, with a plain-Python oracle.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.models import ArchivedEvent, Conversation, Event, EventKind, Participant, SearchEntry, SearchQueue
from messaging.ops.archive import archive
from messaging.store import conversations, events
from messaging.store.errors import StoreError
from messaging.store.search import search
from messaging.store.search.query import matches, parse
from messaging.store.search.text import search_text

from .groups import make_group, new_client_id

pytestmark = pytest.mark.django_db(transaction=True)

#: words that exercise every rule: infixes, prefixes, short words, unspaced scripts, folding, emoji
WORDS = [
    "deploy",
    "deployment",
    "redeploy",
    "go",
    "good",
    "東京",
    "東京都",
    "京都",
    "Straße",
    "strasse",
    "ёлка",
    "елка",
    "👍",
    "👍🏽",
    "e-mail",
    "email",
    "test",
    "latest",
    "Ünïcode",
    "unicode",
]
QUERIES = [
    "deploy",
    "deplo*",
    "ploy",
    "go",
    '"deploy good"',
    "東京",
    "京",
    "strasse",
    "ёлка",
    "👍",
    "e-mail",
    "test",
    "unicode",
    "go test",
    "from:bob test",
    "from:me deploy",
    "nothing-matches-this",
]


def hidden(member: Participant, seq: int) -> bool:
    """The oracle's twin of ``plan.hidden_for_member``: nothing is hidden per member yet (delete for me comes with message actions)."""
    return False


def oracle(user: Any, text: str) -> list[int]:
    """The messages ``user`` may see that match ``text``, newest first, by reading every message."""
    query = parse(text, me=user.get_username())
    members = {p.conversation_id: p for p in Participant.objects.filter(user=user)}
    senders = None
    if query.senders:
        senders = set(type(user).objects.filter(username__in=query.senders).values_list("pk", flat=True))
    found = []
    for model in (Event, ArchivedEvent):
        for event in model.objects.filter(kind=EventKind.MESSAGE):
            member = members.get(event.conversation_id)
            if member is None or event.seq < member.joined_seq:
                continue
            if member.left_seq is not None and event.seq > member.left_seq:
                continue
            if hidden(member, event.seq) or (senders is not None and event.sender_id not in senders):
                continue
            if matches(search_text(event.content), query):
                found.append(event.pk)
    return sorted(found, reverse=True)


def every_page(user: Any, text: str, *, plan: str | None = None, limit: int = 3) -> list[int]:
    """Every hit of a search, following ``next``, in the order given."""
    ids: list[int] = []
    cursor = None
    while True:
        page = search(user, text, cursor=cursor, limit=limit, force_plan=plan)
        ids += [hit.event_id for hit in page.hits]
        if page.next is None:
            return ids
        cursor = page.next


def send(user: Any, conversation_id: int, content: str) -> int:
    return events.create_message(conversation_id, user, content, new_client_id()).event.seq


# --- The boundary, case by case ---------------------------------------------------------


@pytest.fixture
def dave(transactional_db: None, make_user: Callable[[str], Any]) -> Any:
    return make_user("dave")


def found(user: Any, text: str) -> list[str]:
    return [hit.snippet.text for hit in search(user, text).hits]


def test_a_user_never_finds_a_message_of_a_conversation_they_are_not_in(alice: Any, bob: Any, carol: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "the secret launch code")
    assert found(bob, "secret") == ["the secret launch code"]
    assert found(carol, "secret") == []
    assert found(carol, f"in:{direct.pk} secret") == []


def test_a_removed_member_finds_what_came_before_their_removal_and_nothing_after(
    alice: Any, bob: Any, carol: Any
) -> None:
    group = make_group(alice, [bob, carol])
    send(alice, group, "plan before")
    conversations.remove_member(alice, group, "carol", new_client_id())
    send(alice, group, "plan after")
    assert found(carol, "plan") == ["plan before"]
    assert found(bob, "plan") == ["plan after", "plan before"]


def test_a_member_added_later_finds_nothing_from_before_they_joined(
    alice: Any, bob: Any, carol: Any, dave: Any
) -> None:
    group = make_group(alice, [bob])
    send(bob, group, "budget draft one")
    conversations.add_members(alice, group, ["dave"], new_client_id(), max_members=10)
    send(bob, group, "budget draft two")
    assert found(dave, "budget") == ["budget draft two"]


def test_a_member_who_left_keeps_finding_what_they_could_see(alice: Any, bob: Any, carol: Any) -> None:
    group = make_group(alice, [bob, carol])
    send(carol, group, "my holiday photos")
    conversations.leave(carol, group, new_client_id())
    send(alice, group, "more holiday photos")
    assert found(carol, "holiday") == ["my holiday photos"]


def test_archived_messages_are_found_with_the_others(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "old invoice")
    send(alice, direct.pk, "new invoice")
    archive(Event.objects.filter(conversation=direct, seq=1))
    assert ArchivedEvent.objects.filter(seq=1).exists()
    assert found(bob, "invoice") == ["new invoice", "old invoice"]


def test_a_purged_message_leaves_the_index_in_the_same_transaction(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "password is hunter2")
    search(bob, "hunter2")  # indexed by now
    assert SearchEntry.objects.filter(text__contains="hunter2").exists()
    with transaction.atomic():
        Event.objects.filter(conversation=direct, seq=1).update(content="")
        assert not SearchEntry.objects.filter(text__contains="hunter2").exists()
    assert found(bob, "hunter2") == []


def test_a_deleted_message_is_not_found(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "delete me please")
    assert found(bob, "please") == ["delete me please"]
    Event.objects.filter(conversation=direct, seq=1).delete()
    assert found(bob, "please") == []
    assert not SearchEntry.objects.exists()


def test_an_edited_message_is_found_by_its_new_text_only_and_at_once(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "meet at noon")
    assert found(bob, "noon") == ["meet at noon"]
    Event.objects.filter(conversation=direct, seq=1).update(content="meet at midnight")
    assert found(bob, "noon") == []
    assert found(bob, "midnight") == ["meet at midnight"]


def test_a_message_is_found_by_the_next_search_without_waiting_for_the_indexer(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "fresh off the press")
    assert SearchQueue.objects.exists(), "queued by the trigger, not indexed on the send path"
    assert not SearchEntry.objects.exists()
    assert found(alice, "press") == ["fresh off the press"]


def test_membership_events_and_other_kinds_are_never_found(alice: Any, bob: Any, carol: Any) -> None:
    make_group(alice, [bob, carol], title="Searchable title")
    assert found(alice, "searchable") == [] and found(alice, "carol") == []


# --- The property ------------------------------------------------------------------------

N_USERS = 4
operations = st.lists(
    st.one_of(
        st.tuples(st.just("group"), st.integers(0, N_USERS - 1), st.sets(st.integers(0, N_USERS - 1), min_size=1)),
        st.tuples(st.just("direct"), st.integers(0, N_USERS - 1), st.integers(0, N_USERS - 1)),
        st.tuples(
            st.just("send"),
            st.integers(0, 20),
            st.integers(0, N_USERS - 1),
            st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
        ),
        st.tuples(
            st.just("send"),
            st.integers(0, 20),
            st.integers(0, N_USERS - 1),
            st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
        ),
        st.tuples(st.just("add"), st.integers(0, 20), st.integers(0, N_USERS - 1)),
        st.tuples(st.just("remove"), st.integers(0, 20), st.integers(0, N_USERS - 1)),
        st.tuples(st.just("leave"), st.integers(0, 20), st.integers(0, N_USERS - 1)),
        st.tuples(st.just("edit"), st.integers(0, 50), st.lists(st.sampled_from(WORDS), min_size=0, max_size=3)),
        st.tuples(st.just("delete"), st.integers(0, 50)),
        st.tuples(st.just("archive"), st.integers(0, 50)),
    ),
    max_size=30,
)


def apply(users: list[Any], ops: list[tuple[Any, ...]]) -> None:
    """Play ``ops`` through the store; what the store refuses (not a member, a direct chat with oneself) is skipped."""
    made: list[int] = []

    def conversation(index: int) -> int | None:
        return made[index % len(made)] if made else None

    for op in ops:
        kind = op[0]
        try:
            if kind == "group":
                others = [users[i] for i in sorted(op[2]) if i != op[1]]
                if others:
                    made.append(make_group(users[op[1]], others))
            elif kind == "direct" and op[1] != op[2]:
                made.append(conversations.get_or_create_direct(users[op[1]], users[op[2]])[0].pk)
            elif kind == "send" and made:
                send(users[op[2]], conversation(op[1]), " ".join(op[3]))
            elif kind in ("add", "remove", "leave") and made:
                target = conversation(op[1])
                owner = Participant.objects.filter(conversation_id=target, role="owner", left_seq__isnull=True).first()
                if owner is None:
                    continue
                name = users[op[2]].get_username()
                if kind == "add":
                    conversations.add_members(owner.user, target, [name], new_client_id(), max_members=10)
                elif kind == "remove":
                    conversations.remove_member(owner.user, target, name, new_client_id())
                else:
                    conversations.leave(users[op[2]], target, new_client_id())
            elif kind in ("edit", "delete", "archive"):
                messages = list(
                    Event.objects.filter(kind=EventKind.MESSAGE).order_by("pk").values_list("pk", flat=True)
                )
                if not messages:
                    continue
                pk = messages[op[1] % len(messages)]
                if kind == "edit":
                    Event.objects.filter(pk=pk).update(content=" ".join(op[2]))  # an edit, or a purge when empty
                elif kind == "delete":
                    Event.objects.filter(pk=pk).delete()
                else:
                    archive(Event.objects.filter(pk__lte=pk))
        except StoreError:
            continue


def clear() -> None:
    Conversation.objects.all().delete()
    ArchivedEvent.objects.all().delete()
    SearchQueue.objects.all().delete()


@pytest.mark.slow
@given(ops=operations, queries=st.lists(st.sampled_from(QUERIES), min_size=2, max_size=4))
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_search_returns_exactly_the_visible_matching_messages_newest_first(
    transactional_db: None, make_user: Callable[[str], Any], ops: list[tuple[Any, ...]], queries: list[str]
) -> None:
    users = _users(make_user)
    clear()
    try:
        apply(users, ops)
        for user in users:
            for text in queries:
                expected = oracle(user, text)
                assert every_page(user, text, plan="member") == expected, (user.username, text)
                assert every_page(user, text, plan="index") == expected, (user.username, text)
                if "from:" in text:
                    assert every_page(user, text, plan="sender") == expected, (user.username, text)
    finally:
        clear()


def _users(make_user: Callable[[str], Any]) -> list[Any]:
    from django.contrib.auth import get_user_model

    names = ["alice", "bob", "carol", "dave"][:N_USERS]
    existing = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
    return [existing.get(name) or make_user(name) for name in names]


def test_both_databases_answer_with_their_own_index(alice: Any, bob: Any) -> None:
    """The stack in use is the one whose index answered (the suite runs on both)."""
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, f"marker {uuid.uuid4().hex[:6]}")
    search(bob, "marker")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT COUNT(*) FROM messaging_searchentry WHERE vector @@ %s::tsquery", ["'marker'"])
        else:
            cursor.execute(
                "SELECT COUNT(*) FROM messaging_search_fts WHERE messaging_search_fts MATCH %s", ['" marker "']
            )
        assert cursor.fetchone()[0] == 1


def test_a_new_message_is_found_at_once_even_behind_a_backlog_of_queued_ones(alice: Any, bob: Any) -> None:
    direct, _ = conversations.get_or_create_direct(alice, bob)
    send(alice, direct.pk, "old news")
    assert found(bob, "news") == ["old news"]
    SearchQueue.objects.bulk_create([SearchQueue(event_id=10**9 + n) for n in range(500)])  # gone messages, queued
    send(alice, direct.pk, "breaking news")
    assert found(bob, "news") == ["breaking news", "old news"]
    assert SearchQueue.objects.count() > 200, (
        "the search indexed the newest queued, and left the backlog to the indexer"
    )
