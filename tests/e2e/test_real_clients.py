"""Two real WebSocket clients against a running daphne: sign in, chat, drop, catch up."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bench.wsclient import ChatClient, login

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def send(client: ChatClient, content: str) -> dict:
    client_id = uuid.uuid4().hex
    await client.send({"type": "message", "content": content, "client_id": client_id})
    return (await client.expect("ack", where=lambda f: f["client_id"] == client_id))["message"]


def test_two_clients_chat_disconnect_and_catch_up_without_loss(daphne) -> None:
    async def scenario() -> None:
        alice_cookie = login(daphne.base_url, "alice", PASSWORD)
        bob_cookie = login(daphne.base_url, "bob", PASSWORD)
        alice = ChatClient(daphne.base_url, alice_cookie, "bob")
        bob = ChatClient(daphne.base_url, bob_cookie, "alice")
        await alice.connect()
        await bob.connect()

        sent = [await send(alice, f"live {i}") for i in range(5)]
        received = [(await bob.expect("message"))["message"] for _ in range(5)]
        assert [m["id"] for m in received] == [m["id"] for m in sent]
        last_seen = received[-1]["seq"]

        await bob.close()
        sent += [await send(alice, f"while away {i}") for i in range(7)]
        bob = ChatClient(daphne.base_url, bob_cookie, "alice")
        connected = await bob.connect()
        assert connected["last_seq"] == len(sent)
        caught_up = await bob.sync_all(after=last_seen)
        everything = received + caught_up
        assert [m["id"] for m in everything] == [m["id"] for m in sent]
        assert [m["seq"] for m in everything] == list(range(1, len(sent) + 1))
        assert len({m["id"] for m in everything}) == len(everything)
        await alice.close()
        await bob.close()

    asyncio.run(scenario())


def test_a_foreign_origin_cannot_open_a_socket(daphne) -> None:
    import websockets

    async def scenario() -> None:
        cookie = login(daphne.base_url, "alice", PASSWORD)
        with pytest.raises(websockets.InvalidStatus) as caught:
            await websockets.connect(
                daphne.base_url.replace("http", "ws") + "/ws/chat/bob/",
                additional_headers={"Cookie": cookie, "Origin": "http://evil.example"},
            )
        assert caught.value.response.status_code == 403

    asyncio.run(scenario())
