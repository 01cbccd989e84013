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


def test_two_user_sockets_chat_and_catch_up_with_resume_after_a_disconnect(daphne) -> None:
    """ws/chat/ through daphne: a first message 'to' a user, live events, then resume after being away."""

    async def send_to(client: ChatClient, frame: dict) -> dict:
        client_id = uuid.uuid4().hex
        await client.send({"type": "message", "client_id": client_id, **frame})
        return (await client.expect("ack", where=lambda f: f["client_id"] == client_id))["event"]

    async def scenario() -> None:
        alice_cookie = login(daphne.base_url, "alice", PASSWORD)
        bob_cookie = login(daphne.base_url, "bob", PASSWORD)
        alice = ChatClient(daphne.base_url, alice_cookie, "", path="/ws/chat/")
        bob = ChatClient(daphne.base_url, bob_cookie, "", path="/ws/chat/")
        assert (await alice.connect())["user"]["username"] == "alice"
        await bob.connect()

        first = await send_to(alice, {"to": "bob", "content": "hello bob"})
        conversation = first["conversation"]
        notice = await bob.expect("conversation")
        assert notice["conversation"]["id"] == conversation
        live = [await send_to(alice, {"conversation": conversation, "content": f"live {i}"}) for i in range(3)]
        pushed = [(await bob.expect("event", where=lambda f: f["event"]["seq"] > 1))["event"] for _ in range(3)]
        assert [e["id"] for e in pushed] == [e["id"] for e in live]
        await bob.send({"type": "received", "conversation": conversation, "up_to": pushed[-1]["seq"]})
        receipts = await alice.expect("receipts", where=lambda f: any(r["user"] == "bob" for r in f["receipts"]))
        assert [r["delivered_seq"] for r in receipts["receipts"] if r["user"] == "bob"] == [4]

        await bob.close()
        away = [await send_to(alice, {"conversation": conversation, "content": f"away {i}"}) for i in range(5)]
        bob = ChatClient(daphne.base_url, bob_cookie, "", path="/ws/chat/")
        await bob.connect()
        await bob.send({"type": "resume", "cursors": {str(conversation): 4}, "ref": "back"})
        [entry] = (await bob.expect("resume", where=lambda f: f.get("ref") == "back"))["conversations"]
        assert [e["id"] for e in entry["events"]] == [e["id"] for e in away]
        assert entry["unread"] == 9 and entry["delivered_seq"] == 4
        await alice.close()
        await bob.close()

    asyncio.run(scenario())
