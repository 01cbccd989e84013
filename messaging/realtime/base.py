"""``MessagingConsumer``: what every LinkUp socket does, whatever it speaks.

Refusing handshakes before ``accept`` (daphne answers 403), owning
``receive`` so that binary, empty and malformed frames get an error frame
instead of killing the consumer, the one place failures become error frames,
guarded sends to a socket that is already gone, and presence bookkeeping
that also runs when the consumer dies without ``disconnect``. Every frame
draws from its per-socket allowance before it is handled
(:mod:`.allowances`), and nothing is sent past the socket's bound on unread
bytes (:mod:`.backpressure`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.typing import WebSocketConnectEvent
from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.utils.functional import LazyObject, empty

from .. import conf
from ..actions.errors import wire_error
from ..async_handlers import AsyncSafeMessageHandler as db
from ..connection_validator import ConnectionValidator, Frame, PingFrame, safe_get, shared_validator
from ..error_models import ErrorCategory
from ..exceptions import MessagingException, ProtocolError, RateLimited, ServerError
from ..frames import Ref, ServerFrame
from ..guards.fair_turns import act_for
from ..guards.rate_limit import LocalBucket
from ..logging_utils import category_for_exception, messaging_logger
from ..ops import metrics
from ..pubsub import publish_presence, user_group
from ..serializers import JSONSerializer, answer, error_frame, pong_frame
from ..store.errors import StoreError
from ..store.presence import PresenceChange
from ..store.users import User
from .allowances import SocketAllowances
from .backpressure import outbound_of
from .dispatch import dispatch_in_order
from .handshake import handshake_age, pending_until_ready, record_this_one
from .presence import tracker
from .sessions import SessionGuard

log = logging.getLogger("messaging.consumers")

# The close code a server sees when the TCP connection dropped without a
# WebSocket close frame.
ABNORMAL_CLOSURE = 1006
#: RFC 6455's "Try Again Later": a handshake the server could not complete (its database or channel layer failed)
TRY_AGAIN_LATER = 1013


#: what a socket's registration reads along with it (see :meth:`MessagingConsumer.register_with`)
_Opened = TypeVar("_Opened")


class OpeningTooSlow(TimeoutError):
    """The handshake's own work (database, channel layer) outlasted ``MESSAGING_HANDSHAKE_ACCEPT_SECONDS``."""


def unwrapped(user: Any) -> Any:
    """The object behind a resolved ``LazyObject`` (Channels' ``UserLazyObject``), else ``user`` as it is."""
    if isinstance(user, LazyObject) and user._wrapped is not empty:
        return user._wrapped
    return user


