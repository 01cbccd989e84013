"""PostgreSQL and Redis restarted under a running conversation: nothing acknowledged is lost or doubled.

These restart the deployment stack's real services (``scripts/services
restart-postgres`` / ``restart-redis``), so they run on the stack only.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import uuid
from collections import Counter

import pytest
import websockets

from bench.wsclient import ChatClient, ClientClosed, login
from tests.robustness import STATS
from tests.servers import ROOT, server_query

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOTAL, RESTART_AFTER = 120, 30
#: what a failed attempt to open a socket raises; the client retries them all after a pause, as the browser does
#: (a refused handshake is an ``InvalidHandshake``: a 403 or 500 answer, or a connection dropped without one)
OPEN_FAILED = (TimeoutError, OSError, ClientClosed, websockets.InvalidHandshake)


class Outage:
    """``scripts/services restart-<service> SECONDS`` running in the background.

    ``down`` is set once the service has really stopped (the script prints
    "down"), so the stream can hold its traffic until the outage has begun:
    without that, a fast stream may finish before the service goes away and
    the test would prove nothing.
    """

    def __init__(self, service: str, seconds: float) -> None:
        self.down = threading.Event()
        self.process = subprocess.Popen(
            ["bash", "scripts/services", f"restart-{service}", str(seconds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == "down":
                self.down.set()

    async def wait_down(self) -> None:
        if not await asyncio.to_thread(self.down.wait, 60):
            raise AssertionError(f"the service did not go down: {self.finish()}")

    def finish(self) -> str:
        """Wait for the service to be back; return the script's stderr."""
        _, stderr = self.process.communicate(timeout=120)
        self._reader.join(timeout=5)
        assert self.process.returncode == 0, stderr
        return stderr


@pytest.fixture(autouse=True)
def _services() -> None:
    """The outages restart the services the suite is using: only those ``scripts/services`` started."""
    if not os.environ.get("LINKUP_SERVICES_DIR"):
        pytest.skip("needs the services started by scripts/services (LINKUP_SERVICES_DIR), as .ci/run does")


class Stream:
    """Alice sends TOTAL messages one at a time and resends (same client_id) whatever was not acked.

    After RESTART_AFTER acks it takes ``service`` down for ``seconds`` and waits
    until it is down before it sends the rest, so the rest meet the outage;
    it returns once the service is back.
    """

    def __init__(self, base_url: str, service: str, seconds: float) -> None:
        self.base_url = base_url
        self.service, self.seconds = service, seconds
        self.cookie = login(base_url, "alice", PASSWORD)
        self.client_ids = [f"restart-{i:03d}-{uuid.uuid4().hex[:6]}" for i in range(TOTAL)]
        self.acked: dict[str, dict] = {}
        self.server_errors = 0
        self.reconnects = 0
        #: attempts to reopen the socket that failed, by exception
        self.failed_opens: Counter[str] = Counter()
        #: messages sent after the stream (the Redis test's probes of live pushes)
        self.extra = 0

    async def run(self) -> None:
        client = ChatClient(self.base_url, self.cookie, "bob")
        await client.connect()
        outage = None
        for client_id in self.client_ids:
            if len(self.acked) == RESTART_AFTER and outage is None:
                outage = Outage(self.service, self.seconds)
                await outage.wait_down()
            while client_id not in self.acked:
                try:
                    await client.send({"type": "message", "content": f"m {client_id}", "client_id": client_id})
                    frame = await self._answer(client, client_id)
                except (TimeoutError, ClientClosed, OSError):
                    self.reconnects += 1
                    await asyncio.sleep(0.5)
                    client = ChatClient(self.base_url, self.cookie, "bob")
                    try:
                        await client.connect()
                    except OPEN_FAILED as exc:
                        self.failed_opens[type(exc).__name__] += 1
                        continue
                    continue
                if frame["type"] == "ack":
                    first = self.acked.setdefault(client_id, frame["message"])
                    assert first["id"] == frame["message"]["id"]
                else:
                    assert frame["code"] == "server_error", frame
                    self.server_errors += 1
                    await asyncio.sleep(0.3)
        await client.close()
        assert outage is not None
        await asyncio.to_thread(outage.finish)

    @staticmethod
    async def _answer(client: ChatClient, client_id: str) -> dict:
        while True:
            frame = await client.next(timeout=30)
            if frame["type"] in ("ack", "error") and frame.get("client_id") == client_id:
                return frame


def check_everything_arrived(env: dict[str, str], stream: Stream, base_url: str) -> dict[str, int]:
    """Assert every message was stored once, in seq order, and synced to bob as acked.

    Returns the counts (also added to the robustness figures) and ``errors``,
    the ``MessagingError`` records of the category the outage should leave.
    """
    rows = server_query(
        env,
        "list(Message.objects.filter(client_id__startswith='restart-').order_by('seq').values_list('seq', 'client_id'))",
    )
    client_ids = [cid for _, cid in rows]
    missing = sorted(set(stream.client_ids) - set(client_ids))
    doubled = sorted(cid for cid in set(client_ids) if client_ids.count(cid) > 1)
    assert not missing and not doubled, f"lost {missing}, stored twice {doubled}"
    assert [seq for seq, _ in rows] == list(range(1, TOTAL + 1))  # the stream came first: seqs 1..TOTAL

    async def bob_syncs() -> list[dict]:
        bob = ChatClient(base_url, login(base_url, "bob", PASSWORD), "alice")
        await bob.connect()
        messages = await bob.sync_all(after=0)
        await bob.close()
        return messages

    synced = [m for m in asyncio.run(bob_syncs()) if m["client_id"].startswith("restart-")]
    assert [m["id"] for m in synced] == [stream.acked[cid]["id"] for cid in stream.client_ids]
    duplicates = len(client_ids) - len(set(client_ids))
    category = {"postgres": "database_error", "redis": "connection_error"}[stream.service]
    name = {"postgres": "PostgreSQL", "redis": "Redis"}[stream.service]
    STATS[f"faults: {name} restarted mid-stream"] += 1
    STATS[f"{stream.service} restart: messages sent"] += TOTAL
    STATS[f"{stream.service} restart: duplicates"] += duplicates
    errors = server_query(env, f"MessagingError.objects.filter(category={category!r}).count()")
    return {"stored": len(rows), "synced": len(synced), "duplicates": duplicates, "errors": errors}


