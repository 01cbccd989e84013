"""The per-user unread-notifications counter, kept by triggers, backfilled from the rows.

The triggers are the only writers of ``messaging_notificationbadge``: each
adds the change one notification row makes to ``SUM(count) WHERE NOT read``
of its user, as ``unread = unread + delta`` in the writing statement's own
transaction (:class:`messaging.models.NotificationBadge` says why). The
backfill is one set-based ``INSERT … SELECT … GROUP BY``, run after the
triggers exist: on PostgreSQL ``CREATE TRIGGER`` holds a lock that keeps
writers out of the notification table until this migration commits, so no
row is counted twice or missed; SQLite has one writer anyway.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# What one row adds to its user's badge: its count while unread.
SQLITE_TRIGGERS = [
    "CREATE TRIGGER messaging_notification_badge_insert AFTER INSERT ON messaging_notification "
    "WHEN NOT new.read BEGIN "
    "INSERT INTO messaging_notificationbadge (user_id, unread) VALUES (new.user_id, new.count) "
    "ON CONFLICT (user_id) DO UPDATE SET unread = unread + excluded.unread; END",
    # The same user: one upsert of the difference. Another user: taken from one, given to the other.
    "CREATE TRIGGER messaging_notification_badge_update AFTER UPDATE OF count, read, user_id ON messaging_notification "
    "WHEN old.read IS NOT new.read OR old.count IS NOT new.count OR old.user_id IS NOT new.user_id BEGIN "
    "UPDATE messaging_notificationbadge SET unread = unread - old.count "
    "WHERE user_id = old.user_id AND old.user_id <> new.user_id AND NOT old.read; "
    "INSERT INTO messaging_notificationbadge (user_id, unread) "
    "SELECT new.user_id, (CASE WHEN new.read THEN 0 ELSE new.count END) "
    "- (CASE WHEN old.read OR old.user_id <> new.user_id THEN 0 ELSE old.count END) WHERE true "
    "ON CONFLICT (user_id) DO UPDATE SET unread = unread + excluded.unread; END",
    # A plain UPDATE: a deleted user's badge row may be gone before their notifications.
    "CREATE TRIGGER messaging_notification_badge_delete AFTER DELETE ON messaging_notification "
    "WHEN NOT old.read BEGIN "
    "UPDATE messaging_notificationbadge SET unread = unread - old.count WHERE user_id = old.user_id; END",
]

POSTGRES_FUNCTION = """
CREATE FUNCTION messaging_notification_badge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gone bigint := 0;
    added bigint := 0;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF NOT OLD.read THEN gone := OLD.count; END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NOT NEW.read THEN added := NEW.count; END IF;
        IF TG_OP = 'UPDATE' THEN
            IF OLD.user_id = NEW.user_id THEN
                added := added - gone;
                gone := 0;
            END IF;
        END IF;
    END IF;
    -- A plain UPDATE: a deleted user's badge row may be gone before their notifications.
    IF gone <> 0 THEN
        UPDATE messaging_notificationbadge SET unread = unread - gone WHERE user_id = OLD.user_id;
    END IF;
    IF added <> 0 THEN
        INSERT INTO messaging_notificationbadge AS b (user_id, unread) VALUES (NEW.user_id, added)
        ON CONFLICT (user_id) DO UPDATE SET unread = b.unread + EXCLUDED.unread;
    END IF;
    RETURN NULL;
END $$
"""

_RUN = "FOR EACH ROW {when} EXECUTE FUNCTION messaging_notification_badge()"
POSTGRES_TRIGGERS = [
    "CREATE TRIGGER messaging_notification_badge_insert AFTER INSERT ON messaging_notification "
    + _RUN.format(when="WHEN (NOT NEW.read)"),
    "CREATE TRIGGER messaging_notification_badge_update AFTER UPDATE OF count, read, user_id ON messaging_notification "
    + _RUN.format(
        when="WHEN (OLD.read IS DISTINCT FROM NEW.read OR OLD.count IS DISTINCT FROM NEW.count "
        "OR OLD.user_id IS DISTINCT FROM NEW.user_id)"
    ),
    "CREATE TRIGGER messaging_notification_badge_delete AFTER DELETE ON messaging_notification "
    + _RUN.format(when="WHEN (NOT OLD.read)"),
]

BACKFILL = (
    "INSERT INTO messaging_notificationbadge (user_id, unread) "
    "SELECT user_id, SUM(count) FROM messaging_notification WHERE NOT read GROUP BY user_id"
)

ACTIONS = ("insert", "update", "delete")


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = SQLITE_TRIGGERS
    elif vendor == "postgresql":
        statements = [POSTGRES_FUNCTION, *POSTGRES_TRIGGERS]
    else:
        raise RuntimeError(f"LinkUp's notification badge supports SQLite and PostgreSQL, not {vendor}")
    for sql in [*statements, BACKFILL]:
        schema_editor.execute(sql)


def drop_triggers(apps, schema_editor):
    on_postgres = schema_editor.connection.vendor == "postgresql"
    for action in ACTIONS:
        schema_editor.execute(
            f"DROP TRIGGER IF EXISTS messaging_notification_badge_{action}"
            + (" ON messaging_notification" if on_postgres else "")
        )
    if on_postgres:
        schema_editor.execute("DROP FUNCTION IF EXISTS messaging_notification_badge()")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("messaging", "0017_notification_user_newest"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="NotificationBadge",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="notification_badge",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("unread", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
