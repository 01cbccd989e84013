"""Files sent in a conversation.

An upload is stored at once (its bytes in the attachment storage, this row in
the database) and belongs to no message until the sender's message claims it:
``event_id`` and ``seq`` are set in the transaction that stores that message.
They are plain columns, not a foreign key, so that archiving the message
(which moves its row to ``ArchivedEvent`` under the same id) keeps its files.
An upload no message claimed is an orphan and is removed after
``MESSAGING_UPLOAD_ORPHAN_HOURS`` (``manage.py purge_orphan_uploads``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .conversations import Conversation


class Attachment(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="attachments")
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments")
    #: the message event that carries it (an ``Event`` or, once archived, an ``ArchivedEvent`` id); null until then
    event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    #: that message's seq: the download checks the reader's window against it
    seq = models.PositiveBigIntegerField(null=True, blank=True)
    #: where the bytes are in the attachment storage (never derived from the user's file name)
    storage_name = models.CharField(max_length=255, unique=True)
    #: the file name as the sender's browser gave it, made safe to show and to put in a header
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    #: the type read from the content (libmagic), never the name's or the client's
    content_type = models.CharField(max_length=127)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    #: the thumbnail's storage name, for images
    thumbnail_name = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The quota (bytes per uploader) and the orphan sweep.
            models.Index(fields=["uploader", "created_at"], name="messaging_attachment_uploader"),
            models.Index(fields=["created_at"], condition=Q(event_id__isnull=True), name="messaging_attachment_orphan"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes, {self.content_type})"

    @property
    def is_image(self) -> bool:
        return bool(self.thumbnail_name)
