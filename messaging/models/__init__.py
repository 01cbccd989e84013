"""The messaging app's models, one module per entity; everything is importable from here."""

from ..error_models import ErrorCategory, MessagingError, Severity
from . import lookups  # noqa: F401 - registers ``__among`` on integer and foreign-key fields
from .attachments import Attachment
from .conversations import Conversation, Participant
from .events import MEMBERSHIP_KINDS, MESSAGE_ACTION_KINDS, ArchivedEvent, Event, EventKind, Message, MessageStatus
from .message_state import HiddenMessage, MessageEdit, Reaction
from .notification_badge import NotificationBadge
from .notifications import Notification, NotificationKind, NotificationPreference
from .people import Profile
from .presence import Connection, UserStatus
from .push import PushSubscription
from .retry import RetryQueueItem
from .search import SearchEntry, SearchQueue

__all__ = [
    "Attachment",
    "Conversation",
    "Participant",
    "Event",
    "EventKind",
    "MEMBERSHIP_KINDS",
    "MESSAGE_ACTION_KINDS",
    "MessageEdit",
    "Reaction",
    "HiddenMessage",
    "Message",
    "MessageStatus",
    "UserStatus",
    "Connection",
    "Notification",
    "NotificationBadge",
    "NotificationKind",
    "NotificationPreference",
    "RetryQueueItem",
    "ArchivedEvent",
    "Profile",
    "PushSubscription",
    "SearchEntry",
    "SearchQueue",
    "MessagingError",
    "ErrorCategory",
    "Severity",
]
