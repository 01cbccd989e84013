"""A 50-member group across two daphne processes, one SIGKILLed mid-stream: every member converges.

Processes A and B share PostgreSQL and Redis. The members' ``ws/chat/``
sockets (real ``websockets`` clients) alternate between them; five members
send with a few messages in flight. Once part of the stream is acknowledged,
A is SIGKILLed: its members reconnect to B, ``resume`` from their cursors and
resend what was not acknowledged (same ``client_id``). Afterwards every
member holds exactly the database's log, no message is stored twice or lost,
and no socket got an event twice. The counts are printed past pytest's
capture (run with ``-s`` to see them as they come).
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import websockets

from bench.wsclient import ChatClient, ClientClosed
from tests.servers import Daphne, manage

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.requires_redis, pytest.mark.requires_postgres]

MEMBERS = 50
SENDERS = 5
PER_SENDER = 40
IN_FLIGHT = 4
#: acknowledged messages (of SENDERS * PER_SENDER) before A is killed
KILL_AFTER = 70

# Users, the group and a signed-in session per member, made in one shell on
# the servers' database (a login each would hash 50 passwords).
SETUP = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from messaging.store import conversations
User = get_user_model()
names = [f"member{i:02d}" for i in range(%(members)d)]
User.objects.bulk_create([User(username=n, password=make_password(None)) for n in names])
users = list(User.objects.filter(username__in=names).order_by("username"))
change = conversations.create_group(users[0], "Fifty", names[1:], "e2e-fifty", max_members=%(members)d)
store = import_module(settings.SESSION_ENGINE).SessionStore
cookies = {}
for user in users:
    session = store()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    cookies[user.username] = f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
print(json.dumps({"group": change.conversation.pk, "cookies": cookies}))
"""


@dataclass
class Member:
    """One member's client: its copy of the log and cursor, reconnecting to the survivor when its server dies."""

    name: str
    cookie: str
    group: int
    server: Daphne
    survivor: Daphne
    client: ChatClient | None = None
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    cursor: int = 0
    #: event pushes per socket (a socket never gets one twice)
    pushes: list[list[int]] = field(default_factory=list)
    resumed: int = 0
    reconnects: int = 0
    #: for senders: client_id -> the acknowledged event
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent_frames: int = 0
    ack_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False

    async def connect(self) -> None:
        self.connected.clear()
        self.client = ChatClient(self.server.base_url, self.cookie, "", path="/ws/chat/")
        await self.client.connect()
        self.pushes.append([])
        await self.resume()
        self.connected.set()

    async def resume(self) -> None:
        assert self.client is not None
        self.caught_up.clear()
        await self.client.send({"type": "resume", "cursors": {str(self.group): self.cursor}})

    def hold(self, event: dict[str, Any]) -> None:
        held = self.events.setdefault(event["seq"], event)
        assert held["id"] == event["id"], f"{self.name}: two events at seq {event['seq']}"
        while self.cursor + 1 in self.events:
            self.cursor += 1

    async def pump(self) -> None:
        """Read frames until stopped; on a dead socket, reconnect to the survivor and resume."""
        while not self.stopping:
            assert self.client is not None
            try:
                frame = await self.client.next(timeout=0.5)
            except TimeoutError:
                continue
            except ClientClosed:
                self.server = self.survivor
                self.reconnects += 1
                await self.connect()
                continue
            await self.take(frame)

    async def take(self, frame: dict[str, Any]) -> None:
        assert self.client is not None
        kind = frame["type"]
        if kind == "event":
            seq = frame["event"]["seq"]
            assert seq not in self.pushes[-1], f"{self.name}: event {seq} pushed twice to one socket"
            self.pushes[-1].append(seq)
            self.hold(frame["event"])
        elif kind == "ack":
            self.acked[frame["client_id"]] = frame["event"]
            self.hold(frame["event"])
            self.ack_arrived.set()
        elif kind in ("resume", "sync"):
            page = frame if kind == "sync" else next(c for c in frame["conversations"] if c["id"] == self.group)
            self.resumed += len(page["events"])
            for event in page["events"]:
                self.hold(event)
            if page["has_more"]:
                await self.client.send({"type": "sync", "conversation": self.group, "after": self.cursor})
            else:
                self.caught_up.set()
        elif kind == "error":
            raise AssertionError(f"{self.name} got an error: {frame}")

    async def send_all(self, client_ids: list[str]) -> None:
        """Send every message with at most IN_FLIGHT unacknowledged; after a reconnect, resend the unacknowledged."""
        sent: list[str] = []
        socket_of_send: dict[str, ChatClient | None] = {}
        while len(self.acked) < len(client_ids):
            await self.connected.wait()
            for cid in sent:
                if cid not in self.acked and socket_of_send[cid] is not self.client:
                    await self._send(cid, socket_of_send)
            while len(sent) < len(client_ids) and len([c for c in sent if c not in self.acked]) < IN_FLIGHT:
                cid = client_ids[len(sent)]
                sent.append(cid)
                await self._send(cid, socket_of_send)
            self.ack_arrived.clear()
            try:
                await asyncio.wait_for(self.ack_arrived.wait(), timeout=1)
            except TimeoutError:
                continue

    async def _send(self, cid: str, socket_of_send: dict[str, ChatClient | None]) -> None:
        assert self.client is not None
        socket_of_send[cid] = self.client
        self.sent_frames += 1
        try:
            await self.client.send(
                {"type": "message", "conversation": self.group, "content": f"from {self.name}: {cid}", "client_id": cid}
            )
        except websockets.ConnectionClosed:
            socket_of_send[cid] = None  # resent once the pump has reconnected


