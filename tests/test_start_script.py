"""``scripts/start``: daphne and the search indexer as two processes, started and stopped together.

The indexer runs as ``manage.py search_index --loop`` beside daphne, whose own
indexer thread is off (``MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS=0``): daphne
does no indexing of its own, and a newcomer who only ran
``./scripts/start`` still finds a message seconds after it was sent, without
anyone searching first (a search indexes what is queued itself).

Each test runs the real script (``--no-install``: the venv is the suite's)
on a throwaway SQLite file and port, in a session of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.server import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    # Always on a SQLite file of its own: it must never migrate the deployment's database.
    pytest.mark.stack_independent,
]


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, with its command line (from /proc)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        commands[int(entry.name)] = command
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands[child]
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


@dataclass
class Started:
    process: subprocess.Popen
    port: int
    env: dict[str, str]

    def processes(self) -> dict[int, str]:
        return descendants(self.process.pid)

    def worker(self) -> int:
        return next(pid for pid, command in self.processes().items() if "search_index --loop" in command)

    def servers(self) -> list[int]:
        return [pid for pid, command in self.processes().items() if "runserver" in command]

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout


def script_env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS")
    }
    env.update({"LINKUP_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"})
    return env


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database to start from: the script's own ``migrate`` then has nothing to do (quicker tests)."""
    var_dir = tmp_path_factory.mktemp("migrated")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=script_env(var_dir),
        check=True,
        timeout=300,
    )
    return var_dir / "linkup.sqlite3"


@pytest.fixture
def started(tmp_path: Path, migrated: Path) -> Iterator[Started]:
    shutil.copy(migrated, tmp_path / "linkup.sqlite3")
    port = free_port()
    env = script_env(tmp_path) | {"LINKUP_PORT": str(port)}
    log = open(tmp_path / "start.log", "wb")  # noqa: SIM115 - the script writes to it for the fixture's whole life
    process = subprocess.Popen(
        ["bash", "scripts/start", "--no-install"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    run = Started(process, port, env)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (
                f"scripts/start exited with {process.returncode}:\n{(tmp_path / 'start.log').read_text()}"
            )
            assert time.monotonic() < deadline, f"daphne never answered:\n{(tmp_path / 'start.log').read_text()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        yield run
    finally:
        children = descendants(process.pid)  # before the script ends: then they belong to init
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()


STORE_ONE_MESSAGE = """
from django.contrib.auth import get_user_model
from messaging.store.conversations import get_or_create_direct
from messaging.store.events import create_message
users = get_user_model().objects
alice, bob = users.get(username="alice"), users.get(username="bob")
conversation, _ = get_or_create_direct(alice, bob)
create_message(conversation.pk, alice, "the kettle is on the windowsill", "start-script-1")
"""


def test_the_worker_indexes_a_stored_message_with_no_search_and_no_indexer_in_daphne(started: Started) -> None:
    [server, *_] = started.servers()
    assert environment_of(server)["MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS"] == "0"
    assert "MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS" not in environment_of(started.worker())

    started.manage("shell", "-c", STORE_ONE_MESSAGE)

    deadline = time.monotonic() + 30
    while (status := started.manage("search_index", "--status").strip()) != "search queue: 0 queued":
        assert time.monotonic() < deadline, f"the worker left the message queued: {status}"
        time.sleep(0.5)
    found = started.manage(
        "shell",
        "-c",
        "from messaging.models import SearchEntry; print(list(SearchEntry.objects.values_list('text', flat=True)))",
    )
    assert "kettle" in found


def test_sigterm_stops_daphne_and_the_worker(started: Started) -> None:
    children = started.processes()
    assert started.worker() in children and started.servers()

    started.process.send_signal(signal.SIGTERM)

    assert started.process.wait(30) != 0
    deadline = time.monotonic() + 10
    while [pid for pid in children if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [command for pid, command in children.items() if alive(pid)] == []


def test_the_server_stops_when_the_worker_dies(started: Started) -> None:
    children = started.processes()

    os.kill(started.worker(), signal.SIGKILL)

    started.process.wait(30)
    deadline = time.monotonic() + 10
    while [pid for pid in children if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [command for pid, command in children.items() if alive(pid)] == []
