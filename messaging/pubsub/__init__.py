"""Channel-layer groups and the events sent to them.

Group events carry the frame already serialized (``text``), so a broadcast is
serialized once however many sockets receive it. The channel layer is
at-most-once and best effort: the database is the truth and ``sync`` repairs
whatever a broadcast dropped. A failing layer is therefore recorded and
reported to the caller, never raised into the chat path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from typing import Any, cast

from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.exceptions import ImproperlyConfigured

from ..error_models import ErrorCategory, Severity
from ..frames import ServerFrame
from ..guards.circuit_breaker import make_breaker
from ..logging_utils import messaging_logger
from ..ops import metrics
from ..serializers import (
    EventPayload,
    JSONSerializer,
    conversation_frame,
    event_frame_text,
    event_payload,
    hidden_frame,
    muted_frame,
    pinned_frame,
    presence_frame,
    profile_frame,
    receipts_frame,
    rendered_payload,
    settings_frame,
    typing_frame,
)
from ..store.conversations import MembershipChange, Summary
from ..store.events import Appended
from ..store.presence import PresenceChange
from ..store.receipts import ReceiptChange
from ..store.users import User


def conversation_group(conversation_id: int) -> str:
    """Every chat socket of every current member of the conversation."""
    return f"conversation.{conversation_id}"


def user_group(user_id: int) -> str:
    """Every socket of ``user_id`` (chat and notifications, all tabs)."""
    return f"user.{user_id}"


def notifications_group(user_id: int) -> str:
    """The ``ws/notifications/`` sockets of one user."""
    return f"notifications.{user_id}"


# When Redis is down, every send would wait for its connection timeout; after
# a few failures the breaker makes them fail at once instead (sync repairs the
# pushes) and lets one probe through every reset period. The period is short
# (MESSAGING_LAYER_BREAKER_RESET_SECONDS, 5 s): an open breaker stops every
# live push, and a restarted Redis is usually back within seconds.
layer_breaker = make_breaker("channel_layer", reset_setting="MESSAGING_LAYER_BREAKER_RESET_SECONDS")


def channel_layer() -> BaseChannelLayer:
    """The default channel layer (linkup/settings.py always configures one: in-memory or Redis)."""
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS has no default layer")
    return layer


async def group_send(group: str, event: dict[str, Any]) -> bool:
    """Send ``event`` to ``group``; False (and a ``MessagingError``) if the layer failed.

    The failure is recorded at most once a minute per event type: when the
    layer is down, every message would otherwise add a row.
    """
    try:
        await layer_breaker.acall(channel_layer().group_send, group, event)
        return True
    except Exception as exc:  # noqa: BLE001 - any layer failure (Redis down, full) is best effort
        metrics.LAYER_SEND_FAILURES.inc()
        await messaging_logger.athrottled(
            ErrorCategory.CONNECTION_ERROR,
            f"layer:{event.get('type')}",
            f"channel layer could not send {event.get('type')} to {group}: {type(exc).__name__}: {exc}",
            None,
            severity=Severity.WARNING,
            context={"group": group, "event": event.get("type")},
        )
        return False


async def broadcast_frame(group: str, handler: str, frame: ServerFrame, **extra: Any) -> bool:
    """Serialize ``frame`` once and send it to every socket of ``group``."""
    return await broadcast_text(group, handler, JSONSerializer.dumps(frame), **extra)


async def broadcast_text(group: str, handler: str, text: str, **extra: Any) -> bool:
    """Send a frame already serialized (``text``) to every socket of ``group``."""
    return await group_send(group, {"type": handler, "text": text, **extra})


async def publish_event(appended: Appended, *, origin: str = "") -> EventPayload:
    """A stored event to every chat socket of its conversation; returns its payload ``E`` (for the ack).

    The extras let each socket decide without parsing the text whether its
    user may see it (``seq`` against its window, as of ``mseq``), and time the
    commit-to-delivery latency. ``origin``: the socket that caused it, which
    has the event in its ``ack`` already.
    """
    event = appended.event
    payload = rendered_payload(event_payload(event))
    await broadcast_text(
        conversation_group(event.conversation_id),
        "conversation.event",
        event_frame_text(payload),
        conversation=event.conversation_id,
        seq=event.seq,
        mseq=appended.membership_seq,
        kind=event.kind,
        sender_id=event.sender_id,
        created_at=event.created_at.timestamp(),
        origin=origin,
        # An edit, deletion or reaction (and a reply's quote) is about another
        # message: a member who cannot see that one gets a placeholder.
        target_seq=event.target_seq,
    )
    # A RenderedPayload is the E dict itself, carrying its JSON for the sender's ack.
    return cast(EventPayload, payload)


#: how long the receipts of a busy conversation gather before they go out together
RECEIPT_BATCH_SECONDS = 0.05


class ReceiptFanout:
    """Receipts of one conversation leave this process together when they come in a burst.

    In a group of K online members, one message makes up to K cursor moves
    within milliseconds; sent one by one that is K frames to each of K
    sockets. The first move of a quiet conversation goes out at once (a 1:1
    tick is not delayed); the moves that follow within
    ``RECEIPT_BATCH_SECONDS`` go out as one ``receipts`` frame, each member's
    latest cursors once.
    """

    def __init__(self) -> None:
        self._windows: dict[int, dict[int, ReceiptChange]] = {}

    async def publish(self, change: ReceiptChange) -> bool:
        window = self._windows.get(change.conversation_id)
        if window is not None:
            earlier = window.get(change.user_id)
            window[change.user_id] = change if earlier is None else _merged(earlier, change)
            return True
        self._open(change.conversation_id)
        return await _send_receipts(change.conversation_id, [change])

    def _open(self, conversation_id: int) -> None:
        self._windows[conversation_id] = {}
        asyncio.get_running_loop().call_later(RECEIPT_BATCH_SECONDS, self._close, conversation_id)

    def _close(self, conversation_id: int) -> None:
        batch = self._windows.pop(conversation_id, {})
        if batch:
            # Still busy: send what gathered and keep gathering.
            self._open(conversation_id)
            asyncio.ensure_future(_send_receipts(conversation_id, list(batch.values())))


def _merged(earlier: ReceiptChange, later: ReceiptChange) -> ReceiptChange:
    return dataclasses.replace(
        later,
        delivered_seq=max(earlier.delivered_seq, later.delivered_seq),
        read_seq=max(earlier.read_seq, later.read_seq),
        delivered_moved=earlier.delivered_moved or later.delivered_moved,
        read_moved=earlier.read_moved or later.read_moved,
    )


async def _send_receipts(conversation_id: int, changes: list[ReceiptChange]) -> bool:
    return await broadcast_frame(
        conversation_group(conversation_id),
        "conversation.receipts",
        receipts_frame(conversation_id, changes),
        conversation=conversation_id,
        receipts=[
            {
                "user_id": c.user_id,
                "username": c.username,
                "delivered_seq": c.delivered_seq,
                "read_seq": c.read_seq,
                "delivered_moved": c.delivered_moved,
                "read_moved": c.read_moved,
                "at": c.at.timestamp(),
                "joined_seq": c.joined_seq,
                "shares_reads": c.shares_reads,
            }
            for c in changes
        ],
    )


# One fan-out per event loop (tests run many loops, one after another).
_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReceiptFanout] = weakref.WeakKeyDictionary()


async def publish_receipt(change: ReceiptChange) -> bool:
    """A member's cursors moved: to every chat socket of the conversation (bursts batched)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = ReceiptFanout()
    return await fanout.publish(change)


