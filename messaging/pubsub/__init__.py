"""Channel-layer groups and the events sent to them.

Group events carry the frame already serialized (``text``), so a broadcast is
serialized once however many sockets receive it. The channel layer is
at-most-once and best effort: the database is the truth and ``sync`` repairs
whatever a broadcast dropped. A failing layer is therefore recorded and
reported to the caller, never raised into the chat path.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer

from ..error_models import ErrorCategory, Severity
from ..logging_utils import messaging_logger
from ..ops import metrics
from ..ops.circuit_breaker import make_breaker
from ..serializers import JSONSerializer, presence_frame, status_frame

if TYPE_CHECKING:  # async_handlers imports this module
    from ..async_handlers import PresenceChange, StatusChange


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def presence_group(user_id: int) -> str:
    """Sockets that want to hear when ``user_id`` comes online or goes offline."""
    return f"presence.{user_id}"


def user_group(user_id: int) -> str:
    """Every socket of ``user_id`` (chat and notifications, all tabs)."""
    return f"user.{user_id}"


# When Redis is down, every send would wait for its connection timeout; after
# a few failures the breaker makes them fail at once instead (sync repairs the
# pushes) and lets one probe through every reset period. The period is short
# (MESSAGING_LAYER_BREAKER_RESET_SECONDS, 5 s): an open breaker stops every
# live push, and a restarted Redis is usually back within seconds.
layer_breaker = make_breaker("channel_layer", reset_setting="MESSAGING_LAYER_BREAKER_RESET_SECONDS")


async def group_send(group: str, event: dict[str, Any]) -> bool:
    """Send ``event`` to ``group``; False (and a ``MessagingError``) if the layer failed.

    The failure is recorded at most once a minute per event type: when the
    layer is down, every message would otherwise add a row.
    """
    try:
        await layer_breaker.acall(get_channel_layer().group_send, group, event)
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


async def broadcast_frame(group: str, handler: str, frame: dict[str, Any], **extra: Any) -> bool:
    """Serialize ``frame`` once and send it to every socket of ``group``."""
    event = {"type": handler, "text": JSONSerializer.dumps(frame), **extra}
    return await group_send(group, event)


async def broadcast_message(message: Any, frame: dict[str, Any]) -> bool:
    """A stored message to every chat socket of its conversation.

    The extras let each consumer act without parsing the text: the recipient's
    sockets mark it delivered, and time its commit-to-delivery latency.
    """
    return await broadcast_frame(
        conversation_group(message.conversation_id),
        "chat.message",
        frame,
        seq=message.seq,
        recipient_id=message.recipient_id,
        status=message.status,
        created_at=message.created_at.timestamp(),
    )


async def broadcast_status(change: StatusChange) -> bool:
    """A status change (delivered, read) to every chat socket of its conversation."""
    return await broadcast_frame(
        conversation_group(change.conversation_id),
        "chat.status",
        status_frame(change.status, change.up_to, change.by, change.at),
    )


async def broadcast_presence(change: PresenceChange) -> bool:
    """A user coming online or going offline, to the sockets watching them."""
    return await broadcast_frame(
        presence_group(change.user_id),
        "presence.changed",
        presence_frame(change.username, change.online, change.last_seen),
    )


# One probe channel per event loop (and layer), made on first use.
_probe_channels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, str]] = weakref.WeakKeyDictionary()


async def layer_round_trip(timeout: float = 2) -> None:
    """Send a ping to this process's probe channel and read it back; raises if the layer does not answer.

    The channel is made once and reused: the pub/sub layer keeps a channel
    subscribed until a receive on it is cancelled, so a fresh channel per
    health check would add a Redis subscription at every check, for ever.
    After a failure the next check starts from a fresh channel.
    """
    layer = get_channel_layer()
    loop = asyncio.get_running_loop()
    probe = _probe_channels.get(loop)
    if probe is None or probe[0] is not layer:
        probe = _probe_channels[loop] = (layer, await layer.new_channel("healthz."))
    try:
        await layer.send(probe[1], {"type": "healthz.ping"})
        await asyncio.wait_for(layer.receive(probe[1]), timeout=timeout)
    except BaseException:
        _probe_channels.pop(loop, None)
        raise
