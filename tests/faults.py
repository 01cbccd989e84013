"""Faults the tests inject into the real database."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator

from django.db import connection


class SqliteWriteLock:
    """Another connection holding SQLite's write lock (``BEGIN IMMEDIATE``) until released.

    ``with SqliteWriteLock() as lock:`` holds it from entry; ``lock.release()``
    (or leaving the block) lets it go.
    """

    def __init__(self, hold_for_at_most: float = 10) -> None:
        self.path = connection.settings_dict["NAME"]
        self.hold_for_at_most = hold_for_at_most
        self._locked = threading.Event()
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        other = sqlite3.connect(self.path, timeout=5)
        other.execute("BEGIN IMMEDIATE")
        self._locked.set()
        self._released.wait(self.hold_for_at_most)
        other.rollback()
        other.close()

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> SqliteWriteLock:
        self._thread.start()
        self._locked.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._thread.join()


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