@pytest.mark.requires_postgres
@pytest.mark.parametrize(
    "pool_timeout",
    [
        pytest.param(None, id="absorbed-by-the-pool"),
        pytest.param("0.3", id="surfaced-as-server-errors"),
    ],
)
def test_a_postgresql_restart_mid_stream_loses_and_doubles_nothing(
    server_env_factory, start_daphne, pool_timeout: str | None
) -> None:
    """PostgreSQL is down for 2 s in the middle of a stream.

    With the default pool timeout (10 s) the writes can wait in the connection
    pool for PostgreSQL to come back, and every message ends up acked; how
    many ``server_error`` answers came on the way is printed, not asserted (it
    depends on timing). With a pool timeout shorter than the outage, each
    write's attempts run out: the client gets ``server_error`` answers,
    resends with the same client_id, and every failure is recorded as a
    ``database_error``. Either way nothing acknowledged is lost or stored twice.
    """
    extra = {"DATABASE_POOL_TIMEOUT_SECONDS": pool_timeout} if pool_timeout else {}
    env = server_env_factory(MESSAGING_RATE_LIMIT="off", MESSAGING_PRESENCE_HEARTBEAT_SECONDS="1", **extra)
    server = start_daphne(env)
    stream = Stream(server.base_url, "postgres", 2)
    asyncio.run(stream.run())
    counts = check_everything_arrived(env, stream, server.base_url)
    print(
        f"postgresql restarted (down 2 s, pool timeout {pool_timeout or 'default'}) after {RESTART_AFTER} acks: "
        f"sent {TOTAL}, acked {len(stream.acked)}, server_error answers {stream.server_errors}, "
        f"reconnects {stream.reconnects}, stored {counts['stored']}, synced by bob {counts['synced']}, "
        f"duplicates {counts['duplicates']}, database_error records {counts['errors']}, "
        f"failed reopenings {dict(stream.failed_opens)}"
    )
    if pool_timeout:
        assert stream.server_errors >= 1
        assert counts["errors"] >= 1


@pytest.mark.requires_redis
def test_a_redis_restart_mid_stream_loses_nothing_and_pushes_resume(server_env_factory, start_daphne) -> None:
    env = server_env_factory(MESSAGING_RATE_LIMIT="off")
    server = start_daphne(env)
    stream = Stream(server.base_url, "redis", 1)
    pushed: dict[int, dict] = {}
    pushed_after_restart = []

    async def scenario() -> None:
        bob = ChatClient(server.base_url, login(server.base_url, "bob", PASSWORD), "alice")
        await bob.connect()

        async def listen() -> None:
            while len(stream.acked) < TOTAL:
                try:
                    frame = await bob.next(timeout=1)
                except TimeoutError:
                    continue
                except ClientClosed:
                    return
                if frame["type"] == "message":
                    pushed[frame["message"]["seq"]] = frame["message"]

        listener = asyncio.create_task(listen())
        await stream.run()
        await asyncio.wait_for(listener, timeout=10)
        # Redis is back (the stream waited for it): pushes must flow again
        # (after the layer's breaker lets its probe through) without bob
        # reconnecting.
        # A socket opened while the layer still reconnects is closed with 1013
        # (try again later); a client retries it, as the browser does.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            sender = ChatClient(server.base_url, stream.cookie, "bob")
            try:
                await sender.connect()
                break
            except OPEN_FAILED as exc:
                stream.failed_opens[type(exc).__name__] += 1
                assert asyncio.get_running_loop().time() < deadline, "no socket could be opened after Redis came back"
                await asyncio.sleep(0.5)
        while not pushed_after_restart and asyncio.get_running_loop().time() < deadline:
            await sender.send({"type": "message", "content": "after", "client_id": uuid.uuid4().hex})
            await sender.expect("ack")
            stream.extra += 1
            try:
                frame = await bob.expect("message", timeout=1)
            except TimeoutError:
                continue
            pushed_after_restart.append(frame["message"]["seq"])
        await sender.close()
        await bob.close()

    asyncio.run(scenario())
    counts = check_everything_arrived(env, stream, server.base_url)
    print(
        f"redis restarted (down 1 s) after {RESTART_AFTER} acks: sent {TOTAL}, acked {len(stream.acked)}, "
        f"pushed live to bob {len(pushed)}, pushes resumed after {stream.extra} more message(s), "
        f"stored {counts['stored']}, synced by bob {counts['synced']}, duplicates {counts['duplicates']}, "
        f"connection_error records {counts['errors']}, failed reopenings {dict(stream.failed_opens)}"
    )
    assert counts["errors"] >= 1
    assert pushed_after_restart, "live pushes did not resume after Redis came back"
