"""Fetches run on read threads with connections of their own (``messaging/guards/read_threads.py``).

The behaviour that matters is that a commit does not wait behind a fetch: the
first test holds the read thread in a call and shows a call on the database
thread finishing meanwhile; with ``MESSAGING_READ_THREADS = 0`` the same
call waits, as it did before. The others check the routing and that a read
on its own connection sees what the database thread has just committed.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from messaging.async_handlers import AsyncSafeMessageHandler as db
from messaging.async_handlers import _wrap
from messaging.store.conversations import get_or_create_direct
from messaging.store.events import NewMessage, create_messages

# The calls' threads close stale connections around each call (Channels), which touches the database.
pytestmark = pytest.mark.django_db(transaction=True)

#: how long a call that should not wait is given (generous: the machine may be busy)
PATIENCE = 10.0
#: how long a call that should wait is watched before concluding it waits
WATCH = 0.3


def thread_name() -> str:
    return threading.current_thread().name


def blocking(entered: threading.Event, release: threading.Event) -> str:
    entered.set()
    release.wait(PATIENCE)
    return thread_name()


read_blocking = _wrap(blocking, reads=True).__func__
write_thread_name = _wrap(thread_name).__func__
read_thread_name = _wrap(thread_name, reads=True).__func__


async def hold_the_reads() -> tuple[asyncio.Task[str], threading.Event]:
    entered, release = threading.Event(), threading.Event()
    task = asyncio.create_task(read_blocking(entered, release))
    assert await asyncio.to_thread(entered.wait, PATIENCE)
    return task, release


@override_settings(MESSAGING_READ_THREADS=1)
async def test_a_database_thread_call_finishes_while_a_fetch_holds_the_read_thread() -> None:
    held, release = await hold_the_reads()
    try:
        name = await asyncio.wait_for(write_thread_name(), PATIENCE)
        assert not held.done()
    finally:
        release.set()
    assert (await held).startswith("linkup-db-read")
    assert not name.startswith("linkup-db-read")


@override_settings(MESSAGING_READ_THREADS=0)
async def test_with_no_read_threads_a_call_waits_behind_a_fetch_on_the_one_database_thread() -> None:
    held, release = await hold_the_reads()
    waiting = asyncio.create_task(write_thread_name())
    try:
        await asyncio.sleep(WATCH)
        assert not waiting.done()
    finally:
        release.set()
    assert await held == await waiting


@override_settings(MESSAGING_READ_THREADS=1)
async def test_only_the_calls_that_read_go_to_the_read_threads() -> None:
    assert (await read_thread_name()).startswith("linkup-db-read")
    assert not (await write_thread_name()).startswith("linkup-db-read")


@override_settings(MESSAGING_READ_THREADS=2)
async def test_the_read_threads_serve_as_many_fetches_at_once_as_there_are_threads() -> None:
    first, release_first = await hold_the_reads()
    second, release_second = await hold_the_reads()  # would never enter with one thread: the wait would time out
    release_first.set()
    release_second.set()
    assert {await first, await second} <= {f"linkup-db-read_{i}" for i in range(2)}


@override_settings(MESSAGING_READ_THREADS=1)
async def test_a_fetch_on_its_own_connection_sees_the_message_the_database_thread_just_committed(
    make_user: Any,
) -> None:
    alice, bob = await database_sync_to_async(lambda: (make_user("alice"), make_user("bob")))()
    conversation = (await database_sync_to_async(get_or_create_direct)(alice, bob))[0].pk
    for n in range(3):
        await database_sync_to_async(create_messages)([NewMessage(conversation, alice, f"m{n}", f"c{n}")])
        page = await db.sync_page(bob.pk, conversation, 0, 50)
        assert [e.content for e in page.page.events] == [f"m{i}" for i in range(n + 1)]
