"""The deployment topology: Debian's nginx, with the config ``docs/deployment.md`` gives, in front of two daphnes.

Two daphne processes share PostgreSQL and Redis behind nginx, which runs the
documented block (``bench/nginx.py``: read from the document, only the listen
port, the upstream ports and the var folder substituted). Everything the
clients do goes through nginx: signing in, the WebSockets, the HTTP API,
``/healthz``, a static file. Which daphne served a socket is read from that
daphne itself: each one's own ``/metrics`` (one process each, no
``PROMETHEUS_MULTIPROC_DIR``), asked directly on its port, counts its open
sockets and the message frames it received; nginx's access log names the
upstream of every request as a second witness.

In CI (``.ci/run``, as root) ``scripts/system-deps`` installs nginx, and a
missing nginx there fails the test; an unprivileged run without nginx skips
it with the command that installs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.nginx import Nginx, nginx_binary
from bench.wsclient import ChatClient, login
from tests.servers import ROOT, Daphne, manage

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.requires_redis, pytest.mark.requires_postgres]

STATIC_FILE = "messaging/app.css"


@dataclass
class Topology:
    nginx: Nginx
    daphnes: tuple[Daphne, Daphne]

    @property
    def url(self) -> str:
        return self.nginx.base_url


@pytest.fixture
def topology(server_env_factory, start_daphne, tmp_path: Path) -> Iterator[Topology]:
    if nginx_binary() is None:
        if os.geteuid() == 0:
            pytest.fail("nginx is not installed: scripts/system-deps (which ./scripts/test runs as root) installs it")
        pytest.skip("nginx is not installed and installing it needs root: run 'sudo scripts/system-deps' once")
    env = server_env_factory()
    # One registry per process: each daphne's /metrics then speaks for that process alone.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    # The daphnes start (one after the other, as everywhere) while collectstatic fills nginx's /static/.
    with ThreadPoolExecutor(1) as pool:
        static = pool.submit(manage, env, "collectstatic", "--no-input", "-v", "0")
        daphnes = (start_daphne(env), start_daphne(env))
        static.result()
    nginx = Nginx(tmp_path / "nginx", [d.port for d in daphnes], Path(env["LINKUP_VAR_DIR"]))
    try:
        yield Topology(nginx.start(), daphnes)
    finally:
        nginx.stop()


def process_metric(daphne: Daphne, sample_name: str, **labels: str) -> float:
    """The sum of one metric's samples (matching ``labels``) in that daphne's own /metrics, asked on its own port."""
    with urllib.request.urlopen(f"{daphne.base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def open_sockets(topology: Topology) -> list[float]:
    return [process_metric(d, "linkup_open_sockets") for d in topology.daphnes]


def message_frames(topology: Topology) -> list[float]:
    return [process_metric(d, "linkup_frames_received_total", type="message") for d in topology.daphnes]


async def until(probe, expected: Any, timeout: float = 5) -> Any:
    """Poll ``probe()`` until it returns ``expected``; its last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (value := probe()) != expected and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return value


def api(topology: Topology, cookie: str, path: str, body: dict | None = None) -> tuple[int, Any]:
    """An HTTP API call through nginx as the browser app makes it: session cookie, CSRF token, its own Origin."""
    csrf = dict(part.split("=", 1) for part in cookie.split("; "))["csrftoken"]
    request = urllib.request.Request(
        topology.url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Cookie": cookie, "X-CSRFToken": csrf, "Origin": topology.url, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_one_message_through_nginx_to_each_daphne_and_back_over_websockets_and_http(topology: Topology) -> None:
    a, b = topology.daphnes

    with urllib.request.urlopen(f"{topology.url}/healthz", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["status"] == "ok"
    with urllib.request.urlopen(f"{topology.url}/static/{STATIC_FILE}", timeout=5) as response:
        assert response.read() == (ROOT / "messaging" / "static" / STATIC_FILE).read_bytes()
        assert response.headers["Content-Type"] == "text/css"

    # Signed in through nginx: the session cookie of the shared database.
    cookies = {user: login(topology.url, user, PASSWORD) for user in ("alice", "bob")}

    async def scenario() -> None:
        # nginx's round robin spreads sockets over both daphnes; the daphnes' own counts say where each landed.
        alice = ChatClient(topology.url, cookies["alice"], "", path="/ws/chat/")
        await alice.connect()
        await until(lambda: sum(open_sockets(topology)), 1)
        counts = open_sockets(topology)
        assert sorted(counts) == [0, 1], counts
        alice_daphne = counts.index(1)
        bob_daphne = 1 - alice_daphne
        bob = ChatClient(topology.url, cookies["bob"], "", path="/ws/chat/")
        await bob.connect()
        expected = [1, 1]
        assert await until(lambda: open_sockets(topology), expected) == expected, "both sockets on one daphne"
        for client in (alice, bob):
            response = client.socket.response
            assert response.status_code == 101
            assert response.headers["Upgrade"].lower() == "websocket"
            assert response.headers["Connection"].lower() == "upgrade"

        # alice's message enters through her daphne and comes out of bob's socket on the other one.
        assert message_frames(topology) == [0, 0]
        await alice.send({"type": "message", "to": "bob", "content": "through nginx, hello", "client_id": "nginx-1"})
        sent = (await alice.expect("ack", where=lambda f: f["client_id"] == "nginx-1"))["event"]
        pushed = await bob.expect("event", where=lambda f: f["event"]["client_id"] == "nginx-1")
        assert pushed["event"]["content"] == "through nginx, hello"
        conversation = sent["conversation"]

        # And back: bob's reply enters through his daphne and reaches alice's socket.
        reply = {"type": "message", "conversation": conversation, "content": "and back", "client_id": "nginx-2"}
        await bob.send(reply)
        answered = (await bob.expect("ack", where=lambda f: f["client_id"] == "nginx-2"))["event"]
        echoed = await alice.expect("event", where=lambda f: f["event"]["client_id"] == "nginx-2")
        assert echoed["event"]["seq"] == answered["seq"] == sent["seq"] + 1
        frames = [0, 0]
        frames[alice_daphne] = frames[bob_daphne] = 1
        assert message_frames(topology) == frames

        # Over the HTTP API through nginx: sent by alice, pushed to both sockets, read back as history.
        client_id = f"nginx-http-{uuid.uuid4().hex[:8]}"
        status, body = api(
            topology,
            cookies["alice"],
            f"/messages/api/conversations/{conversation}/messages",
            {"content": "over http", "client_id": client_id},
        )
        assert status == 201, body
        for client in (alice, bob):
            await client.expect("event", where=lambda f: f["event"]["client_id"] == client_id)
        status, history = api(topology, cookies["bob"], f"/messages/api/conversations/{conversation}/history")
        assert status == 200
        timeline = [(e["seq"], e["sender"], e["content"]) for e in history["events"] if e["kind"] == "message"]
        assert timeline == [
            (body["event"]["seq"], "alice", "over http"),
            (answered["seq"], "bob", "and back"),
            (sent["seq"], "alice", "through nginx, hello"),
        ]
        await alice.close()
        await bob.close()
        await until(lambda: open_sockets(topology), [0, 0])

    asyncio.run(scenario())

    # nginx's side of it: each socket's upgrade (101) went to a different daphne.
    upgrades = sorted(line for line in topology.nginx.access_log() if line.startswith("GET /ws/chat/ 101 "))
    assert upgrades == sorted(f"GET /ws/chat/ 101 upstream=127.0.0.1:{d.port}" for d in (a, b))