async def publish_typing(conversation_id: int, user_id: int, username: str, is_typing: bool) -> bool:
    return await broadcast_frame(
        conversation_group(conversation_id),
        "conversation.typing",
        typing_frame(username, is_typing, conversation_id),
        conversation=conversation_id,
        user_id=user_id,
        username=username,
        is_typing=is_typing,
    )


async def publish_presence(change: PresenceChange) -> bool:
    """A user came online or went offline: to the sockets of their direct conversations (their peers')."""
    sent = True
    frame = presence_frame(change.username, change.online, change.last_seen)
    text = JSONSerializer.dumps(frame)
    for conversation_id in change.conversation_ids:
        event = {
            "type": "conversation.presence",
            "text": text,
            "conversation": conversation_id,
            "user_id": change.user_id,
        }
        sent = await group_send(conversation_group(conversation_id), event) and sent
    return sent


async def publish_membership(user_id: int, summary: Summary) -> bool:
    """Tell every socket of ``user_id`` that their membership of a conversation began or ended.

    Each socket subscribes to (or leaves) the conversation's group and forwards
    the summary ``C`` to its client, which syncs from there.
    """
    member = summary.member
    return await broadcast_frame(
        user_group(user_id),
        "user.membership",
        conversation_frame(summary),
        conversation=summary.conversation.pk,
        kind=summary.conversation.kind,
        joined_seq=member.joined_seq,
        left_seq=member.left_seq,
        mseq=summary.conversation.membership_seq,
    )


