"""Emptying the database after a transactional test, without redoing what no test changed.

Django's ``TransactionTestCase`` ends each test with ``manage.py flush``: it
empties every table (``TRUNCATE`` of all of them on PostgreSQL, ``DELETE FROM``
each on SQLite) and then sends ``post_migrate``, whose receivers
(``create_contenttypes``, ``create_permissions``) write back the content types
and permissions the flush just removed. Measured on the suite, that was about
a quarter of a second a test on PostgreSQL (a ``TRUNCATE`` of ~40 tables, then
the two receivers' queries) and a tenth on SQLite, over ~1,300 transactional
tests a stack.

``flush_what_the_test_wrote`` leaves the same database behind: it empties, with
the statements Django's flush uses (``connection.ops.sql_flush``), the tables
that hold a row (and again, should a trigger have written to an empty one), and
keeps ``django_content_type`` and ``auth_permission`` as they are, which is what
the receivers would have written back. When a test did change those two tables (a migration test that migrates
back and forth), it falls back to Django's own flush, so the next test again
starts from what ``post_migrate`` writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.color import no_style
from django.db import connections

KEPT = ("django_content_type", "auth_permission")

# Per database alias: the (count, max id) of each kept table as post_migrate left it.
_kept_as_written: dict[str, tuple[tuple[int, int], ...]] = {}


def _kept_fingerprint(connection: Any) -> tuple[tuple[int, int], ...]:
    with connection.cursor() as cursor:
        seen = []
        for table in KEPT:
            cursor.execute(f"SELECT COUNT(*), COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
            count, highest = cursor.fetchone()
            seen.append((int(count), int(highest)))
        return tuple(seen)


def _tables_with_rows(connection: Any, tables: list[str]) -> list[str]:
    if not tables:
        return []
    quote = connection.ops.quote_name
    query = " UNION ALL ".join(
        f"SELECT {index} FROM (SELECT 1 FROM {quote(table)} LIMIT 1) AS t{index}" for index, table in enumerate(tables)
    )
    with connection.cursor() as cursor:
        cursor.execute(query)
        return [tables[row[0]] for row in cursor.fetchall()]


def flush_what_the_test_wrote(test_case: Any, django_flush: Callable[[Any], None]) -> None:
    """``TransactionTestCase._fixture_teardown`` for a test without ``available_apps`` or serialized rollback."""
    for alias in test_case._databases_names(include_mirrors=False):
        connection = connections[alias]
        if _kept_as_written.get(alias) != _kept_fingerprint(connection):
            django_flush(test_case)  # the first test, or one that changed the kept tables
            for other in test_case._databases_names(include_mirrors=False):
                _kept_as_written[other] = _kept_fingerprint(connections[other])
            return
    for alias in test_case._databases_names(include_mirrors=False):
        connection = connections[alias]
        tables = [
            table
            for table in connection.introspection.django_table_names(only_existing=True, include_views=False)
            if table not in KEPT
        ]
        # Until nothing is left: on SQLite a message's DELETE trigger queues it for the search
        # indexer (messaging_searchqueue), which may have been empty before.
        while written := _tables_with_rows(connection, tables):
            # CASCADE on PostgreSQL: a table may be truncated only with the (empty) tables that reference it.
            connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), written, allow_cascade=True))
