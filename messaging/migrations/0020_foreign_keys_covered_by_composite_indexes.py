"""Drop the foreign keys' own indexes where a composite index already starts with the column.

``messaging_event``'s ``conversation_id`` and ``sender_id`` each had Django's
index for a foreign key, while the unique constraints ``(conversation_id,
seq)`` and ``(sender_id, client_id)`` start with them and serve the same
lookups and cascades. Every message paid for both extra b-trees: on the bare
``sqlite3`` module a message's two statements and commit took 40 us of CPU
(63 us of wall time) with them, 33-35 (48) without (docs/benchmark.md, "The
send path's Python and writes"). The same for the search
entries' ``(conversation_id, seq)`` and ``(sender_id, event_id)`` indexes and
the archive's ``(conversation_id, seq)``.

Only the indexes go, by name as the database reports them: Django's
``AlterField`` would rebuild each table on SQLite, and a rebuilt table loses
the triggers of migration 0012 (search). Dropping an index is
quick at any size. The reverse creates them again.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import deletion

#: (model, field, the field's related_name, what it points to): the foreign keys whose own index goes
FOREIGN_KEYS = (
    ("archivedevent", "conversation", "archived_events", "messaging.conversation"),
    ("event", "conversation", "events", "messaging.conversation"),
    ("event", "sender", "sent_events", settings.AUTH_USER_MODEL),
    ("searchentry", "conversation", "+", "messaging.conversation"),
    ("searchentry", "sender", "+", settings.AUTH_USER_MODEL),
)
#: (model, field) whose own index goes
COVERED = tuple((model, field) for model, field, _, _ in FOREIGN_KEYS)


def _own_indexes(schema_editor, table, column):
    """The names of the plain (not unique) indexes on exactly ``column`` of ``table``."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return sorted(
        name
        for name, info in constraints.items()
        if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == [column]
    )


def drop_covered_indexes(apps, schema_editor):
    for model_name, field_name in COVERED:
        model = apps.get_model("messaging", model_name)
        column = model._meta.get_field(field_name).column
        for name in _own_indexes(schema_editor, model._meta.db_table, column):
            schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_covered_indexes(apps, schema_editor):
    for model_name, field_name in COVERED:
        model = apps.get_model("messaging", model_name)
        field = model._meta.get_field(field_name)
        if not _own_indexes(schema_editor, model._meta.db_table, field.column):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0019_search_fts_batch_insert"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name=model,
                    name=field,
                    field=models.ForeignKey(db_index=False, on_delete=deletion.CASCADE, related_name=related, to=to),
                )
                for model, field, related, to in FOREIGN_KEYS
            ],
            database_operations=[migrations.RunPython(drop_covered_indexes, create_covered_indexes)],
        )
    ]
