"""daphne, with WebSocket protocol violations closed by their RFC code.

autobahn (under daphne) fails a connection that breaks the WebSocket protocol
(a text frame that is not UTF-8, a frame over the size limit, a bad opcode)
by dropping the TCP connection, its ``failByDrop`` default. RFC 6455 §7.1.7
has the endpoint send a close frame with the reason's code instead (1007
invalid payload data, 1009 too big, 1002 protocol error), which tells the
client what it did wrong. daphne has no option for it, so this subclass turns
it off for each WebSocket connection as daphne registers it.

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

from typing import Any

from autobahn.websocket.protocol import WebSocketServerProtocol
from daphne.cli import CommandLineInterface
from daphne.server import Server

#: how far down a chain of wrapping transports (TLS over TCP) buffers are looked for
MAX_TRANSPORT_DEPTH = 3


class TransportProbe:
    """A WebSocket connection's outgoing buffer, as the consumer may see it (and nothing more)."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

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
            protocol.failByDrop = False
        super().protocol_connected(protocol)

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        if isinstance(protocol, WebSocketServerProtocol):
            scope.setdefault("extensions", {})["linkup.transport"] = TransportProbe(protocol)
        return super().create_application(protocol, scope)


class LinkUpCommandLine(CommandLineInterface):
    server_class = LinkUpServer


if __name__ == "__main__":
    LinkUpCommandLine.entrypoint()
