"""Migration 0020: the foreign keys' own indexes go where a composite index starts with the column.

Only the indexes change: the tables (and, on SQLite, the search triggers on
them) stay, the lookups by each column still find an index, and the reverse
puts the indexes back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from messaging.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("messaging", "0019_search_fts_batch_insert")]
#: (table, column) that lose their own index, and the composite index that serves them
COVERED = {
    ("messaging_event", "conversation_id"): ["conversation_id", "seq"],
    ("messaging_event", "sender_id"): ["sender_id", "client_id"],
    ("messaging_archivedevent", "conversation_id"): ["conversation_id", "seq"],
    ("messaging_searchentry", "conversation_id"): ["conversation_id", "seq"],
    ("messaging_searchentry", "sender_id"): ["sender_id", "event_id"],
}


def indexed_columns(table: str) -> list[list[str]]:
    """The column lists of every index (unique or not, constraints included) on ``table``."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [info["columns"] for info in constraints.values() if info["index"] or info["unique"]]


def triggers() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        return [name for (name,) in cursor.fetchall()]


def migrate_to(targets: list[tuple[str, str]] | None = None) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.fixture
def back_at_the_newest() -> Iterator[None]:
    """Whatever a test migrates to, the database is left at the newest migrations for the tests after it."""
    yield
    migrate_to()


def test_no_column_keeps_an_index_of_its_own_while_its_composite_index_stays() -> None:
    for (table, column), composite in COVERED.items():
        columns = indexed_columns(table)
        assert [column] not in columns, f"{table}.{column}"
        assert composite in columns, f"{table} {composite}"


def test_migrating_back_restores_the_indexes_and_forward_drops_them_again(back_at_the_newest: None) -> None:
    migrate_to(BEFORE)
    for table, column in COVERED:
        assert [column] in indexed_columns(table), f"{table}.{column}"
    migrate_to()
    for table, column in COVERED:
        assert [column] not in indexed_columns(table), f"{table}.{column}"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the triggers a table rebuild would lose are SQLite's")
def test_the_tables_keep_their_search_triggers(back_at_the_newest: None) -> None:
    migrate_to(BEFORE)
    before = triggers()
    migrate_to()
    assert triggers() == before
    assert {"messaging_event_search_insert", "messaging_archivedevent_search_insert"} <= set(before)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's EXPLAIN QUERY PLAN")
@pytest.mark.parametrize("column", ["conversation_id", "sender_id"])
def test_a_lookup_by_either_column_alone_still_searches_an_index(column: str) -> None:
    sql, params = Event.objects.filter(**{column: 1}).values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING" in plan and "INDEX" in plan and f"({column}=?)" in plan, plan
