"""The conversation event log, step 1 of 3: new columns, all with defaults.

Adding a column with a constant default is instant on PostgreSQL 11+ (no table
rewrite); SQLite adds it in place.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_tick_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation", name="title", field=models.CharField(blank=True, max_length=120)
        ),
        migrations.AddField(
            model_name="conversation",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="conversation", name="last_message_seq", field=models.PositiveBigIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="conversation", name="membership_seq", field=models.PositiveBigIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="conversation", name="member_count", field=models.PositiveIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="participant",
            name="role",
            field=models.CharField(
                choices=[("owner", "Owner"), ("admin", "Admin"), ("member", "Member")], default="member", max_length=8
            ),
        ),
        migrations.AddField(
            model_name="participant", name="joined_seq", field=models.PositiveBigIntegerField(default=0)
        ),
        migrations.AddField(
            model_name="participant", name="left_seq", field=models.PositiveBigIntegerField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="participant", name="left_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="participant", name="delivered_seq", field=models.PositiveBigIntegerField(default=0)
        ),
        migrations.AddField(model_name="participant", name="read_seq", field=models.PositiveBigIntegerField(default=0)),
        migrations.AddField(
            model_name="participant", name="delivered_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="participant", name="read_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="participant", name="muted_until", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="message",
            name="kind",
            field=models.CharField(default="message", max_length=24),
        ),
        migrations.AddField(
            model_name="message", name="target_seq", field=models.PositiveBigIntegerField(blank=True, null=True)
        ),
        migrations.AddField(model_name="message", name="data", field=models.JSONField(blank=True, default=dict)),
        migrations.AddField(
            model_name="archivedmessage",
            name="kind",
            field=models.CharField(default="message", max_length=24),
        ),
        migrations.AddField(
            model_name="archivedmessage",
            name="target_seq",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="archivedmessage", name="data", field=models.JSONField(blank=True, default=dict)
        ),
    ]
