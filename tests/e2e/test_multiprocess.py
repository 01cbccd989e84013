"""Two daphne processes sharing PostgreSQL and Redis: one conversation across them, and a SIGKILL.

Process A and process B serve the same database and channel layer, as two
workers behind a load balancer do. The tests print their counts past
pytest's capture, so they are in every run's output (and .ci/run's log), and
assert them too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import websockets

from bench.wsclient import ChatClient, ClientClosed, login
from tests.servers import Daphne

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.requires_redis, pytest.mark.requires_postgres]

# Small presence timers so that a killed process's users go offline in
# seconds; the defaults (20 s, 60 s) behave the same, only slower.
HEARTBEAT_SECONDS = 1
EXPIRY_SECONDS = 3
USERS = ("alice", "bob", "carol")


@dataclass
class Cluster:
    env: dict[str, str]
    a: Daphne
    b: Daphne
    cookies: dict[str, str] = field(default_factory=dict)

    async def chat(self, server: Daphne, user: str, peer: str) -> ChatClient:
        client = ChatClient(server.base_url, self.cookies[user], peer)
        await client.connect()
        return client

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def open_sockets(self, user: str) -> int:
        return self.query(
            "SELECT count(*) FROM messaging_connection c JOIN auth_user u ON u.id = c.user_id WHERE u.username = %s",
            user,
        )[0][0]


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """Print straight to the terminal, captured or not: these counts belong in the log."""

    def say(text: str) -> None:
        with capsys.disabled():
            print(text, flush=True)

    return say


@pytest.fixture
def cluster(server_env_factory: Callable[..., dict[str, str]]) -> Iterator[Cluster]:
    env = server_env_factory(
        MESSAGING_PRESENCE_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
        MESSAGING_PRESENCE_EXPIRY_SECONDS=str(EXPIRY_SECONDS),
        # The stream below sends faster than a person types; the shared rate
        # bucket has its own test (test_deployment_stack).
        MESSAGING_RATE_LIMIT="off",
    )
    servers: list[Daphne] = []
    try:
        servers.append(Daphne(env).start())
        servers.append(Daphne(env).start())
        a, b = servers
        # Sessions live in the shared database: a cookie from A opens B too.
        yield Cluster(env, a, b, {user: login(a.base_url, user, PASSWORD) for user in USERS})
    finally:
        for server in servers:
            server.stop()


async def send(client: ChatClient, content: str, client_id: str) -> dict[str, Any]:
    await client.send({"type": "message", "content": content, "client_id": client_id})
    return (await client.expect("ack", where=lambda f: f["client_id"] == client_id))["message"]


async def frames_until(client: ChatClient, match: Callable[[dict[str, Any]], bool], timeout: float = 20) -> list[dict]:
    """Every frame up to and including the first that matches."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    frames = []
    while True:
        frames.append(await client.next(max(0.01, deadline - loop.time())))
        if match(frames[-1]):
            return frames


