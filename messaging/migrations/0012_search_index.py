"""The search index: its tables, and what each database indexes them with.

The SQL is written out here (not imported from the app) so that this
migration keeps doing what it did when the app's code moves on. What it
creates is described in ``messaging/models/search.py`` and
``messaging/store/search/__init__.py``.
"""

import django.contrib.postgres.search
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Tables whose rows hold messages: the hot log and its archive.
EVENT_TABLES = ("messaging_event", "messaging_archivedevent")

SQLITE_FTS = [
    # Trigram: every substring of 3 characters or more is found by the index
    # (words, prefixes, phrases and parts of words alike: the search text
    # marks word boundaries with spaces). case_sensitive: the search text is
    # already folded, and folding it again could merge characters it keeps apart.
    "CREATE VIRTUAL TABLE messaging_search_fts USING fts5("
    "text, content='messaging_searchentry', content_rowid='event_id', tokenize='trigram case_sensitive 1')",
    # The external-content table is kept in step with messaging_searchentry.
    "CREATE TRIGGER messaging_search_fts_insert AFTER INSERT ON messaging_searchentry BEGIN "
    "INSERT INTO messaging_search_fts (rowid, text) VALUES (new.event_id, new.text); END",
    "CREATE TRIGGER messaging_search_fts_delete AFTER DELETE ON messaging_searchentry BEGIN "
    "INSERT INTO messaging_search_fts (messaging_search_fts, rowid, text) VALUES ('delete', old.event_id, old.text); END",
    "CREATE TRIGGER messaging_search_fts_update AFTER UPDATE ON messaging_searchentry BEGIN "
    "INSERT INTO messaging_search_fts (messaging_search_fts, rowid, text) VALUES ('delete', old.event_id, old.text); "
    "INSERT INTO messaging_search_fts (rowid, text) VALUES (new.event_id, new.text); END",
]


def sqlite_event_triggers(table):
    """A new message is queued; an edited, purged, deleted or archived one leaves the index at once and is queued."""
    return [
        f"CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} WHEN new.kind = 'message' BEGIN "
        "INSERT INTO messaging_searchqueue (event_id) VALUES (new.id); END",
        f"CREATE TRIGGER {table}_search_update AFTER UPDATE OF content, kind ON {table} "
        "WHEN old.content IS NOT new.content OR old.kind IS NOT new.kind BEGIN "
        "DELETE FROM messaging_searchentry WHERE event_id = old.id; "
        "INSERT INTO messaging_searchqueue (event_id) VALUES (new.id); END",
        f"CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} WHEN old.kind = 'message' BEGIN "
        "DELETE FROM messaging_searchentry WHERE event_id = old.id; "
        "INSERT INTO messaging_searchqueue (event_id) VALUES (old.id); END",
    ]


POSTGRES_FUNCTION = """
CREATE FUNCTION messaging_search_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM messaging_searchentry WHERE event_id = OLD.id;
    END IF;
    INSERT INTO messaging_searchqueue (event_id) VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
    RETURN NULL;
END $$
"""


def postgres_event_triggers(table):
    run = "EXECUTE FUNCTION messaging_search_enqueue()"
    return [
        f"CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} FOR EACH ROW WHEN (NEW.kind = 'message') {run}",
        f"CREATE TRIGGER {table}_search_update AFTER UPDATE OF content, kind ON {table} "
        f"FOR EACH ROW WHEN (OLD.content IS DISTINCT FROM NEW.content OR OLD.kind IS DISTINCT FROM NEW.kind) {run}",
        f"CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} FOR EACH ROW WHEN (OLD.kind = 'message') {run}",
    ]


# Messages stored before this migration are indexed by the indexer like new ones.
ENQUEUE_EXISTING = "INSERT INTO messaging_searchqueue (event_id) " + " UNION ALL ".join(
    f"SELECT id FROM {table} WHERE kind = 'message'" for table in EVENT_TABLES
)


def create_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = SQLITE_FTS + [sql for table in EVENT_TABLES for sql in sqlite_event_triggers(table)]
    elif vendor == "postgresql":
        statements = [
            "CREATE INDEX messaging_search_vector ON messaging_searchentry USING gin (vector)",
            POSTGRES_FUNCTION,
        ] + [sql for table in EVENT_TABLES for sql in postgres_event_triggers(table)]
    else:
        raise RuntimeError(f"LinkUp's search index supports SQLite and PostgreSQL, not {vendor}")
    for sql in statements + [ENQUEUE_EXISTING]:
        schema_editor.execute(sql)


def drop_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    on_postgres = vendor == "postgresql"
    for table in EVENT_TABLES:
        for action in ("insert", "update", "delete"):
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {table}_search_{action}" + (f" ON {table}" if on_postgres else "")
            )
    if on_postgres:
        schema_editor.execute("DROP FUNCTION IF EXISTS messaging_search_enqueue()")
    else:
        schema_editor.execute("DROP TABLE IF EXISTS messaging_search_fts")


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0011_attachments"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchQueue",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_id", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="SearchEntry",
            fields=[
                ("event_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("seq", models.PositiveBigIntegerField()),
                ("created_at", models.DateTimeField()),
                ("text", models.TextField()),
                ("vector", django.contrib.postgres.search.SearchVectorField(editable=False, null=True)),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="messaging.conversation"
                    ),
                ),
                (
                    "sender",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["conversation", "seq"], name="messaging_search_window"),
                    models.Index(fields=["sender", "event_id"], name="messaging_search_sender"),
                ],
            },
        ),
        migrations.RunPython(create_index, drop_index),
    ]