class MessagingConsumer(AsyncWebsocketConsumer):
    """The shared machinery of ``ws/chat/``, ``ws/chat/<username>/`` and ``ws/notifications/``."""

    #: frame types this endpoint accepts
    frames: frozenset[str] = frozenset()
    #: the ``Connection.kind`` recorded for presence
    connection_kind: str = ""
    #: route kwargs the URL pattern must provide (checked by the routing validator)
    url_kwargs: tuple[str, ...] = ()
    #: whether frames name their conversation (off on the one-to-one view)
    conversation_required: bool = True
    #: the signed-in user, set once by :meth:`authenticate`: an anonymous or
    #: refused handshake never gets past ``connect``, so every handler after it
    #: has a real user (before it, :attr:`authenticated` is False and this is unset)
    user: User

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.authenticated = False
        #: the handshake was accepted (:meth:`accept`)
        self.accepted = False
        #: a close was sent (:meth:`close`): before the accept, that refused the handshake
        self.close_sent = False
        #: the deadline of the work before the accept (:meth:`websocket_connect`)
        self.opening: asyncio.Timeout | None = None
        self.username = ""
        self.session_key: str | None = None
        #: how long the handshake had waited when it reached this consumer (None: not stamped, :mod:`.handshake`)
        self.waited: float | None = None
        #: how long a handshake refused for its age had waited (:meth:`authenticate`)
        self.late: float | None = None
        self.registered = False
        self.subscribed: set[str] = set()
        self.closing = False
        self.bad_frames = 0
        self.limits = conf.limits()
        self.session_guard = SessionGuard(self)
        self.bad_frame_allowance = LocalBucket(self.limits.bad_frame_rate)
        self.allowances = SocketAllowances(self.limits)
        #: the connection's outgoing buffer (None without the project's server: no bound then)
        self.outbound: Any = None
        #: closed for not reading: nothing more is sent
        self.stalled = False
        self.validator = shared_validator(
            max_length=self.limits.max_length,
            max_frame_bytes=self.limits.max_frame_bytes,
            max_title_length=self.limits.max_title_length,
            conversation_required=self.conversation_required,
        )

    # --- Lifecycle -----------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its ``aclose_old_connections()`` per event.

        That call is a hop into the database thread for every frame and every
        group event. Every database call here goes through
        ``database_sync_to_async``, which closes stale connections around
        itself already.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message: WebSocketConnectEvent) -> None:
        """Channels' connect; a failure of the server's own parts while opening is a close to retry, not a 500.

        Opening a socket reads the database and joins channel-layer groups;
        when one of them fails (PostgreSQL or Redis restarting, say) daphne
        would answer the handshake with a bare HTTP 500 and log a traceback
        per attempt. Instead the failure is recorded with its category, and
        the socket is accepted and closed with 1013 ("try again later"),
        which a client takes as a reason to reconnect after its backoff.

        The same when that work stalls instead of failing: a handshake not
        accepted (or refused) ``MESSAGING_HANDSHAKE_ACCEPT_SECONDS`` after it
        arrived is given up (:class:`OpeningTooSlow`). Left alone, autobahn
        would drop the connection at daphne's 5 s without any HTTP answer.
        """
        self.waited = handshake_age(self.scope)
        deadline = asyncio.timeout(max(0.0, self.limits.handshake_accept - (self.waited or 0.0)))
        try:
            async with deadline:
                self.opening = deadline
                try:
                    await super().websocket_connect(message)
                finally:
                    self.opening = None
        except Exception as exc:  # noqa: BLE001 - any failure while opening: the client is told to retry
            if isinstance(exc, TimeoutError) and deadline.expired():
                exc = OpeningTooSlow(
                    f"not accepted within MESSAGING_HANDSHAKE_ACCEPT_SECONDS ({self.limits.handshake_accept:g} s) "
                    "of its arrival"
                )
            await messaging_logger.aerror(
                category_for_exception(exc),
                f"a {self.connection_kind} socket could not be opened; closed with {TRY_AGAIN_LATER} to be retried",
                user=self.user if self.authenticated else None,
                exc=exc,
            )
            if self.close_sent:
                return
            if not self.accepted:
                await self.accept()
            await self.close(code=TRY_AGAIN_LATER)

    def opened(self) -> None:
        """The handshake is answered (accepted or refused): what follows is no longer bound by its deadline."""
        if self.opening is not None:
            self.opening.reschedule(None)
            self.opening = None

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        # Marked before the send: a deadline firing on the way must not accept twice.
        self.accepted = True
        self.opened()
        await super().accept(subprotocol, headers)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.close_sent = True
        self.opened()
        await super().close(code, reason)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' ``AsyncConsumer.__call__`` with :func:`.dispatch.dispatch_in_order` instead of a task per message."""
        try:
            self.scope = scope
            sources: list[Callable[[], Awaitable[Any]]] = [receive]
            layer = get_channel_layer(self.channel_layer_alias)
            if layer is not None:
                self.channel_layer = layer
                self.channel_name = await layer.new_channel()
                sources.append(functools.partial(layer.receive, self.channel_name))
            self.base_send = send
            with contextlib.suppress(StopConsumer):  # the consumer ended itself: exit cleanly
                await dispatch_in_order(sources, self.dispatch)
        finally:
            # Also when the consumer dies without websocket.disconnect (a send
            # to a vanished client, a cancelled task): never leak presence.
            await self.leave()

    def authenticate(self) -> dict[str, Any] | None:
        """The scope's user and route kwargs, or None when the handshake must be refused.

        Also None for a handshake that waited longer than
        ``MESSAGING_HANDSHAKE_BUDGET_SECONDS`` to get here (:mod:`.handshake`):
        daphne would refuse it before its database work is done.
        """
        if self.waited is not None and self.waited > self.limits.handshake_budget:
            self.late = self.waited
            return None
        data = ConnectionValidator.validate_connection_data(self.scope, required_kwargs=self.url_kwargs)
        self.outbound = outbound_of(self.scope)
        if data is not None:
            # The validator checked ``is_authenticated``; AuthMiddleware's user is the project's user model.
            # Its lazy wrapper is resolved by now: the socket keeps the user itself, since every
            # attribute read through the wrapper (the pk, per frame and per message) costs a proxy call.
            user: User = unwrapped(data["user"])
            self.user, self.authenticated = user, True
            act_for(self.user.pk)
            self.username = self.user.get_username()
            self.session_key = getattr(safe_get(self.scope, "session"), "session_key", None)
        return data

    async def subscribe(self, group: str) -> None:
        """Join a channel-layer group; :meth:`leave` discards every group joined so."""
        if group in self.subscribed:
            return
        self.subscribed.add(group)
        await self.channel_layer.group_add(group, self.channel_name)

    async def unsubscribe(self, group: str) -> None:
        if group in self.subscribed:
            self.subscribed.discard(group)
            await self.channel_layer.group_discard(group, self.channel_name)

    async def join(self) -> Any:
        """Accept the socket and count it for presence; call from ``connect``.

        Returns what :meth:`register` read along with the registration, or
        None when the user has too many sockets open: the socket is told why
        and closed.
        """
        await self.subscribe(user_group(self.user.pk))
        pending_until_ready(self.scope)
        await self.accept()
        self.session_guard.start()
        try:
            change, read_along = await self.register()
        except StoreError as exc:
            error = wire_error(exc)
            await self.send_error(error)
            await messaging_logger.aclient_error(self.user, error.code.value, error.detail)
            self.closing = True
            await self.close(code=conf.CLOSE_TOO_MANY_SOCKETS)
            return None
        tracker.add(self.channel_name)
        self.registered = True
        metrics.OPEN_SOCKETS.labels(self.connection_kind).inc()
        if change is not None:
            await publish_presence(change)
        return read_along

    async def register(self) -> tuple[PresenceChange | None, Any]:
        """Record this socket for presence, and read what the endpoint needs along, in one database call.

        Each endpoint has its own (most through :meth:`register_with`); there is no default.
        """
        raise NotImplementedError

    async def register_with(self, open_socket: Callable[..., Awaitable[_Opened]]) -> _Opened:
        """``open_socket`` (the store's registration, alone or with what an endpoint reads along) for this socket."""
        return await open_socket(
            self.user.pk,
            self.channel_name,
            self.connection_kind,
            tracker.server_id,
            max_sockets=self.limits.max_sockets_per_user,
            expiry=self.limits.presence_expiry,
            username=self.username,
        )

    def drop_queued(self) -> None:
        """Take back this socket's work that is queued and not yet started (endpoints that queue override it)."""

    async def leave(self) -> None:
        """Undo :meth:`subscribe` and :meth:`join`; safe to call twice, and after a refused handshake."""
        self.drop_queued()
        self.session_guard.stop()
        groups, self.subscribed = self.subscribed, set()
        registered, self.registered = self.registered, False
        try:
            for group in groups:
                await self.channel_layer.group_discard(group, self.channel_name)
            if not registered:
                return
            tracker.discard(self.channel_name)
            metrics.OPEN_SOCKETS.labels(self.connection_kind).dec()
            change = await db.unregister_connection(
                self.user.pk, self.channel_name, self.limits.presence_expiry, username=self.username
            )
            if change is not None:
                await publish_presence(change)
        except Exception as exc:  # noqa: BLE001 - the heartbeat sweep repairs what this misses
            await messaging_logger.aerror(
                category_for_exception(exc), "could not clean up a closed socket", user=self.user, exc=exc
            )

    async def disconnect(self, code: int) -> None:
        if code == ABNORMAL_CLOSURE and self.authenticated:
            # The connection dropped without a close frame: a network cut, a
            # killed client. Worth seeing when it happens a lot.
            await messaging_logger.athrottled(
                ErrorCategory.CONNECTION_ERROR,
                "abnormal_closure",
                f"a {self.connection_kind} socket closed without a close frame (1006)",
                self.user,
                severity="info",
            )
        await self.leave()

    async def session_logout(self, event: dict[str, Any]) -> None:
        """The session this socket was opened with signed out: the socket goes too."""
        if event.get("session_key") and event["session_key"] == self.session_key:
            self.closing = True
            await self.close(code=conf.CLOSE_SIGNED_OUT)

    async def session_recheck(self, event: dict[str, Any]) -> None:
        """The user's account changed (password, deactivation, deletion): does this socket's session still hold?"""
        await self.session_guard.recheck(event)

    async def refuse(self) -> None:
        """Refuse the handshake: closing before ``accept`` makes daphne answer 403."""
        await self.close()
        if self.late is not None:
            metrics.HANDSHAKES_LATE.labels(self.connection_kind).inc()
            if record_this_one():
                await messaging_logger.aerror(
                    ErrorCategory.CONNECTION_ERROR,
                    f"refused {self.connection_kind} handshakes that waited over MESSAGING_HANDSHAKE_BUDGET_SECONDS "
                    f"({self.limits.handshake_budget:g} s) to reach their consumer (this one {self.late:.1f} s; "
                    "linkup_handshakes_late counts them all)",
                    severity="warning",
                    context={"code": "handshake_late", "waited_seconds": round(self.late, 2)},
                )

    # --- Frames in -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        frame = self.validator.parse(text_data, bytes_data, allowed=self.frames)
        if isinstance(frame, ProtocolError):
            metrics.frames_received(self.connection_kind, "invalid").inc()
            await self.reject(frame)
            return
        metrics.frames_received(self.connection_kind, frame.type).inc()
        user_id = getattr(self.user, "pk", None)
        refused = await self.allowances.check(frame.type, user_id)
        if refused is not None:
            await self.answer_failure(refused, frame)
            return
        try:
            handler = getattr(self, f"on_{frame.type}")
            if user_id is not None and self.allowances.meters(frame.type):
                async with self.allowances.metered(user_id):
                    await handler(frame)
            else:  # most frames: no context manager to enter and leave
                await handler(frame)
        except Exception as exc:  # noqa: BLE001 - mapped to its error frame just below
            await self.answer_failure(exc, frame)

    async def answer_failure(self, exc: Exception, frame: Frame) -> None:
        """The one place a failure while handling ``frame`` becomes an error frame.

        Only a frame the contract does not allow counts toward the abuse
        close; a refusal (rate limited, not a member, not found) is answered
        and the socket goes on.
        """
        client_id = getattr(frame, "client_id", None)
        ref = getattr(frame, "ref", None)
        if isinstance(exc, StoreError):
            exc = wire_error(exc)
        if isinstance(exc, MessagingException):
            if exc.client_id is None:
                exc.client_id = client_id
            if exc.ref is None:
                exc.ref = ref
        if isinstance(exc, ProtocolError):
            await self.reject(exc)
        elif isinstance(exc, RateLimited):
            self.hold_reading(exc.extra.get("retry_after"))
            await self.send_error(exc)
        elif isinstance(exc, MessagingException):
            # A ServerError's raiser recorded its cause; the edge only answers.
            await self.send_error(exc)
        else:
            await self.server_failed(exc, f"failed to handle a {frame.type} frame", client_id=client_id, ref=ref)

    def hold_reading(self, retry_after: float | None) -> None:
        """After a refusal with ``retry_after`` (any allowance's code), read nothing from this client until ``retry_after`` (at most ``MESSAGING_REFUSED_HOLD_SECONDS``).

        A client that follows ``retry_after`` sends nothing meanwhile anyway;
        one that does not waits in its own TCP buffers instead of costing the
        server a parse and a refusal per frame (``linkup/server.py``'s
        ``FrameQueue``; without the project's server, nothing happens).
        """
        hold = min(retry_after or 0.0, self.limits.refused_hold)
        if hold > 0 and self.outbound is not None:
            self.outbound.hold_reading(hold)

    async def server_failed(
        self, exc: Exception, what: str, client_id: str | None = None, ref: Ref | None = None
    ) -> None:
        """Record an unexpected server-side failure and answer ``server_error``."""
        await messaging_logger.aerror(category_for_exception(exc), what, user=self.user, exc=exc)
        await self.send_error(ServerError("the server could not do that; try again", client_id=client_id, ref=ref))

    async def reject(self, error: ProtocolError) -> None:
        """Answer a client's bad frame; count it and record it without flooding.

        A socket that keeps sending bad frames beyond ``MESSAGING_BAD_FRAME_LIMIT``
        is disconnected with ``CLOSE_PROTOCOL_ABUSE``.
        """
        self.bad_frames += 1
        await self.send_error(error)
        await messaging_logger.aclient_error(
            self.user, error.code.value, error.detail, context={"endpoint": self.connection_kind}
        )
        if not self.bad_frame_allowance.take():
            self.closing = True
            self.drop_queued()
            await messaging_logger.aerror(
                ErrorCategory.VALIDATION_ERROR,
                f"disconnected a {self.connection_kind} socket after {self.bad_frames} bad frames",
                severity="warning",
                user=self.user,
                context={"bad_frames": self.bad_frames, "close_code": conf.CLOSE_PROTOCOL_ABUSE},
            )
            await self.close(code=conf.CLOSE_PROTOCOL_ABUSE)

    async def on_ping(self, frame: PingFrame) -> None:
        await self.send_frame(answer(pong_frame(), frame.ref))

    # --- Frames out ------------------------------------------------------------

    async def send_error(self, error: MessagingException) -> None:
        metrics.ERROR_FRAMES.labels(error.code.value).inc()
        await self.send_frame(error_frame(error))

    async def send_frame(self, frame: ServerFrame) -> None:
        try:
            text = JSONSerializer.dumps(frame)
        except ServerError as error:
            await messaging_logger.aerror(
                "json_serialization_error",
                error.detail,
                user=self.user,
                context={"frame": frame.get("type")},
                exc=error,
            )
            text = JSONSerializer.dumps(error_frame(ServerError("the server could not encode its answer")))
        await self.send_text(text)

    async def send_text(self, text: str) -> None:
        """Send pre-serialized text; a socket the client already closed is not an error.

        A client that has left more than ``MESSAGING_MAX_UNSENT_BYTES``
        unread is sent nothing more: the socket is closed (:meth:`not_reading`).
        """
        if self.stalled:
            return
        if self.outbound is not None and self.outbound.pending_bytes() > self.limits.max_unsent_bytes:
            await self.not_reading()
            return
        try:
            await self.send(text_data=text)
        except Disconnected:
            log.debug("send to a closed socket of %s dropped", self.user)

    async def not_reading(self) -> None:
        """Close a socket whose client does not read what it is sent (``CLOSE_NOT_READING``).

        The close frame waits behind the unread bytes; autobahn gives the
        client a second to answer it, then aborts the connection and the
        buffer is freed. The client reconnects and resumes with ``sync``.
        """
        pending = self.outbound.pending_bytes() if self.outbound is not None else 0
        self.stalled = self.closing = True
        self.drop_queued()
        metrics.SOCKETS_NOT_READING.labels(self.connection_kind).inc()
        await messaging_logger.athrottled(
            ErrorCategory.CONNECTION_ERROR,
            "not_reading",
            f"closed a {self.connection_kind} socket whose client left {pending} bytes unread "
            f"(MESSAGING_MAX_UNSENT_BYTES {self.limits.max_unsent_bytes})",
            self.user,
            severity="warning",
        )
        with contextlib.suppress(Disconnected):
            await self.close(code=conf.CLOSE_NOT_READING)

    async def broadcast_text(self, event: dict[str, Any]) -> None:
        """Group events that only forward their serialized frame."""
        await self.send_text(event["text"])

    #: the user's own settings changed (theme...): every tab, chat or bell, applies them
    user_settings = broadcast_text
