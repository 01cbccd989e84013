"""How a search reads its rows: the sender walk in steps and the first page's total, exactly as one plain read.

The plans are chosen for speed (docs/benchmark.md, "Issue 16"); these tests
hold them to the rows of the simplest read, whatever the step sizes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.db import connection

from messaging.store import search as search_store
from messaging.store.search import index, plan
from messaging.store.search.query import parse

from .groups import make_group
from .test_search_visibility import every_page, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def history(alice: Any, bob: Any, carol: Any) -> dict[str, int]:
    """Alice's own messages in a group and a direct chat, some matching, among other people's."""
    group = make_group(alice, [bob, carol])
    direct = make_group(alice, [bob], "Pair")
    for n in range(9):
        send(alice, group if n % 2 else direct, f"report {n}" if n % 3 else f"other {n}")
        send(bob, group, f"report from bob {n}")
        send(carol, group, f"report from carol {n}")
    index.drain_all()
    return {"group": group, "direct": direct}


def one_read(user: Any, text: str) -> list[int]:
    """Every match by the sender plan in one unbounded statement (no walk, no steps), newest first."""
    query = parse(text, me=user.get_username())
    filters = plan.Filters(user.pk, senders=[user.pk])
    sql, params = plan.by_sender(query.needles, filters, None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("step", [1, 2, 5, 1000])
def test_the_sender_walk_finds_exactly_the_rows_of_one_read_whatever_its_step(
    history: dict[str, int], alice: Any, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    monkeypatch.setattr(search_store, "SENDER_STEP", step)
    expected = one_read(alice, "from:me report")
    assert len(expected) == 6
    for limit in (1, 2, 4, 20):
        assert every_page(alice, "from:me report", plan="sender", limit=limit) == expected


def test_a_first_page_total_by_the_sender_walk_counts_every_match_up_to_the_cap(
    history: dict[str, int], alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_store, "SENDER_STEP", 1)
    page = search_store.search(alice, "from:me report", limit=2, force_plan="sender")
    assert page.total == search_store.Total(6, True) and len(page.hits) == 2
    monkeypatch.setattr(search_store, "COUNT_CAP", 4)
    page = search_store.search(alice, "from:me report", limit=2, force_plan="sender")
    assert page.total == search_store.Total(4, False)


@pytest.mark.parametrize("way", ["member", "index", "sender"])
def test_reading_more_matches_for_the_total_leaves_the_callers_filters_as_they_were(
    history: dict[str, int], alice: Any, way: str
) -> None:
    query = parse("from:me report", me=alice.get_username())
    filters = plan.Filters(alice.pk, senders=[alice.pk], below=None)
    before = dataclasses.replace(filters)
    first = search_store._rows(query, filters, 2, way)
    more = search_store._more_matches(query, filters, way, first[-1][0], 10)
    assert filters == before
    assert [row[0] for row in first + more] == one_read(alice, "from:me report")


@pytest.mark.parametrize("threshold", [-1, 10**9])
@pytest.mark.parametrize(("cap", "total"), [(7, search_store.Total(7, False)), (50, search_store.Total(24, True))])
def test_a_first_page_by_the_index_gives_the_same_page_and_total_in_steps_or_in_one_read(
    history: dict[str, int],
    alice: Any,
    monkeypatch: pytest.MonkeyPatch,
    threshold: int,
    cap: int,
    total: search_store.Total,
) -> None:
    """On PostgreSQL -1 makes every index search step (any estimate is above it), 10**9 read at once; SQLite always
    reads at once. Under the cap the steps count every match once; over it, up to the cap."""
    monkeypatch.setattr(search_store, "STEP_ABOVE_CANDIDATES", threshold)
    monkeypatch.setattr(search_store, "COUNT_CAP", cap)
    page = search_store.search(alice, "report", limit=2, force_plan="index")
    expected = search_store.search(alice, "report", limit=50, force_plan="member")
    assert [hit.event_id for hit in page.hits] == [hit.event_id for hit in expected.hits][:2]
    assert page.total == total and expected.total == total
    assert len(expected.hits) == 24


@pytest.mark.parametrize("threshold", [-1, 10**9])
def test_a_first_page_by_the_index_that_finds_nothing_totals_zero_in_steps_or_in_one_read(
    history: dict[str, int], alice: Any, monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    monkeypatch.setattr(search_store, "STEP_ABOVE_CANDIDATES", threshold)
    page = search_store.search(alice, "nowhere", limit=2, force_plan="index")
    assert (page.hits, page.next, page.total) == ([], None, search_store.Total(0, True))


def test_a_common_word_is_read_from_the_searchers_messages_unless_their_windows_are_large(
    history: dict[str, int], alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows over the member limit, and a word the index would give many candidates for.
    monkeypatch.setattr(search_store, "MEMBER_SCAN_LIMIT", 0)
    monkeypatch.setattr(search_store, "_many_candidates", lambda query: True)
    by_member = search_store.search(alice, "report")
    assert by_member.plan == "member"
    monkeypatch.setattr(search_store, "COMMON_WORD_MEMBER_LIMIT", 0)
    by_index = search_store.search(alice, "report")
    assert by_index.plan == "index"
    assert [hit.event_id for hit in by_member.hits] == [hit.event_id for hit in by_index.hits]


def test_a_rare_word_with_windows_over_the_member_limit_is_read_through_the_index(
    history: dict[str, int], alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_store, "MEMBER_SCAN_LIMIT", 0)
    # On a small database no word has many candidates, on PostgreSQL by the planner's estimate too.
    assert not search_store._many_candidates(parse("report", me="alice"))
    assert search_store.search(alice, "report").plan == "index"


def test_the_sender_walk_of_two_people_who_share_every_conversation_of_the_searcher_finds_both(
    alice: Any, bob: Any, carol: Any
) -> None:
    group = make_group(alice, [bob, carol])  # alice's only conversation: from: narrows nothing
    for who in (alice, bob, carol):
        send(who, group, f"report by {who.username}")
    index.drain_all()
    page = search_store.search(alice, "from:bob from:carol report", force_plan="sender")
    assert sorted(hit.sender for hit in page.hits) == ["bob", "carol"]


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("ploy", "we deployed it"),  # a piece inside a word: its trigrams
        ("de*", "deploying now"),  # a short prefix: a prefix lexeme
        ("e-mail", "e-mailing you"),  # a word, then a word open at its end
    ],
)
def test_the_index_finds_pieces_of_words_and_prefixes_as_the_searchers_messages_do(
    alice: Any, bob: Any, query: str, wanted: str
) -> None:
    group = make_group(alice, [bob])
    send(alice, group, wanted)
    send(alice, group, "nothing of the kind")
    index.drain_all()
    by_index = search_store.search(bob, query, force_plan="index").hits
    by_member = search_store.search(bob, query, force_plan="member").hits
    assert [h.snippet.text for h in by_index] == [h.snippet.text for h in by_member] == [wanted]


def test_a_word_longer_than_a_lexeme_may_be_is_indexed_clipped_and_its_message_found(alice: Any, bob: Any) -> None:
    group = make_group(alice, [bob])
    long_word = "a" + "ж" * 1500  # 3,001 UTF-8 bytes once folded: the 2,000-byte cut falls inside a "ж"
    send(alice, group, f"lantern {long_word}")
    assert index.drain_all() == 1
    assert [h.seq for h in search_store.search(bob, "lantern", force_plan="index").hits] == [2]
