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
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from messaging import conf
from messaging.models import Notification, Participant
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