async def publish_muted(user_id: int, conversation_id: int, muted_until: Any, *, origin: str = "") -> bool:
    """A mute changed: to the user's other sockets (``origin``, the socket that asked, has its answer)."""
    return await broadcast_frame(
        user_group(user_id), "user.muted", muted_frame(conversation_id, muted_until), origin=origin
    )


async def publish_pinned(user_id: int, conversation_id: int, pinned_at: Any, *, origin: str = "") -> bool:
    """A pin changed: to the user's other sockets (``origin``, the socket that asked, has its answer)."""
    return await broadcast_frame(
        user_group(user_id), "user.pinned", pinned_frame(conversation_id, pinned_at), origin=origin
    )


async def publish_settings(user_id: int, settings: dict[str, Any]) -> bool:
    """The user changed their settings: to every socket of theirs, chat and bell (the tab that saved it too)."""
    return await broadcast_frame(
        user_group(user_id), "user.settings", settings_frame(settings), read_receipts=settings["read_receipts"]
    )


async def publish_hidden(user_id: int, hidden: Any, *, origin: str = "") -> bool:
    """Messages one user deleted for themself, or cleared: to that user's other sockets."""
    return await broadcast_frame(user_group(user_id), "user.hidden", hidden_frame(hidden), origin=origin)


async def publish_profile(user: User, audience: list[int]) -> bool:
    """A person's identity changed: to every socket of ``audience`` (who share a conversation with them, and they)."""
    text = JSONSerializer.dumps(profile_frame(user))
    sent = True
    for user_id in audience:
        sent = await group_send(user_group(user_id), {"type": "user.profile", "text": text}) and sent
    return sent


async def publish_change(change: MembershipChange, summaries: dict[int, Summary], *, origin: str = "") -> EventPayload:
    """A group change: its event to the conversation, and a membership notice to whoever joined or left."""
    payload = await publish_event(change.appended, origin=origin)
    for user_id, summary in summaries.items():
        await publish_membership(user_id, summary)
    return payload


# One probe channel per event loop (and layer), made on first use.
_probe_channels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, str]] = weakref.WeakKeyDictionary()


async def layer_round_trip(timeout: float = 2) -> None:
    """Send a ping to this process's probe channel and read it back; raises if the layer does not answer.

    The channel is made once and reused: the pub/sub layer keeps a channel
    subscribed until a receive on it is cancelled, so a fresh channel per
    health check would add a Redis subscription at every check, for ever.
    After a failure the next check starts from a fresh channel.
    """
    layer = channel_layer()
    loop = asyncio.get_running_loop()
    probe = _probe_channels.get(loop)
    if probe is None or probe[0] is not layer:
        # every layer we run (in-memory, Redis pub/sub) takes a prefix; BaseChannelLayer's signature does not
        probe = _probe_channels[loop] = (layer, await layer.new_channel("healthz."))  # type: ignore[call-arg]  # see above
    try:
        await layer.send(probe[1], {"type": "healthz.ping"})
        await asyncio.wait_for(layer.receive(probe[1]), timeout=timeout)
    except BaseException:
        _probe_channels.pop(loop, None)
        raise
