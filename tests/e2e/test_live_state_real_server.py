"""Ticks, typing and presence between real clients, across a SIGKILL of daphne."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from bench.wsclient import ChatClient, login

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HEARTBEAT, EXPIRY = "1", "3"


def test_ticks_typing_and_no_ghost_after_kill_9(server_env_factory, start_daphne) -> None:
    env = server_env_factory(MESSAGING_PRESENCE_HEARTBEAT_SECONDS=HEARTBEAT, MESSAGING_PRESENCE_EXPIRY_SECONDS=EXPIRY)
    first = start_daphne(env)

    async def before_kill() -> None:
        alice = ChatClient(first.base_url, login(first.base_url, "alice", PASSWORD), "bob")
        bob = ChatClient(first.base_url, login(first.base_url, "bob", PASSWORD), "alice")
        await alice.connect()
        await bob.connect()
        assert (await alice.expect("presence"))["online"] is True

        await bob.send({"type": "typing", "is_typing": True})
        print("alice sees", await alice.expect("typing"))

        client_id = uuid.uuid4().hex
        await alice.send({"type": "message", "content": "are you there?", "client_id": client_id})
        ack = await alice.expect("ack")
        print("alice: sent", ack["message"]["status"])
        delivered = await alice.expect("status")
        print("alice: status", delivered["status"], "up_to", delivered["up_to"])
        await bob.expect("message")
        await bob.send({"type": "read", "up_to": ack["message"]["seq"]})
        read = await alice.expect("status", where=lambda f: f["status"] == "read")
        print("alice: status", read["status"], "up_to", read["up_to"])
        assert (ack["message"]["status"], delivered["status"], read["status"]) == ("sent", "delivered", "read")

    asyncio.run(before_kill())
    first.kill()
    killed_at = time.monotonic()
    second = start_daphne(env)
    # Bob's sockets cannot be swept before they expire, nor before a server
    # is up to sweep them: the budget runs from the later of the two, so a
    # slow start of the second daphne does not count against it.
    sweepable_at = max(killed_at + float(EXPIRY), time.monotonic())
    offline_at = 0.0

    async def after_restart() -> None:
        nonlocal offline_at
        alice = ChatClient(second.base_url, login(second.base_url, "alice", PASSWORD), "bob")
        connected = await alice.connect()
        print("after restart, alice's connected frame says bob online:", connected["peer"]["online"])
        if connected["peer"]["online"]:
            offline = await alice.expect("presence", timeout=30)
            assert offline["user"] == "bob" and offline["online"] is False
        offline_at = time.monotonic()
        print(
            f"bob shown offline {offline_at - killed_at:.1f} s after the kill, "
            f"{offline_at - sweepable_at:.1f} s after his sockets expired and the second server was up"
        )
        await alice.close()
        again = ChatClient(second.base_url, login(second.base_url, "alice", PASSWORD), "bob")
        assert (await again.connect())["peer"]["online"] is False
        await again.close()

    asyncio.run(after_restart())
    assert offline_at - sweepable_at < 2 * float(HEARTBEAT) + 10