def presence_of(user: str, online: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f["type"] == "presence" and f["user"] == user and f["online"] is online


def test_messages_statuses_typing_and_presence_cross_between_processes(
    cluster: Cluster, report: Callable[[str], None]
) -> None:
    async def scenario() -> None:
        alice = await cluster.chat(cluster.a, "alice", "bob")
        bob = await cluster.chat(cluster.b, "bob", "alice")
        # Presence: alice (on A) hears bob (on B) come online; bob's snapshot has alice online.
        await alice.expect("presence", where=presence_of("bob", True))
        assert bob.connected["peer"]["online"] is True

        # A message from A reaches B; B delivering it comes back to A as a status.
        sent = await send(alice, "hello from A", "a-1")
        pushed = await bob.expect("message", where=lambda f: f["message"]["id"] == sent["id"])
        assert pushed["message"]["content"] == "hello from A"
        delivered = await alice.expect("status", where=lambda f: f["status"] == "delivered")
        assert (delivered["up_to"], delivered["by"]) == (sent["seq"], "bob")

        # And back from B to A.
        reply = await send(bob, "hello from B", "b-1")
        pushed = await alice.expect("message", where=lambda f: f["message"]["id"] == reply["id"])
        assert pushed["message"]["seq"] == sent["seq"] + 1

        # Read on B, status on A.
        await bob.send({"type": "read", "up_to": sent["seq"]})
        read = await alice.expect("status", where=lambda f: f["status"] == "read")
        assert (read["up_to"], read["by"]) == (sent["seq"], "bob")

        # Typing on B shows on A (and only there: the typist's own socket gets no echo).
        await bob.send({"type": "typing", "is_typing": True})
        assert await alice.expect("typing") == {"type": "typing", "user": "bob", "is_typing": True}
        await bob.send({"type": "ping"})
        before_pong = await frames_until(bob, lambda f: f["type"] == "pong")
        assert [f for f in before_pong if f["type"] == "typing"] == []
        report(
            "\nmultiprocess: A->B message, B->A reply, delivered and read statuses, typing and presence "
            "all crossed between the two daphne processes"
        )
        await alice.close()
        await bob.close()

    asyncio.run(scenario())


def test_a_user_with_a_tab_on_each_process_stays_online_until_the_last_tab_closes(
    cluster: Cluster, report: Callable[[str], None]
) -> None:
    async def scenario() -> None:
        bob = await cluster.chat(cluster.b, "bob", "alice")
        alice_on_a = await cluster.chat(cluster.a, "alice", "bob")
        alice_on_b = await cluster.chat(cluster.b, "alice", "bob")
        await bob.expect("presence", where=presence_of("alice", True))

        await alice_on_a.close()
        for _ in range(100):  # until A has forgotten the closed tab
            if cluster.open_sockets("alice") == 1:
                break
            await asyncio.sleep(0.05)
        assert cluster.open_sockets("alice") == 1
        # A fresh look from either process still finds alice online.
        for server in (cluster.a, cluster.b):
            look = await cluster.chat(server, "bob", "alice")
            assert look.connected["peer"]["online"] is True
            await look.close()

        await alice_on_b.close()
        frames = await frames_until(bob, presence_of("alice", False))
        # The offline announcement came once, after the last tab: none when the first closed.
        assert [f for f in frames if f["type"] == "presence"] == [frames[-1]]
        report("\nmultiprocess: alice stayed online with a tab on B after closing her tab on A; offline after the last")
        await bob.close()

    asyncio.run(scenario())


# --- SIGKILL mid-stream ------------------------------------------------------------------


@dataclass
class Receiver:
    """A chat client that keeps every message it sees and, when its server dies, reconnects and syncs.

    It syncs from its highest *contiguous* seq, as a real client should: a push
    may be missing below a later one.
    """

    cluster: Cluster
    user: str
    peer: str
    server: Daphne
    client: ChatClient | None = None
    base: int = 0
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    pushes: int = 0
    reconnects: int = 0
    synced_after: list[int] = field(default_factory=list)
    sync_answered: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None

    async def start(self) -> None:
        self.client = await self.cluster.chat(self.server, self.user, self.peer)
        self.base = self.client.connected["last_seq"]
        self.task = asyncio.create_task(self.run())

    def contiguous(self) -> int:
        seqs = {m["seq"] for m in self.messages.values()}
        last = self.base
        while last + 1 in seqs:
            last += 1
        return last

    async def request_sync(self) -> None:
        self.synced_after.append(self.contiguous())
        await self.client.send({"type": "sync", "after": self.contiguous()})

    async def run(self) -> None:
        while True:
            if self.client.closed:
                self.server = self.cluster.b
                self.client = await self.cluster.chat(self.server, self.user, self.peer)
                self.reconnects += 1
                await self.request_sync()
            try:
                frame = await self.client.next(timeout=0.2)
            except (TimeoutError, ClientClosed):
                continue
            if frame["type"] == "message":
                self.pushes += 1
                self.messages.setdefault(frame["message"]["id"], frame["message"])
            elif frame["type"] == "sync":
                for message in frame["messages"]:
                    self.messages.setdefault(message["id"], message)
                if frame["has_more"]:
                    await self.request_sync()
                else:
                    self.sync_answered.set()

    async def catch_up(self, last_seq: int) -> None:
        """Sync until every seq up to ``last_seq`` is here."""
        for _ in range(20):
            if self.contiguous() >= last_seq:
                return
            self.sync_answered.clear()
            await self.request_sync()
            await asyncio.wait_for(self.sync_answered.wait(), timeout=10)
        raise AssertionError(f"{self.user} could not catch up to {last_seq}: has up to {self.contiguous()}")

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


@dataclass
class Sender:
    """Sends a stream of messages; when its server dies, reconnects to B and resends what was not acked."""

    cluster: Cluster
    client: ChatClient
    outbox: dict[str, str] = field(default_factory=dict)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    frames_sent: int = 0
    resent: int = 0
    reconnects: int = 0

    async def try_send(self, client_id: str) -> None:
        try:
            await self.client.send({"type": "message", "content": self.outbox[client_id], "client_id": client_id})
            self.frames_sent += 1
        except websockets.ConnectionClosed:
            pass  # resent after the reconnect

    async def read_acks(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            if self.client.closed:
                self.client = await self.cluster.chat(self.cluster.b, "alice", "bob")
                self.reconnects += 1
                for client_id in [c for c in self.outbox if c not in self.acks]:
                    self.resent += 1
                    await self.try_send(client_id)
                continue
            try:
                frame = await self.client.next(timeout=left)
            except TimeoutError:
                return
            except ClientClosed:
                continue
            assert frame["type"] != "error", frame
            if frame["type"] == "ack":
                self.acks[frame["client_id"]] = frame["message"]

    async def stream(self, count: int, kill_after: int, kill: Callable[[], None]) -> None:
        for i in range(count):
            client_id = f"stream-{i}"
            self.outbox[client_id] = f"stream {i}"
            await self.try_send(client_id)
            if i == kill_after:
                kill()  # right after a send: that message is in flight when A dies
            await self.read_acks(0.02)
        for _ in range(100):
            if len(self.acks) == count:
                return
            await self.read_acks(0.2)
        raise AssertionError(f"only {len(self.acks)} of {count} messages were acked")


def test_a_sigkilled_process_loses_nothing_its_clients_reconnect_and_sync(
    cluster: Cluster, report: Callable[[str], None]
) -> None:
    count, kill_after = 60, 20

    async def scenario() -> None:
        # carol has a socket on A only: she must go offline when A dies.
        carol = await cluster.chat(cluster.a, "carol", "bob")
        bob_watching_carol = await cluster.chat(cluster.b, "bob", "carol")
        assert bob_watching_carol.connected["peer"]["online"] is True
        bob_on_a = Receiver(cluster, "bob", "alice", cluster.a)
        bob_on_b = Receiver(cluster, "bob", "alice", cluster.b)
        await bob_on_a.start()
        await bob_on_b.start()
        sender = Sender(cluster, await cluster.chat(cluster.a, "alice", "bob"))
        killed_at: list[float] = []

        def kill_a() -> None:
            cluster.a.kill()
            killed_at.append(time.monotonic())

        await sender.stream(count, kill_after, kill_a)
        offline = await frames_until(bob_watching_carol, presence_of("carol", False), timeout=10 * EXPIRY_SECONDS)
        offline_after = time.monotonic() - killed_at[0]

        last_seq = max(ack["seq"] for ack in sender.acks.values())
        for receiver in (bob_on_a, bob_on_b):
            await receiver.catch_up(last_seq)
        stored = cluster.query(
            "SELECT count(*), count(DISTINCT client_id), min(seq), max(seq) FROM messaging_event "
            "WHERE kind = 'message' AND client_id LIKE 'stream-%%'"
        )[0]
        acked_ids = {ack["id"] for ack in sender.acks.values()}
        counts = {
            "sent": len(sender.outbox),
            "frames sent": sender.frames_sent,
            "resent after reconnect": sender.resent,
            "acked": len(sender.acks),
            "stored": stored[0],
            "stored distinct client_id": stored[1],
            "stored seq range": (stored[2], stored[3]),
        }
        report(
            f"\nmultiprocess SIGKILL of A after message {kill_after}: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
        for name, receiver in (("bob on A -> B", bob_on_a), ("bob on B", bob_on_b)):
            client_ids = [m["client_id"] for m in receiver.messages.values()]
            duplicates = len(client_ids) - len(set(client_ids))
            report(
                f"  {name}: received {len(receiver.messages)} after resync "
                f"({receiver.pushes} pushes, {receiver.reconnects} reconnects, synced after seq {receiver.synced_after}), "
                f"duplicates {duplicates}"
            )
            assert set(receiver.messages) == acked_ids
            assert sorted(m["seq"] for m in receiver.messages.values()) == list(range(1, count + 1))
            assert duplicates == 0
        report(
            f"  carol (only on A) announced offline {offline_after:.1f} s after the kill "
            f"(heartbeat {HEARTBEAT_SECONDS} s, expiry {EXPIRY_SECONDS} s); last_seen {offline[-1]['last_seen']}"
        )

        assert len(sender.outbox) == len(sender.acks) == count
        assert len(acked_ids) == count
        assert stored == (count, count, 1, count)
        assert bob_on_a.reconnects == 1 and sender.reconnects == 1
        assert offline[-1]["last_seen"] is not None
        for receiver in (bob_on_a, bob_on_b):
            await receiver.stop()
        await sender.client.close()
        await bob_watching_carol.close()
        await carol.close()

    asyncio.run(scenario())
