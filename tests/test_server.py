"""The project's daphne: every way of starting it serves with ``LinkUpServer``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from daphne.http_protocol import HTTPFactory
from django.core.management import get_commands, load_command_class
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from linkup.server import BODY_PIECE_BYTES, LinkUpCommandLine, LinkUpServer


def test_manage_py_runserver_serves_with_the_project_server_class() -> None:
    command = load_command_class(get_commands()["runserver"], "runserver")
    assert command.server_cls is LinkUpServer


def test_the_command_line_entry_point_serves_with_the_project_server_class() -> None:
    assert LinkUpCommandLine.server_class is LinkUpServer


# --- Request bodies: streamed to the application, never parsed by Twisted -----------


def _multipart(size: int) -> tuple[bytes, bytes]:
    boundary = b"linkupboundary"
    payload = bytes(range(256)) * (size // 256)
    body = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n--" + boundary + b"--\r\n"
    )
    return body, b"multipart/form-data; boundary=" + boundary


async def _post_through_daphne(body: bytes, content_type: bytes) -> tuple[list[dict], Any, int]:
    """POST ``body`` through daphne's real HTTP protocol on a ``LinkUpServer``.

    Returns the messages the application received, daphne's request, and the
    bytes of body that sat in the application's queue before it ran.
    """
    received: list[dict] = []
    done = asyncio.Event()

    async def application(scope: dict, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        done.set()

    server = LinkUpServer(application, endpoints=["tcp:port=0:interface=127.0.0.1"], signal_handlers=False)
    server.connections = {}  # what Server.run() starts with; the test drives the protocol without listening
    channel = HTTPFactory(server).buildProtocol(IPv4Address("TCP", "127.0.0.1", 8000))
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(
        b"POST /up HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    request = next(iter(server.connections))
    queue = request.application_queue
    queued = sum(len(m.get("body") or b"") for m in list(queue._queue))
    await asyncio.wait_for(done.wait(), 10)
    return received, request, queued


@pytest.mark.asyncio
async def test_a_request_body_reaches_the_application_whole_in_pieces_of_bounded_size() -> None:
    body, content_type = _multipart(3 * BODY_PIECE_BYTES + 1000)
    received, _, _ = await _post_through_daphne(body, content_type)
    pieces = [m["body"] for m in received if m["type"] == "http.request"]
    assert b"".join(pieces) == body
    assert len(pieces) > 1 and max(len(p) for p in pieces) <= BODY_PIECE_BYTES
    assert [m.get("more_body") for m in received] == [True] * (len(pieces) - 1) + [False]


@pytest.mark.asyncio
async def test_twisted_does_not_parse_a_multipart_body_itself() -> None:
    body, content_type = _multipart(1024)
    _, request, _ = await _post_through_daphne(body, content_type)
    assert request.args == {}


@pytest.mark.asyncio
async def test_a_request_body_waits_in_twisteds_file_not_in_the_applications_queue() -> None:
    body, content_type = _multipart(2 * BODY_PIECE_BYTES)
    _, _, queued = await _post_through_daphne(body, content_type)
    assert queued == 0
