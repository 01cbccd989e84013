"""SQLite: the search indexer writes a batch's full-text rows itself; no trigger per entry.

Migration 0012 kept the FTS5 table in step with ``messaging_searchentry``
by triggers. The insert trigger runs once per entry, and each run ends with
FTS5 writing what it holds as a segment of its own: 100 entries made 10
segments even after FTS5's forced merges (one statement makes 1), and
inserting them held the one write lock 3.6 ms instead of 0.8 for ordinary
text (docs/benchmark.md, "The search index's inserts"). :func:`messaging.store.search.index.insert_entries` now inserts
a batch's full-text rows in one statement after the entries. The delete
and update triggers stay: an edit or purge removes the entry inside the
sender's own transaction, rarely and one at a time.

PostgreSQL is untouched (its vector is a column of the entry).
"""

from django.db import migrations

INSERT_TRIGGER = (
    "CREATE TRIGGER messaging_search_fts_insert AFTER INSERT ON messaging_searchentry BEGIN "
    "INSERT INTO messaging_search_fts (rowid, text) VALUES (new.event_id, new.text); END"
)


def drop_insert_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS messaging_search_fts_insert")


def restore_insert_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(INSERT_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0018_notification_badge")]

    operations = [migrations.RunPython(drop_insert_trigger, restore_insert_trigger)]
