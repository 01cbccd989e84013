"""The profile's identity (issue 17): display name, status line, avatar."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("messaging", "0012_search_index")]

    operations = [
        migrations.AddField(
            model_name="profile", name="display_name", field=models.CharField(blank=True, default="", max_length=150)
        ),
        migrations.AddField(
            model_name="profile", name="status_line", field=models.CharField(blank=True, default="", max_length=500)
        ),
        migrations.AddField(
            model_name="profile", name="avatar_name", field=models.CharField(blank=True, default="", max_length=255)
        ),
        migrations.AddField(
            model_name="profile", name="identity_changed_at", field=models.DateTimeField(blank=True, null=True)
        ),
    ]
