"""Pages are bounded by bytes as well as by count: a page of maximal messages still goes out, cut, with has_more.

A message is at most ``MESSAGING_MAX_LENGTH`` code points; 4000 emoji are
16 000 bytes of UTF-8, so 100 of them make a 1.6 MB page, over the 1 MiB that
autobahn can send. Every page stays within ``MESSAGING_PAGE_BYTES`` and the
client gets everything by following ``has_more``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from messaging import conf
from messaging.actions import pages
from messaging.models import Notification, Participant
from messaging.serializers import JSONSerializer
from messaging.store.conversations import get_or_create_direct
from messaging.store.events import NewMessage, create_messages

pytestmark = pytest.mark.django_db(transaction=True)

#: the longest message there is, and the widest: four bytes per code point
LONGEST = "\U0001f600" * conf.DEFAULT_MAX_LENGTH
COUNT = 100
BUDGET = conf.DEFAULT_PAGE_BYTES


def store_longest(sender: Any, conversation: int, count: int = COUNT) -> None:
    for start in range(0, count, 50):
        create_messages(
            [NewMessage(conversation, sender, LONGEST, uuid.uuid4().hex) for _ in range(start, min(count, start + 50))]
        )


@pytest.fixture
def full_conversation(alice, bob) -> int:
    conversation = get_or_create_direct(alice, bob)[0].pk
    store_longest(alice, conversation)
    return conversation


def size(frame: dict[str, Any]) -> int:
    return len(json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode())


async def test_sync_pages_of_maximal_messages_stay_within_the_budget_and_bring_every_message(
    full_conversation, bob, open_socket
) -> None:
    socket = await open_socket(bob, "/ws/chat/")
    seen: list[int] = []
    after, pages = 0, 0
    while True:
        await socket.send({"type": "sync", "conversation": full_conversation, "after": after, "limit": 100})
        page = await socket.expect("sync", timeout=10)
        pages += 1
        assert size(page) <= BUDGET and page["events"]
        seen += [e["seq"] for e in page["events"]]
        if not page["has_more"]:
            break
        after = page["events"][-1]["seq"]
    assert seen == list(range(1, COUNT + 1)) and pages > 1


async def test_history_pages_of_maximal_messages_stay_within_the_budget(full_conversation, bob, open_socket) -> None:
    socket = await open_socket(bob, "/ws/chat/")
    await socket.send({"type": "history", "conversation": full_conversation, "before": None, "limit": 100})
    page = await socket.expect("history", timeout=10)
    assert size(page) <= BUDGET and page["has_more"]
    assert [e["seq"] for e in page["events"]] == list(range(COUNT, COUNT - len(page["events"]), -1))


async def test_the_one_to_one_views_sync_is_cut_too_and_delivers_only_what_it_held(
    full_conversation, bob, open_socket
) -> None:
    socket = await open_socket(bob, "/ws/chat/alice/")
    await socket.send({"type": "sync", "after": 0})
    page = await socket.expect("sync", timeout=10)
    assert size(page) <= BUDGET and page["has_more"]
    held = page["messages"][-1]["seq"]
    assert held < COUNT

    @database_sync_to_async
    def delivered() -> int:
        return Participant.objects.get(conversation_id=full_conversation, user=bob).delivered_seq

    for _ in range(50):
        if await delivered():
            break
        await asyncio.sleep(0.05)
    assert await delivered() == held


async def test_resume_answers_within_the_budget_and_names_what_it_left_out(alice, bob, carol, open_socket) -> None:
    first = await database_sync_to_async(lambda: get_or_create_direct(alice, bob)[0].pk)()
    second = await database_sync_to_async(lambda: get_or_create_direct(alice, carol)[0].pk)()
    await database_sync_to_async(store_longest)(bob, first, 20)
    await database_sync_to_async(store_longest)(carol, second, 20)
    socket = await open_socket(alice, "/ws/chat/")
    await socket.send({"type": "resume", "cursors": {str(first): 0, str(second): 0}})
    answer = await socket.expect("resume", timeout=10)
    assert size(answer) <= BUDGET
    entries = {c["id"]: c for c in answer["conversations"]}
    assert all(c["has_more"] for c in entries.values() if len(c["events"]) < 20)
    assert set(entries) | set(answer.get("unanswered", [])) == {first, second}


@override_settings(MESSAGING_PAGE_BYTES=2 * conf.DEFAULT_MAX_FRAME_BYTES)
async def test_the_inbox_is_cut_by_bytes_and_its_next_cursor_resumes_after_the_last_one_sent(
    alice, make_user, open_socket
) -> None:
    @database_sync_to_async
    def many() -> set[int]:
        ids = set()
        for i in range(12):
            peer = make_user(f"peer{i}")
            conversation = get_or_create_direct(alice, peer)[0].pk
            store_longest(peer, conversation, 1)
            ids.add(conversation)
        return ids

    expected = await many()
    socket = await open_socket(alice, "/ws/chat/")
    seen: list[int] = []
    before = None
    while True:
        await socket.send({"type": "conversations", "before": before, "limit": 100})
        page = await socket.expect("conversations", timeout=10)
        assert size(page) <= 2 * conf.DEFAULT_MAX_FRAME_BYTES
        seen += [c["id"] for c in page["conversations"]]
        if not page["has_more"]:
            break
        before = page["next"]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))


@override_settings(MESSAGING_PAGE_BYTES=2 * conf.DEFAULT_MAX_FRAME_BYTES)
async def test_the_notifications_list_is_cut_by_bytes(alice, open_socket) -> None:
    await database_sync_to_async(Notification.objects.bulk_create)(
        [Notification(user=alice, kind="new_message", title="t", body=LONGEST, url="/") for _ in range(30)]
    )
    socket = await open_socket(alice, "/ws/notifications/")
    await socket.send({"type": "list", "before": None, "limit": 100})
    page = await socket.expect("notifications", timeout=10)
    assert size(page) <= 2 * conf.DEFAULT_MAX_FRAME_BYTES and page["has_more"] and page["items"]


def test_the_http_events_and_history_pages_are_cut_too(full_conversation, bob) -> None:
    client = Client()
    client.force_login(bob)
    for path in ("events?after=0&limit=100", "history?limit=100"):
        response = client.get(f"/messages/api/conversations/{full_conversation}/{path}")
        assert response.status_code == 200 and len(response.content) <= BUDGET
        assert response.json()["has_more"]
    first_contract = client.get("/messages/api/alice/history?after=0&limit=100")
    assert len(first_contract.content) <= BUDGET and first_contract.json()["has_more"]


@pytest.mark.parametrize("page_bytes", [conf.DEFAULT_MAX_FRAME_BYTES, conf.DAPHNE_MAX_MESSAGE_BYTES])
def test_a_page_budget_that_cannot_hold_two_items_or_nears_the_frame_limit_is_refused(page_bytes: int) -> None:
    with override_settings(MESSAGING_PAGE_BYTES=page_bytes), pytest.raises(ImproperlyConfigured):
        conf.limits()


# --- The cutting itself (messaging.actions.pages), on pages of known sizes ---------------

#: a two-byte code point: sizes are counted in UTF-8 bytes, not characters
WIDE = "\u00e9"


def event_list(count: int, width: int = 10) -> list[str]:
    return [WIDE * width for _ in range(count)]


def page_of(items: list[str]) -> Callable[[int], dict[str, Any]]:
    def build(k: int) -> dict[str, Any]:
        return {"type": "sync", "events": items[:k], "has_more": k < len(items)}

    return build


def text_size(frame: dict[str, Any]) -> int:
    return len(JSONSerializer.dumps(frame).encode("utf-8"))


def test_page_sizes_are_counted_in_utf8_bytes() -> None:
    assert (pages.size_of("abc"), pages.size_of(WIDE), pages.size_of("\U0001f600"), pages.size_of("a" + WIDE)) == (
        3,
        2,
        4,
        3,
    )


def test_a_page_exactly_at_the_budget_goes_whole() -> None:
    build = page_of(event_list(5))
    whole = JSONSerializer.dumps(build(5))
    assert pages.fit(build, 5, text_size(build(5))) == (whole, 5)


def test_an_over_budget_page_is_the_longest_prefix_within_the_budget() -> None:
    items = event_list(9)
    build = page_of(items)
    for budget in range(text_size(build(1)), text_size(build(9))):
        text, k = pages.fit(build, len(items), budget)
        assert text == JSONSerializer.dumps(build(k)) and 1 <= k < len(items)
        assert text_size(build(k)) <= budget < text_size(build(k + 1)), budget


def test_a_page_keeps_its_least_items_whatever_their_size() -> None:
    build = page_of(event_list(3))
    assert pages.fit(build, 3, 1) == (JSONSerializer.dumps(build(1)), 1)
    assert pages.fit(build, 3, 1, least=0) == (JSONSerializer.dumps(build(0)), 0)


def conversations_to_resume(*event_counts: int) -> list[tuple[int, list[str]]]:
    return [(100 + i, event_list(count)) for i, count in enumerate(event_counts)]


def render(entry: tuple[int, list[str]], k: int | None) -> dict[str, Any]:
    conversation, events = entry
    shown = events if k is None else events[:k]
    return {"id": conversation, "events": shown, "has_more": len(shown) < len(events)}


def resume_answer(rendered: list[dict[str, Any]], unanswered: list[int]) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "resume", "conversations": rendered}
    if unanswered:
        body["unanswered"] = unanswered
    return body


def resume_within(entries: list[tuple[int, list[str]]], budget: int) -> str:
    return pages.fit_resume(entries, render, lambda e: len(e[1]), resume_answer, lambda e: e[0], budget)


def test_a_resume_exactly_at_the_budget_answers_every_conversation_whole() -> None:
    entries = conversations_to_resume(3, 2, 4)
    whole = resume_answer([render(e, None) for e in entries], [])
    assert resume_within(entries, text_size(whole)) == JSONSerializer.dumps(whole)


def test_an_over_budget_resume_is_whole_conversations_then_one_cut_then_the_rest_named() -> None:
    entries = conversations_to_resume(4, 3, 5, 2)
    whole_size = text_size(resume_answer([render(e, None) for e in entries], []))
    smallest = text_size(resume_answer([render(entries[0], 0)], [e[0] for e in entries[1:]]))
    for budget in range(smallest, whole_size):
        text = resume_within(entries, budget)
        answer = json.loads(text)
        assert len(text.encode("utf-8")) <= budget, budget
        answered = answer["conversations"]
        *whole, last = answered
        assert whole == [render(e, None) for e in entries[: len(whole)]], budget
        assert last == render(entries[len(whole)], len(last["events"])), budget
        assert answer.get("unanswered", []) == [e[0] for e in entries[len(answered) :]], budget
        assert last["has_more"] or answer.get("unanswered"), budget


def test_a_resume_answers_its_first_conversation_even_when_not_one_event_fits() -> None:
    entries = conversations_to_resume(3, 3)
    answer = json.loads(resume_within(entries, 10))
    assert answer["conversations"] == [render(entries[0], 0)] and answer["unanswered"] == [entries[1][0]]
