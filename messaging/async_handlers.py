"""``AsyncSafeMessageHandler``: the database layer as coroutines, the one face the consumers see.

Each call runs the :mod:`messaging.store` function of the same name in
Django's database thread through ``database_sync_to_async`` (which also
closes stale connections around it), so the event loop never blocks on the
database and no consumer touches the ORM. The fetches, which only read, run
on read threads with connections of their own instead
(``messaging/guards/read_threads.py``), so a commit never waits behind one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from channels.db import DatabaseSyncToAsync, database_sync_to_async

from .guards.database_thread import on_database_thread
from .guards.fair_turns import turns
from .guards.read_threads import read_executor, read_threads
from .guards.search import check_search_allowance
from .guards.work import metered
from .store import conversations, events, message_actions, notifications, presence, profiles, reading, receipts
from .store import search as search_store

P = ParamSpec("P")
R = TypeVar("R")


def _wrap(
    function: Callable[P, R], *, reads: bool = False, plain_hop: bool = False
) -> staticmethod[P, Coroutine[Any, Any, R]]:
    """The store function as a coroutine of the same parameters and result, so callers stay type-checked.

    The call waits for its user's turn at the database thread, round robin
    between users (``messaging/guards/fair_turns.py``), and its time there
    counts toward the caller's fetch budget when the caller is metering
    (``messaging/guards/work.py``). ``reads``: the function only reads, and
    runs on the read threads (with turns of their own) when there are any.
    ``plain_hop``: reach the database thread without asgiref's per-call
    bookkeeping (``guards/database_thread.py``), for the group commit's calls,
    which every message makes.
    """
    timed = metered(function)
    call: Callable[P, Coroutine[Any, Any, R]] = (
        functools.partial(on_database_thread, timed) if plain_hop else database_sync_to_async(timed)
    )
    on_pool: dict[object, Callable[P, Coroutine[Any, Any, R]]] = {}

    @functools.wraps(function)
    async def in_turn(*args: P.args, **kwargs: P.kwargs) -> R:
        size = read_threads() if reads else 0
        pool = read_executor(size)
        if pool is None:
            gate, run = turns(), call
        else:
            gate = turns(pool, depth=size + 1)  # every thread busy, one call ready behind them
            found = on_pool.get(pool)
            if found is None:
                found = on_pool[pool] = DatabaseSyncToAsync(timed, thread_sensitive=False, executor=pool)
            run = found
        await gate.acquire()
        try:
            return await run(*args, **kwargs)
        finally:
            gate.release()

    return staticmethod(in_turn)


def _read(function: Callable[P, R]) -> staticmethod[P, Coroutine[Any, Any, R]]:
    """:func:`_wrap` for a function that only reads: a fetch, on the read threads."""
    return _wrap(function, reads=True)


class AsyncSafeMessageHandler:
    """The store's operations, awaitable from a consumer."""

    # conversations and memberships
    windows_of = _wrap(conversations.windows_of)
    window = _wrap(conversations.window)
    member_of = _wrap(conversations.member_of)
    summaries_for = _wrap(conversations.summaries_for)
    inbox_page = _wrap(conversations.inbox_page)
    summary_of = _wrap(conversations.summary_of)
    receipts_of = _wrap(conversations.receipts_of)
    current_members = _wrap(conversations.current_members)
    create_group = _wrap(conversations.create_group)
    add_members = _wrap(conversations.add_members)
    remove_member = _wrap(conversations.remove_member)
    leave = _wrap(conversations.leave)
    rename = _wrap(conversations.rename)
    set_role = _wrap(conversations.set_role)
    mute = _wrap(conversations.mute)
    pin = _wrap(conversations.pin)
    # the log
    create_messages = _wrap(events.create_messages, plain_hop=True)
    # doing things to a message
    edit_message = _wrap(message_actions.edit_message)
    delete_message = _wrap(message_actions.delete_message)
    react = _wrap(message_actions.react)
    hide_messages = _wrap(message_actions.hide_messages)
    clear_conversation = _wrap(message_actions.clear_conversation)
    edit_history = _read(message_actions.edit_history)
    around_page = _read(reading.around_page)
    repeat_of_message = _wrap(events.repeat_of_message)
    # receipts
    move_cursors = _wrap(receipts.move_cursors)
    apply_receipts = _wrap(receipts.apply_receipts, plain_hop=True)
    # presence
    register_connection = _wrap(presence.register_connection)
    unregister_connection = _wrap(presence.unregister_connection)
    set_viewing = _wrap(presence.set_viewing)
    refresh_connections = _wrap(presence.refresh_connections)
    sweep_expired_connections = _wrap(presence.sweep_expired_connections)
    presence_of = _wrap(presence.presence_of)
    presence_of_many = _wrap(presence.presence_of_many)
    # notifications
    notification_unread_count = _wrap(notifications.notification_unread_count)
    mark_notification_read = _wrap(notifications.mark_notification_read)
    mark_all_notifications_read = _wrap(notifications.mark_all_notifications_read)
    list_notifications = _read(notifications.list_notifications)
    # composite reads: one trip per request
    open_session = _wrap(reading.open_session)
    open_notifications = _wrap(reading.open_notifications)
    open_direct = _wrap(reading.open_direct)
    direct_snapshot = _wrap(reading.direct_snapshot)
    sync_page = _read(reading.sync_page)
    history_page = _read(reading.history_page)
    inbox = _read(reading.inbox)
    resume = _read(reading.resume)
    members = _read(reading.members)
    peer_receipts = _read(reading.peer_receipts)
    notice_summaries = _wrap(conversations.notice_summaries)
    direct_with = _wrap(conversations.direct_with)
    # people
    user_with_profile = _wrap(profiles.user_with_profile)
    # search
    search = _read(search_store.search)
    check_search_allowance = _wrap(check_search_allowance)
