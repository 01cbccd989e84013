"""SIGKILL of daphne while a client streams messages: nothing acknowledged is lost or doubled."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
import websockets

from bench.wsclient import ChatClient, ClientClosed, login
from tests.robustness import STATS
from tests.servers import server_query

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOTAL, WINDOW, KILL_AFTER = 300, 20, 80
# Past the 80th ack, so the kill lands in the middle of the stream rather
# than between two of its messages.
KILL_DELAY = 0.015
# A backstop for the killer thread: the sender gives up after 15 s without an ack.
KILLER_DEADLINE = 60


class Sender:
    """Streams TOTAL messages with up to WINDOW unacknowledged; resends what was not acked."""

    def __init__(self) -> None:
        self.ids = [f"kill-{i:04d}-{uuid.uuid4().hex[:8]}" for i in range(TOTAL)]
        self.acked: dict[str, dict] = {}
        self.next = 0

    def unacked(self) -> list[str]:
        return [cid for cid in self.ids[: self.next] if cid not in self.acked]

    async def run(self, client: ChatClient) -> None:
        """Resend the unacked, then keep the window full until everything is acknowledged."""
        in_flight = set()
        for cid in self.unacked():
            await client.send({"type": "message", "content": f"message {cid}", "client_id": cid})
            in_flight.add(cid)
        while len(self.acked) < TOTAL:
            while len(in_flight) < WINDOW and self.next < TOTAL:
                cid = self.ids[self.next]
                self.next += 1
                await client.send({"type": "message", "content": f"message {cid}", "client_id": cid})
                in_flight.add(cid)
            frame = await client.expect("ack", timeout=15)
            first = self.acked.setdefault(frame["client_id"], frame["message"])
            assert first["id"] == frame["message"]["id"], "a resend was acked as another message"
            in_flight.discard(frame["client_id"])


def stored(env: dict[str, str]) -> list[tuple[int, str]]:
    rows = server_query(env, "list(Message.objects.order_by('seq').values_list('seq', 'client_id'))")
    return [(seq, client_id) for seq, client_id in rows]


def test_sigkill_mid_stream_loses_and_doubles_nothing(server_env_factory, start_daphne) -> None:
    env = server_env_factory(
        MESSAGING_RATE_LIMIT="off", MESSAGING_PRESENCE_HEARTBEAT_SECONDS="1", MESSAGING_PRESENCE_EXPIRY_SECONDS="2"
    )
    first = start_daphne(env)
    sender = Sender()
    received: dict[int, dict] = {}

    async def before_kill() -> None:
        alice = ChatClient(first.base_url, login(first.base_url, "alice", PASSWORD), "bob")
        bob = ChatClient(first.base_url, login(first.base_url, "bob", PASSWORD), "alice")
        await alice.connect()
        await bob.connect()

        stop_killer = threading.Event()

        def kill_when_due() -> None:
            # From another thread, not in step with the acks: the sender keeps
            # its window full, so some messages are committed but not yet
            # acknowledged and some are mid-transaction.
            deadline = time.monotonic() + KILLER_DEADLINE
            while len(sender.acked) < KILL_AFTER:
                if stop_killer.is_set():
                    return  # the stream ended before the kill was due: reported below
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {len(sender.acked)} of {KILL_AFTER} acks before the kill")
                time.sleep(0.0005)
            time.sleep(KILL_DELAY)
            first.kill()

        killer = asyncio.get_running_loop().run_in_executor(None, kill_when_due)
        stream_error: BaseException | None = None
        try:
            await sender.run(alice)
        except (TimeoutError, ClientClosed, websockets.ConnectionClosed) as exc:
            stream_error = exc
        finally:
            stop_killer.set()
            await killer
        if first.process.poll() is None:
            # Not killed: whatever stopped the stream is a failure of its own.
            if stream_error is not None:
                raise stream_error
            raise AssertionError("the stream ended and the server was never killed")
        while True:
            try:
                frame = await bob.next(timeout=2)
            except (TimeoutError, ClientClosed):
                break
            if frame["type"] == "message":
                received[frame["message"]["seq"]] = frame["message"]
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)

    asyncio.run(before_kill())
    STATS["faults: daphne SIGKILLed mid-stream"] += 1
    committed_at_kill = len(stored(env))
    print(
        f"killed with {len(sender.acked)} acked, {len(sender.unacked())} unacked, "
        f"{committed_at_kill} committed (so {committed_at_kill - len(sender.acked)} committed but never acked)"
    )
    second = start_daphne(env)

    async def after_restart() -> None:
        alice = ChatClient(second.base_url, login(second.base_url, "alice", PASSWORD), "bob")
        await alice.connect()
        await sender.run(alice)
        bob = ChatClient(second.base_url, login(second.base_url, "bob", PASSWORD), "alice")
        await bob.connect()
        last_seen = 0
        while last_seen + 1 in received:
            last_seen += 1
        for message in await bob.sync_all(after=last_seen):
            received[message["seq"]] = message
        await alice.close()
        await bob.close()

    asyncio.run(after_restart())
    rows = stored(env)
    client_ids = [cid for _, cid in rows]
    duplicates = len(client_ids) - len(set(client_ids))
    print(
        f"sent {TOTAL}, acknowledged {len(sender.acked)}, stored {len(rows)}, "
        f"received by bob {len(received)}, duplicates {duplicates}"
    )
    STATS["kill mid-stream: messages sent"] += TOTAL
    STATS["kill mid-stream: messages stored"] += len(rows)
    STATS["kill mid-stream: duplicates"] += duplicates
    assert len(sender.acked) == TOTAL
    assert sorted(client_ids) == sorted(sender.ids) and duplicates == 0
    assert [seq for seq, _ in rows] == list(range(1, TOTAL + 1))
    assert {m["id"] for m in received.values()} == {m["id"] for m in sender.acked.values()}

    # The surviving process records the dead one once its sockets expire.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        dead = server_query(
            env,
            "MessagingError.objects.filter(category='connection_error', "
            "message__contains='stopped heartbeating').count()",
        )
        if dead:
            break
        time.sleep(0.5)
    assert dead >= 1
