"""Group changes: stored with their event under the conversation's lock, then announced.

The event goes to the conversation's group (every current member's sockets,
and the sockets of whoever just left, which see their own leave and nothing
after); whoever joined or left also gets a notice on their own user group so
their sockets subscribe to or leave the conversation.
"""

from __future__ import annotations

from ..async_handlers import AsyncSafeMessageHandler as db
from ..frames import ConversationPayload, EventPayload
from ..pubsub import publish_change
from ..serializers import conversation_payload, event_payload
from ..store.conversations import MembershipChange
from ..store.users import User


async def announce(change: MembershipChange, *, origin: str = "") -> EventPayload:
    """Publish a stored change once (a repeat is answered to its sender only); the event's payload ``E``."""
    if not change.appended.created:
        return event_payload(change.appended.event)
    notices = await db.notice_summaries(change) if change.joined or change.left else {}
    return await publish_change(change, notices, origin=origin)


async def creator_summary(change: MembershipChange, user: User) -> ConversationPayload:
    """The new group as its creator sees it, for the ``create_group`` ack."""
    summary = await db.summary_of(user, change.conversation.pk)
    return conversation_payload(summary)
