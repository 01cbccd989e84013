"""The messaging app's models, one module per entity; everything is importable from here."""

from ..error_models import ErrorCategory, MessagingError, Severity
from .conversations import Conversation, Participant
from .events import MEMBERSHIP_KINDS, ArchivedEvent, Event, EventKind, Message, MessageStatus
from .notifications import Notification, NotificationKind, NotificationPreference
from .people import Profile
from .presence import Connection, UserStatus
from .push import PushSubscription
from .retry import RetryQueueItem
from .search import SearchEntry, SearchQueue

__all__ = [
    "Conversation",
    "Participant",
    "Event",
    "EventKind",
    "MEMBERSHIP_KINDS",
    "Message",
    "MessageStatus",
    "UserStatus",
    "Connection",
    "Notification",
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
