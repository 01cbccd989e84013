"""Against a real daphne: a client that stops reading costs the server a bounded amount, and is closed with 4408.

Twisted buffers, without bound, every frame the server writes to a socket
until the client reads it. The client here is a raw socket with a small
kernel receive buffer that reads its ``connected`` frame and then nothing;
another user pushes it tens of megabytes of the longest messages. LinkUp
holds at most ``MESSAGING_MAX_UNSENT_BYTES`` (1 MiB) plus one frame for it,
then closes it (``CLOSE_NOT_READING``, 4408; autobahn aborts the connection
if the close handshake does not complete within a second), and the
one-to-one view does not call delivered what never left the server.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from bench.wsclient import ChatClient, login
from tests.servers import server_query

from .conftest import PASSWORD
from .rawws import CLOSE, TEXT, ConnectionDropped, handshake

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: the longest message the test server accepts: 14 000 emoji, 56 000 bytes of UTF-8 (a frame is at most 64 KiB)
LENGTH = 14_000
CONTENT = "\U0001f600" * LENGTH
MESSAGES = 200  # about 11 MB pushed to the reader: past the kernel buffers and the bound
SMALL_RCVBUF = 8192


@pytest.fixture
def server(server_env_factory, start_daphne):
    env = server_env_factory(MESSAGING_RATE_LIMIT="1000000/1s", MESSAGING_MAX_LENGTH=str(LENGTH))
    return start_daphne(env)


def first_frame(raw) -> dict:
    opcode, payload = raw.read_frame()
    assert opcode == TEXT
    return json.loads(payload)


async def push(server, conversation_to: str) -> tuple[int, int]:
    """Alice sends MESSAGES of the longest kind to bob (at most 20 unacknowledged); the bytes pushed and the conversation."""
    alice = ChatClient(server.base_url, login(server.base_url, "alice", PASSWORD), "", path="/ws/chat/")
    await alice.connect()
    await alice.send({"type": "message", "to": conversation_to, "content": "hello", "client_id": uuid.uuid4().hex})
    conversation = (await alice.expect("ack"))["event"]["conversation"]
    pushed = 0
    for start in range(0, MESSAGES, 20):
        for _ in range(start, min(MESSAGES, start + 20)):
            frame = {"type": "message", "conversation": conversation, "content": CONTENT, "client_id": uuid.uuid4().hex}
            await alice.socket.send(json.dumps(frame, ensure_ascii=False))  # UTF-8, not \u escapes: within 64 KiB
        for _ in range(start, min(MESSAGES, start + 20)):
            ack = await alice.expect("ack", timeout=30)
            pushed += len(json.dumps({"type": "event", "event": ack["event"]}, ensure_ascii=False).encode())
    await alice.close()
    return pushed, conversation


def read_until_closed(raw, timeout: float) -> tuple[int, int | None]:
    """Read everything until the server's close frame or the end of the connection; bytes read and the close code."""
    raw.sock.settimeout(timeout)
    received = 0
    try:
        while True:
            opcode, payload = raw.read_frame()
            if opcode == CLOSE:
                return received, int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            received += len(payload)
    except (ConnectionDropped, ConnectionResetError):
        return received, None
    except TimeoutError:
        pytest.fail(f"the server kept the socket of a client that read nothing open ({received} bytes read since)")
    finally:
        raw.close()


def test_a_client_that_stops_reading_is_closed_with_4408_instead_of_being_buffered_for(server) -> None:
    raw = handshake(server.port, "/ws/chat/", cookie=login(server.base_url, "bob", PASSWORD), rcvbuf=SMALL_RCVBUF)
    assert raw.status == 101 and first_frame(raw)["type"] == "connected"
    pushed, _ = asyncio.run(push(server, "bob"))
    received, code = read_until_closed(raw, timeout=15)
    assert pushed > 10_000_000
    # The close frame waits behind the unread megabyte: the reader sees it, or (more often, as
    # it did not answer within the close handshake's second) the abort that freed the buffer.
    assert code in (4408, None)
    assert received < pushed / 2
    closed = server_query(
        server.env,
        "[e.context.get('code') for e in MessagingError.objects.filter(category='connection_error')]",
    )
    assert "not_reading" in closed


def test_the_one_to_one_view_does_not_mark_delivered_what_never_left_the_server(server) -> None:
    raw = handshake(server.port, "/ws/chat/alice/", cookie=login(server.base_url, "bob", PASSWORD), rcvbuf=SMALL_RCVBUF)
    assert raw.status == 101 and first_frame(raw)["type"] == "connected"
    pushed, conversation = asyncio.run(push(server, "bob"))
    read_until_closed(raw, timeout=15)
    delivered, last = server_query(
        server.env,
        f"[Participant.objects.get(conversation_id={conversation}, user__username='bob').delivered_seq,"
        f" Conversation.objects.get(pk={conversation}).last_seq]",
    )
    assert last == MESSAGES + 1
    assert delivered < last, "messages still in the server's buffer when the socket was closed were marked delivered"
