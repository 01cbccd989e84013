"""daphne, with WebSocket protocol violations closed by their RFC code.

autobahn (under daphne) fails a connection that breaks the WebSocket protocol
(a text frame that is not UTF-8, a frame over the size limit, a bad opcode)
by dropping the TCP connection, its ``failByDrop`` default. RFC 6455 §7.1.7
has the endpoint send a close frame with the reason's code instead (1007
invalid payload data, 1009 too big, 1002 protocol error), which tells the
client what it did wrong. daphne has no option for it, so this subclass turns
it off for each WebSocket connection as daphne registers it.

Two things for uploads. Twisted parses a ``multipart/form-data`` body
itself, into ``request.args`` that daphne never reads, by reading it whole
and copying it several times (a 20 MB upload cost 260 MB of RSS before Django
saw a byte): :meth:`LinkUpServer.protocol_connected` turns that off. And
daphne reads the whole body, which Twisted has spooled to a temporary file,
into the application's queue at once, so a 20 MB upload sat whole in memory
(ten at once, ten times that): :class:`BodyFromFile` hands it to the
application a piece at a time instead (docs/benchmark.md, "Uploads").
It also tells each WebSocket consumer how much of what it sent is still in
this process (``scope["extensions"]["linkup.transport"]``, a
:class:`TransportProbe`): Twisted buffers every frame a consumer sends,
without bound, until the client reads it, and LinkUp bounds that per socket
(``messaging/realtime/backpressure.py``).

Serve with ``python -m linkup.server <daphne's arguments>`` (the same
arguments as ``daphne``); ``manage.py runserver`` uses it too
(``linkup/management/commands/runserver.py``).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from autobahn.websocket.protocol import WebSocketServerProtocol
from daphne.cli import CommandLineInterface
from daphne.http_protocol import WebRequest
from daphne.server import Server

#: bytes of a request body handed to the application per ``http.request`` message
BODY_PIECE_BYTES = 1024 * 1024


class BodyFromFile(asyncio.Queue):
    """An HTTP request's input queue that keeps the body in Twisted's file until the application reads it.

    daphne puts the body into the queue as ``http.request`` messages, all of
    them before the application runs (one reactor callback). This queue
    keeps only their total length and one marker; when the application
    reaches the marker it gets the body from the file, a piece at a time,
    in order. Everything else (``http.disconnect``) passes through as it is.
    """

    _BODY: dict[str, Any] = {"type": "linkup.body"}

    def __init__(self, content: Any) -> None:
        super().__init__()
        self.content = content
        self.total = 0
        self.left: int | None = None

    def put_nowait(self, item: Any) -> None:
        if isinstance(item, dict) and item.get("type") == "http.request" and self.left is None:
            self.total += len(item.get("body") or b"")
            if not item.get("more_body"):
                super().put_nowait(self._BODY)
            return
        super().put_nowait(item)

    async def get(self) -> Any:
        if self.left is None:
            item = await super().get()
            if item is not self._BODY:
                return item
            self.left = self.total
            self.content.seek(0)
        if self.content.closed:
            return {"type": "http.disconnect"}
        piece = self.content.read(min(BODY_PIECE_BYTES, self.left)) if self.left else b""
        self.left -= len(piece)
        more = self.left > 0 and bool(piece)
        if not more:
            self.left = None  # the body is out: what follows is the queue's (http.disconnect)
        return {"type": "http.request", "body": piece, "more_body": more}


#: how far down a chain of wrapping transports (TLS over TCP) buffers are looked for
MAX_TRANSPORT_DEPTH = 3


#: frames read from a WebSocket and not yet taken by its consumer at which the server stops reading it
MAX_QUEUED_FRAMES = 64


class FrameQueue(asyncio.Queue):
    """A WebSocket's input queue that stops reading the connection while the consumer is behind or refusing.

    daphne reads every frame a client sends as soon as it arrives and queues
    it for the consumer without bound, so a client sending faster than its
    consumer handles makes the server hold (and later parse and answer) all
    of it. This queue stops reading the connection (Twisted's
    ``pauseProducing``: the kernel's buffers fill and TCP holds the client
    back) once :data:`MAX_QUEUED_FRAMES` wait, and reads again when the
    consumer has taken them. :meth:`hold` stops reading for a while: the
    consumer asks for it when it refused a frame over an allowance, and until
    the hold ends the consumer is handed nothing more from the client either
    (frames already read wait here), so a client that goes on sending during
    its ``retry_after`` costs the server one refusal per hold instead of a
    parse and an answer per frame. Pushes to the socket go on meanwhile.
    """

    def __init__(self, protocol: Any) -> None:
        super().__init__()
        self.protocol = protocol
        self.paused = False
        self.held_until = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._not_held = asyncio.Event()
        self._not_held.set()

    def put_nowait(self, item: Any) -> None:
        super().put_nowait(item)
        if self.qsize() >= MAX_QUEUED_FRAMES:
            self._pause()

    async def get(self) -> Any:
        await self._not_held.wait()
        return await super().get()

    def get_nowait(self) -> Any:
        item = super().get_nowait()
        if self.paused and self.qsize() <= MAX_QUEUED_FRAMES // 2:
            self._resume_when_due()
        return item

    def hold(self, seconds: float) -> None:
        """Read nothing more from the connection, and hand the consumer nothing, for ``seconds``."""
        loop = asyncio.get_running_loop()
        self.held_until = max(self.held_until, loop.time() + seconds)
        self._not_held.clear()
        self._pause()
        if self._timer is None:
            self._timer = loop.call_at(self.held_until, self._hold_ended)

    def _hold_ended(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        if loop.time() < self.held_until:  # extended since: one timer, moved on
            self._timer = loop.call_at(self.held_until, self._hold_ended)
            return
        self._not_held.set()
        self._resume_when_due()

    def _pause(self) -> None:
        transport = getattr(self.protocol, "transport", None)
        if transport is not None and not self.paused:
            self.paused = True
            transport.pauseProducing()

    def _resume_when_due(self) -> None:
        if not self.paused or self.qsize() > MAX_QUEUED_FRAMES // 2:
            return
        if asyncio.get_running_loop().time() < self.held_until:
            return  # the hold's own timer resumes it
        self.paused = False
        transport = getattr(self.protocol, "transport", None)
        if transport is not None:
            transport.resumeProducing()  # a no-op on a connection already closed


class TransportProbe:
    """A WebSocket connection's outgoing buffer, as the consumer may see it, and a way to stop reading it."""

    __slots__ = ("_protocol", "_queue")

    def __init__(self, protocol: Any, queue: FrameQueue | None = None) -> None:
        self._protocol = protocol
        self._queue = queue

    def hold_reading(self, seconds: float) -> None:
        """Read no frame from the client for ``seconds`` (:meth:`FrameQueue.hold`)."""
        if self._queue is not None:
            self._queue.hold(seconds)

    def pending_bytes(self) -> int:
        """Bytes written to the connection and not yet taken by the kernel.

        Twisted's ``FileDescriptor`` keeps them in ``dataBuffer`` (from
        ``offset`` on) and ``_tempDataBuffer`` (``_tempDataLen`` bytes); a TLS
        transport keeps its own plaintext buffer in front of the TCP one.
        """
        pending = 0
        transport = getattr(self._protocol, "transport", None)
        for _ in range(MAX_TRANSPORT_DEPTH):
            if transport is None:
                break
            data = getattr(transport, "dataBuffer", None)
            if data is not None:
                pending += len(data) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)
            pending += sum(len(chunk) for chunk in getattr(transport, "_appSendBuffer", ()))
            transport = getattr(transport, "transport", None)
        return pending

    def abort(self) -> None:
        """Drop the connection now; Twisted discards what it had buffered."""
        transport = getattr(self._protocol, "transport", None)
        if transport is not None:
            transport.abortConnection()


