"""Statements on the send path, run on the database driver's cursor rather than through Django's.

Every message makes the same few statements (take its seq, insert it, read
whom it notifies). Through Django's cursor each one also pays for its
wrappers, and on SQLite for a regular expression that rewrites ``%s`` into
``?``: Python time on the database thread, which the event loop waits for
(the GIL). The statements here are written once per process in the
driver's own placeholder style (:func:`placeholders`) and handed to the
driver's cursor under Django's (:func:`driver_execute`), whose
``wrap_database_errors`` still turns the driver's errors into Django's.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from django.db.backends.utils import CursorDebugWrapper


def placeholders(sql: str, vendor: str) -> str:
    """``sql`` written with Django's ``%s`` in the placeholder style of ``vendor``'s driver."""
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


def driver_execute(cursor: Any) -> Callable[[str, Sequence[Any]], Any]:
    """``execute(sql, params)`` on the database driver's cursor under Django's ``cursor``; returns that cursor.

    The SQL must be in the driver's placeholder style (:func:`placeholders`).
    On SQLite, Django's own cursor class is a ``sqlite3.Cursor`` whose
    ``execute`` rewrites the placeholders: the driver's method is called on
    it directly. While Django logs queries each statement goes into its log
    too (``connection.queries``).
    """
    driver_cursor = cursor.cursor
    execute: Callable[[str, Sequence[Any]], Any]
    if cursor.db.vendor == "sqlite":
        execute = functools.partial(sqlite3.Cursor.execute, driver_cursor)
    else:
        execute = driver_cursor.execute
    if not isinstance(cursor, CursorDebugWrapper):
        return execute

    def logged(sql: str, params: Sequence[Any]) -> Any:
        # Django hands out its debug wrapper while queries are logged (DEBUG,
        # CaptureQueriesContext, the benchmark's queries per operation): the
        # statements are recorded as its own are, so nothing undercounts them.
        with cursor.debug_sql(sql, params):
            return execute(sql, params)

    return logged
