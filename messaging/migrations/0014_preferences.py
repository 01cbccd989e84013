"""Issue 17's settings: desktop alerts on/off per notification kind, and read receipts on/off per user.

Quiet hours, their time zone, in-app and email were on ``NotificationPreference``
already; per-conversation mutes are ``Participant.muted_until`` (the core's).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0013_profile_identity"),
    ]

    operations = [
        migrations.AddField(
            model_name="notificationpreference",
            name="desktop",
            field=models.BooleanField(default=True, help_text="Web Push (desktop/phone) alerts"),
        ),
        migrations.AddField(
            model_name="profile",
            name="read_receipts",
            field=models.BooleanField(
                default=True,
                help_text="Off: others never see how far this user read, and this user never sees theirs",
            ),
        ),
    ]
