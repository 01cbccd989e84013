"""The conversation log: every change to a conversation is an event with its own ``seq``.

A message is an event; so are a member joining, leaving, being added or
removed, a rename, and an edit, a deletion for everyone, a reaction added or
removed: events that name their message's ``seq`` in ``target_seq``. A
message row holds the message's current state (``content``, ``edited_at``,
``deleted_at``), changed under the conversation's lock with the event that
changes it. ``sync after=N`` replays all of them, in order, once.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .conversations import Conversation


class MessageStatus(models.TextChoices):
    """A message's status, derived from the other members' cursors (never stored)."""

    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"


class EventKind(models.TextChoices):
    MESSAGE = "message", "Message"
    CREATED = "created", "Group created"
    MEMBERS_ADDED = "members_added", "Members added"
    MEMBER_REMOVED = "member_removed", "Member removed"
    MEMBER_LEFT = "member_left", "Member left"
    RENAMED = "renamed", "Renamed"
    ROLE_CHANGED = "role_changed", "Role changed"
    EDITED = "edited", "Message edited"
    DELETED = "deleted", "Message deleted"
    REACTION_ADDED = "reaction_added", "Reaction added"
    REACTION_REMOVED = "reaction_removed", "Reaction removed"


#: kinds that change who is in the conversation (they move ``membership_seq``)
MEMBERSHIP_KINDS = frozenset(
    {EventKind.CREATED, EventKind.MEMBERS_ADDED, EventKind.MEMBER_REMOVED, EventKind.MEMBER_LEFT}
)

#: kinds that change an earlier message, named by ``target_seq``: replayed by
#: sync, folded into their message by history pages
MESSAGE_ACTION_KINDS = frozenset(
    {EventKind.EDITED, EventKind.DELETED, EventKind.REACTION_ADDED, EventKind.REACTION_REMOVED}
)


class Event(models.Model):
    # The foreign keys have no index of their own: the unique constraints
    # (conversation, seq) and (sender, client_id) start with them and serve
    # their lookups and cascades; one more index each cost every insert (the
    # send path) a b-tree write and a page of log.
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events", db_index=False)
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=24, choices=EventKind.choices, default=EventKind.MESSAGE)
    #: who caused the event: the sender of a message, the member who added, removed, renamed or left
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_events", db_index=False
    )
    content = models.TextField(blank=True, default="")
    #: the sender's id for this event: a repeat with the same one is the same event
    client_id = models.CharField(max_length=64)
    #: the message an edit, deletion or reaction changes; for a message, the one it replies to
    target_seq = models.PositiveBigIntegerField(null=True, blank=True)
    #: what a non-message event says (usernames added, the new title, ...)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    #: a message's last edit (its ``content`` is the current text); null if never edited
    edited_at = models.DateTimeField(null=True, blank=True)
    #: a message deleted for everyone: its content, edits and reactions are purged
    deleted_at = models.DateTimeField(null=True, blank=True)

    # Not columns: what messaging.store.message_views sets on an event it reads for someone.
    #: the reader's view of a message (a store.message_views.MessageView; the models cannot name the store)
    view: object
    #: the reader may not see this event (hidden by them, cleared, outside their window)
    hidden: bool

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="messaging_message_seq_unique"),
            models.UniqueConstraint(fields=["sender", "client_id"], name="messaging_message_client_id_unique"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="messaging_message_seq_positive"),
        ]

    def __str__(self) -> str:
        if self.kind == EventKind.MESSAGE:
            return f"#{self.seq} {self.sender_id}: {self.content[:40]}"
        return f"#{self.seq} {self.kind} by {self.sender_id}"


class MessageManager(models.Manager["Message"]):
    def get_queryset(self) -> models.QuerySet[Message]:
        return super().get_queryset().filter(kind=EventKind.MESSAGE)


class Message(Event):
    """The message events of the log (what the admin and most code mean by "messages")."""

    objects: ClassVar[MessageManager] = MessageManager()

    class Meta:
        proxy = True


class ArchivedEvent(models.Model):
    """An event moved out of the hot table by ``archive_messages``.

    It keeps its conversation, ``seq`` and every field, so ``sync`` and
    ``history`` still return it in its place (they read both tables).
    """

    id = models.BigIntegerField(primary_key=True)  # the id it had as an Event
    # (conversation, seq) serves the conversation's lookups, as on Event
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="archived_events", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=24, choices=EventKind.choices, default=EventKind.MESSAGE)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content = models.TextField(blank=True, default="")
    client_id = models.CharField(max_length=64)
    target_seq = models.PositiveBigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(default=timezone.now)

    # Not columns: as on Event, what messaging.store.message_views sets on an event it reads for someone.
    view: object
    hidden: bool

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="messaging_archived_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"archived #{self.seq} of conversation {self.conversation_id}"
