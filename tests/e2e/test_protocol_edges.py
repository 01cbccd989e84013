"""Against a real daphne, byte by byte: unknown paths and protocol violations get their proper answer.

The server is the project's (``python -m linkup.server``, see linkup/server.py),
started as a deployment starts it.
"""

from __future__ import annotations

import json

import pytest

from bench.wsclient import login

from .conftest import PASSWORD
from .rawws import TEXT, ConnectionDropped, handshake

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# RFC 6455 §7.4.1
PROTOCOL_ERROR = 1002
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/chat", "/ws/chat/bob/extra/", "/ws/a%0Ab/"])
def test_an_unknown_path_is_refused_with_403_and_logs_no_traceback(module_daphne, path: str) -> None:
    cookie = login(module_daphne.base_url, "alice", PASSWORD)
    raw = handshake(module_daphne.port, path, cookie=cookie)
    raw.close()
    assert raw.status == 403
    log = module_daphne.log()
    assert "Traceback" not in log and "No route found" not in log, log


def signed_in_socket(server) -> object:
    raw = handshake(server.port, "/ws/notifications/", cookie=login(server.base_url, "alice", PASSWORD))
    assert raw.status == 101
    opcode, payload = raw.read_frame()
    assert opcode == TEXT and json.loads(payload)["type"] == "unread_count"
    return raw


def close_code_after(raw, payload: bytes, *, opcode: int = TEXT, masked: bool = True) -> int:
    raw.send_frame(opcode, payload, masked=masked)
    try:
        code, _ = raw.read_close()
    except ConnectionDropped:
        return 1006  # no close frame: what a dropped connection reports
    finally:
        raw.close()
    return code


def test_a_text_frame_that_is_not_utf8_is_closed_with_1007(module_daphne) -> None:
    raw = signed_in_socket(module_daphne)
    assert close_code_after(raw, b'{"type": "ping", "x": "\xff\xfe"}') == INVALID_PAYLOAD


def test_an_unmasked_client_frame_is_closed_with_1002(module_daphne) -> None:
    raw = signed_in_socket(module_daphne)
    assert close_code_after(raw, b'{"type": "ping"}', masked=False) == PROTOCOL_ERROR


def test_a_message_over_daphnes_limit_is_closed_with_1009(module_daphne) -> None:
    raw = signed_in_socket(module_daphne)
    assert close_code_after(raw, b"x" * (1024 * 1024 + 1)) == MESSAGE_TOO_BIG
