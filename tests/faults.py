"""Faults the tests inject into the real database."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from channels.db import database_sync_to_async
from django.db import connection


class SqliteWriteLock:
    """Another connection holding SQLite's write lock (``BEGIN IMMEDIATE``) until released.

    ``with SqliteWriteLock() as lock:`` holds it from entry (entry fails if the
    lock cannot be taken); ``lock.release()`` (or leaving the block) lets it
    go, and ``lock.release(wait=True)`` returns once it is gone. An error of
    the thread that holds it is raised on release(wait=True) or on exit.
    """

    def __init__(self, hold_for_at_most: float = 10, take_within: float = 5) -> None:
        self.path = connection.settings_dict["NAME"]
        self.hold_for_at_most = hold_for_at_most
        self.take_within = take_within
        self._locked = threading.Event()
        self._released = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            other = sqlite3.connect(self.path, timeout=self.take_within)
            try:
                other.execute("BEGIN IMMEDIATE")
                self._locked.set()
                self._released.wait(self.hold_for_at_most)
                other.rollback()
            finally:
                other.close()
        except BaseException as exc:  # noqa: BLE001 - raised in the test's thread
            self._error = exc

    def _raise_error(self) -> None:
        if self._error is not None:
            raise RuntimeError("the thread holding SQLite's write lock failed") from self._error

    def release(self, wait: bool = False) -> None:
        self._released.set()
        if wait:
            self._thread.join()
            self._raise_error()

    def __enter__(self) -> SqliteWriteLock:
        self._thread.start()
        # Wait for the lock, or for the holder to give up (its error says why).
        deadline = time.monotonic() + self.take_within + 1
        while not self._locked.wait(0.01) and self._thread.is_alive() and time.monotonic() < deadline:
            pass
        if not self._locked.is_set():
            self.release(wait=True)
            raise RuntimeError(f"could not take SQLite's write lock on {self.path} within {self.take_within} s")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release(wait=True)


@contextlib.contextmanager
def sqlite_busy_timeout(seconds: float) -> Iterator[None]:
    """Connections opened inside wait at most ``seconds`` for the write lock (close yours first)."""
    options = connection.settings_dict["OPTIONS"]
    saved = options["timeout"]
    options["timeout"] = seconds
    try:
        yield
    finally:
        options["timeout"] = saved


#: for tests whose fault is SQLite's write lock (the deployment stack has no SQLite file to lock)
on_sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's write lock is the fault injected here"
)


def _close_this_threads_connection() -> None:
    connection.close()  # looked up in the thread this runs in: its own connection


async def reopen_database_thread_connection() -> None:
    """Close the database thread's connection, so the next one reads the changed OPTIONS."""
    await database_sync_to_async(_close_this_threads_connection)()


@contextlib.asynccontextmanager
async def database_locked(busy_timeout: float = 0.02) -> AsyncIterator[None]:
    """The database as the chat sees it while another connection holds SQLite's write lock.

    The database thread reconnects to wait at most ``busy_timeout`` for the
    lock, and reconnects again after, when the lock is gone.
    """
    with SqliteWriteLock(), sqlite_busy_timeout(busy_timeout):
        await reopen_database_thread_connection()
        yield
    await reopen_database_thread_connection()


def _rename_table(old: str, new: str) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {quote(old)} RENAME TO {quote(new)}")


@contextlib.contextmanager
def table_unreadable_here(table: str) -> Iterator[None]:
    """``table_unreadable`` for code that runs on this thread's connection (a synchronous test).

    In a test inside a transaction the rename is part of it, so a failing
    test leaves no renamed table behind either.
    """
    away = f"{table}_unreadable"
    _rename_table(table, away)
    try:
        yield
    finally:
        _rename_table(away, table)


@contextlib.asynccontextmanager
async def table_unreadable(table: str) -> AsyncIterator[None]:
    """The database as the chat sees it when it cannot read ``table``: renamed away for the block, back after.

    A real failure on both stacks: a read of ``table`` raises SQLite's
    ``OperationalError: no such table`` or PostgreSQL's ``ProgrammingError:
    relation ... does not exist``, while every other table answers. (SQLite's
    write lock cannot stand in for it: readers do not wait on it, in WAL.)
    The rename runs in the database thread, the connection the chat reads
    with; for ``transaction=True`` tests only (a schema change is no
    transaction's to roll back).
    """
    away = f"{table}_unreadable"
    await database_sync_to_async(_rename_table)(table, away)
    try:
        yield
    finally:
        await database_sync_to_async(_rename_table)(away, table)