@dataclass
class Cluster:
    env: dict[str, str]
    a: Daphne
    b: Daphne

    def log(self, group: int) -> list[tuple[int, int, str, str]]:
        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as db:
            return db.execute(
                "SELECT seq, id, kind, client_id FROM messaging_event WHERE conversation_id = %s ORDER BY seq", (group,)
            ).fetchall()


@pytest.fixture
def cluster(server_env_factory: Callable[..., dict[str, str]]) -> Iterator[Cluster]:
    env = server_env_factory(
        MESSAGING_RATE_LIMIT="off", MESSAGING_PRESENCE_HEARTBEAT_SECONDS="1", MESSAGING_PRESENCE_EXPIRY_SECONDS="3"
    )
    servers: list[Daphne] = []
    try:
        servers.append(Daphne(env).start())
        servers.append(Daphne(env).start())
        yield Cluster(env, *servers)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    def say(text: str) -> None:
        with capsys.disabled():
            print(text, flush=True)

    return say


def test_fifty_members_over_two_processes_converge_after_one_is_killed_mid_stream(
    cluster: Cluster, report: Callable[[str], None]
) -> None:
    made = json.loads(manage(cluster.env, "shell", "-c", SETUP % {"members": MEMBERS}).strip().splitlines()[-1])
    group, cookies = made["group"], made["cookies"]
    names = sorted(cookies)
    members = [
        Member(name, cookies[name], group, cluster.a if i % 2 == 0 else cluster.b, cluster.b)
        for i, name in enumerate(names)
    ]
    senders = members[:SENDERS]
    plan = {m.name: [f"{m.name}-{i:03d}" for i in range(PER_SENDER)] for m in senders}

    async def scenario() -> None:
        await asyncio.gather(*(m.connect() for m in members))
        pumps = [asyncio.create_task(m.pump()) for m in members]
        sending = [asyncio.create_task(m.send_all(plan[m.name])) for m in senders]

        async def kill_mid_stream() -> int:
            while sum(len(m.acked) for m in senders) < KILL_AFTER:
                await asyncio.sleep(0.005)
            acked = sum(len(m.acked) for m in senders)
            await asyncio.to_thread(cluster.a.kill)
            return acked

        acked_at_kill = await asyncio.wait_for(kill_mid_stream(), timeout=120)
        await asyncio.wait_for(asyncio.gather(*sending), timeout=180)

        # Every member resumes once more from its cursor and must end at the log's end.
        last_seq = cluster.log(group)[-1][0]
        while any(m.server is cluster.a for m in members):
            await asyncio.sleep(0.05)
        for member in members:
            await member.connected.wait()
            await member.resume()
        await asyncio.wait_for(asyncio.gather(*(m.caught_up.wait() for m in members)), timeout=60)
        for member in members:
            member.stopping = True
        await asyncio.gather(*pumps)
        for member in members:
            assert member.client is not None
            await member.client.close()

        log = cluster.log(group)
        assert log[-1][0] == last_seq
        assert [seq for seq, *_ in log] == list(range(1, len(log) + 1))
        stored = [cid for _, _, kind, cid in log if kind == "message"]
        wanted = [cid for cids in plan.values() for cid in cids]
        assert sorted(stored) == sorted(wanted), "a message was lost or stored twice"
        by_seq = {seq: event_id for seq, event_id, *_ in log}
        for sender in senders:
            assert {e["client_id"] for e in sender.acked.values()} == set(plan[sender.name])
            assert all(by_seq[e["seq"]] == e["id"] for e in sender.acked.values())
        for member in members:
            assert {seq: e["id"] for seq, e in member.events.items()} == by_seq, member.name

        killed = [m for m in members if m.reconnects]
        pushed = [sum(len(p) for p in m.pushes) for m in members]
        report(
            f"\ngroup failover: {MEMBERS} members ({len(killed)} on the killed process), {SENDERS} senders; "
            f"sent {sum(m.sent_frames for m in senders)} message frames for {len(wanted)} messages "
            f"(A killed after {acked_at_kill} acks), acked {sum(len(m.acked) for m in senders)}, "
            f"stored {len(stored)} once each; log {len(log)} events"
        )
        report(
            f"  pushed per member: min {min(pushed)} / median {int(statistics.median(pushed))} / max {max(pushed)}; events got by resume and sync per member: "
            f"min {min(m.resumed for m in members)} / median {int(statistics.median(m.resumed for m in members))} / max {max(m.resumed for m in members)}; every member holds all {len(log)} events"
        )
        report(
            f"  the {len(killed)} members of the killed process: {sum(len(m.pushes[0]) for m in killed)} events pushed before the kill, {sum(len(p) for m in killed for p in m.pushes[1:])} pushed after "
            f"their reconnect, {sum(m.resumed for m in killed)} got by resume and sync"
        )

    asyncio.run(scenario())
