"""The conversation event log, step 3 of 3: messages become events.

The per-message recipient and status columns go (step 2 moved what they held
into the members' cursors); the message table becomes the event table
(``RenameModel``: a rename, not a copy, on PostgreSQL); ``Message`` is now the
proxy of its message events.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0007_event_log_cursors"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="message", name="messaging_msg_ticks"),
        migrations.RemoveField(model_name="message", name="recipient"),
        migrations.RemoveField(model_name="message", name="status"),
        migrations.RemoveField(model_name="message", name="delivered_at"),
        migrations.RemoveField(model_name="message", name="read_at"),
        migrations.RemoveField(model_name="archivedmessage", name="recipient"),
        # Going back re-adds the archive's status column to rows already
        # there, which needs a default (0007 going back then sets the real
        # statuses). Only the state learns it: nothing to do going forward.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="archivedmessage",
                    name="status",
                    field=models.CharField(
                        choices=[("sent", "Sent"), ("delivered", "Delivered"), ("read", "Read")],
                        default="sent",
                        max_length=10,
                    ),
                )
            ]
        ),
        migrations.RemoveField(model_name="archivedmessage", name="status"),
        migrations.RemoveField(model_name="archivedmessage", name="delivered_at"),
        migrations.RemoveField(model_name="archivedmessage", name="read_at"),
        migrations.RenameModel(old_name="Message", new_name="Event"),
        migrations.RenameModel(old_name="ArchivedMessage", new_name="ArchivedEvent"),
        migrations.AlterField(
            model_name="event",
            name="kind",
            field=models.CharField(
                choices=[
                    ("message", "Message"),
                    ("created", "Group created"),
                    ("members_added", "Members added"),
                    ("member_removed", "Member removed"),
                    ("member_left", "Member left"),
                    ("renamed", "Renamed"),
                    ("role_changed", "Role changed"),
                ],
                default="message",
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="archivedevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("message", "Message"),
                    ("created", "Group created"),
                    ("members_added", "Members added"),
                    ("member_removed", "Member removed"),
                    ("member_left", "Member left"),
                    ("renamed", "Renamed"),
                    ("role_changed", "Role changed"),
                ],
                default="message",
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="conversation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="events", to="messaging.conversation"
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="sender",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="sent_events", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AlterField(model_name="event", name="content", field=models.TextField(blank=True, default="")),
        migrations.AlterField(
            model_name="archivedevent",
            name="conversation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="archived_events",
                to="messaging.conversation",
            ),
        ),
        migrations.AlterField(
            model_name="archivedevent", name="content", field=models.TextField(blank=True, default="")
        ),
        migrations.AddConstraint(
            model_name="participant",
            constraint=models.CheckConstraint(
                condition=models.Q(("delivered_seq__gte", models.F("read_seq"))),
                name="messaging_participant_read_implies_delivered",
            ),
        ),
        migrations.AddIndex(
            model_name="participant",
            index=models.Index(fields=["user", "left_seq"], name="messaging_member_user"),
        ),
        migrations.CreateModel(
            name="Message",
            fields=[],
            options={"proxy": True, "indexes": [], "constraints": []},
            bases=("messaging.event",),
        ),
    ]
