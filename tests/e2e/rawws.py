"""A WebSocket spoken byte by byte, to send what no well-behaved client library will.

Only for tests against a real daphne on loopback: a handshake, frames built
by hand (masked or not, any payload) and reading frames until the server's
close frame or the end of the connection.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from dataclasses import dataclass

CLOSE = 0x8
TEXT = 0x1


class ConnectionDropped(ConnectionError):
    """The server closed the TCP connection without a WebSocket close frame."""


@dataclass
class RawSocket:
    sock: socket.socket
    status: int
    buffer: bytes = b""

    def send_frame(self, opcode: int, payload: bytes, *, masked: bool = True) -> None:
        self.sock.sendall(build_frame(opcode, payload, masked=masked))

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError as exc:
                raise ConnectionDropped("connection reset without a close frame") from exc
            if not chunk:
                raise ConnectionDropped("connection closed without a close frame")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_frame(self) -> tuple[int, bytes]:
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        return first & 0x0F, self._read(length)

    def read_close(self) -> tuple[int, str]:
        """Skip data frames until the close frame; its code and reason."""
        while True:
            opcode, payload = self.read_frame()
            if opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return code, payload[2:].decode("utf-8", "replace")

    def close(self) -> None:
        self.sock.close()


def build_frame(opcode: int, payload: bytes, *, masked: bool = True) -> bytes:
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    elif len(payload) < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", len(payload))
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def handshake(
    port: int, path: str, *, cookie: str | None = None, timeout: float = 10, rcvbuf: int | None = None
) -> RawSocket:
    """Open ``path`` on 127.0.0.1:``port`` with the site's own Origin; the answer's status is in ``status``.

    ``rcvbuf`` sets a small kernel receive buffer before connecting (a client
    that stops reading then stops the server's writes soon).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    origin = f"http://127.0.0.1:{port}"
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin}",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    raw = RawSocket(sock, 0)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    head, _, raw.buffer = head.partition(b"\r\n\r\n")
    raw.status = int(head.split(b" ", 2)[1]) if head else 0
    return raw
