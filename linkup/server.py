"""daphne, with WebSocket protocol violations closed by their RFC code.

autobahn (under daphne) fails a connection that breaks the WebSocket protocol
(a text frame that is not UTF-8, a frame over the size limit, a bad opcode)
by dropping the TCP connection, its ``failByDrop`` default. RFC 6455 §7.1.7
has the endpoint send a close frame with the reason's code instead (1007
invalid payload data, 1009 too big, 1002 protocol error), which tells the
client what it did wrong. daphne has no option for it, so this subclass turns
it off for each WebSocket connection as daphne registers it.

Serve with ``python -m linkup.server <daphne's arguments>`` (the same
arguments as ``daphne``); ``manage.py runserver`` uses it too
(``linkup/management/commands/runserver.py``).
"""

from __future__ import annotations

from typing import Any

from autobahn.websocket.protocol import WebSocketServerProtocol
from daphne.cli import CommandLineInterface
from daphne.server import Server


class LinkUpServer(Server):
    def protocol_connected(self, protocol: Any) -> None:
        # Called for every HTTP request and WebSocket handshake, before any
        # frame is read; the option is read only when a connection fails.
        if isinstance(protocol, WebSocketServerProtocol):
            protocol.failByDrop = False
        super().protocol_connected(protocol)


class LinkUpCommandLine(CommandLineInterface):
    server_class = LinkUpServer


if __name__ == "__main__":
    LinkUpCommandLine.entrypoint()