class LinkUpServer(Server):
    def protocol_connected(self, protocol: Any) -> None:
        # Called for every HTTP request and WebSocket handshake, before any
        # frame is read; the option is read only when a connection fails.
        if isinstance(protocol, WebSocketServerProtocol):
            protocol.failByDrop = False  # type: ignore[attr-defined]  # autobahn's per-connection option, set at connect
        elif isinstance(protocol, WebRequest):
            # Twisted's own multipart parsing (module docstring); Django's
            # parser streams the body instead.
            protocol._parsePOSTFormSubmission = False
        super().protocol_connected(protocol)

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        """daphne's own, with a WebSocket's :class:`FrameQueue` and transport probe, and an HTTP request's :class:`BodyFromFile`."""
        input_queue: asyncio.Queue
        if isinstance(protocol, WebSocketServerProtocol):
            input_queue = FrameQueue(protocol)
            scope.setdefault("extensions", {})["linkup.transport"] = TransportProbe(protocol, input_queue)
        else:
            content = getattr(protocol, "content", None)
            if scope.get("type") != "http" or content is None:
                return super().create_application(protocol, scope)
            input_queue = BodyFromFile(content)
        assert "application_instance" not in self.connections[protocol]
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop()
        )
        return input_queue


class LinkUpCommandLine(CommandLineInterface):
    server_class = LinkUpServer


if __name__ == "__main__":
    LinkUpCommandLine.entrypoint()
