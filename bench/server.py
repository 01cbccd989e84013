"""The daphne process a benchmark run starts for itself.

It gets its own directory (so its own SQLite file, mail folder and log),
unless ``DATABASE_URL``/``REDIS_URL`` in the environment point it at
PostgreSQL and Redis, which it then uses as any LinkUp server would. It is
migrated and seeded (``manage.py bench_users``: the benchmark users, their
conversations, the group and its sessions) before daphne starts, and it
serves the bare relay (``MESSAGING_BENCH_RELAY=1``) next to LinkUp.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from messaging.conf import DEFAULT_MAX_GROUP_MEMBERS

from .users import Seed

#: keeps the rate limiter on the hot path without ever refusing a benchmark message
UNLIMITED_RATE = "1000000/1s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit toward ``wanted`` (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def asgi_target() -> str:
    """``ASGI_APPLICATION`` (``pkg.module.attr``) as daphne wants it (``pkg.module:attr``)."""
    module, _, attr = settings.ASGI_APPLICATION.rpartition(".")
    return f"{module}:{attr}"


def describe_stack(env: dict[str, str]) -> dict[str, str]:
    return {
        "database": "postgresql" if env.get("DATABASE_URL") else "sqlite",
        "channel_layer": "redis" if env.get("REDIS_URL") else "in-memory",
    }


class DaphneDidNotStart(RuntimeError):
    pass


def launch_daphne(env: dict[str, str], port: int, log_path: Path, timeout: float = 60) -> subprocess.Popen:
    """Start daphne with the project's ASGI application on 127.0.0.1:``port``; return once /healthz says 200.

    It is the project's daphne (``python -m linkup.server``, see
    ``linkup/server.py``), as a deployment runs it.

    Its output goes to ``log_path``; the log's tail is in the error when it
    exits or does not answer within ``timeout`` seconds (it is then killed:
    the caller never got hold of it).
    """
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "linkup.server", "-b", "127.0.0.1", "-p", str(port), asgi_target()],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DaphneDidNotStart(f"daphne exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise DaphneDidNotStart(f"daphne did not answer on 127.0.0.1:{port}:\n{_tail(log_path)}")


#: how the benchmark's server indexes messages for search (see :class:`BenchServer`)
SEARCH_INDEXERS = ("worker", "thread", "off")


def launch_search_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """``manage.py search_index --loop`` on the server's database: the search indexer as its own process."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "django", "search_index", "--loop", "--interval", "1"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


#: how long a run's end waits for the search worker to empty the queue
SEARCH_DRAIN_TIMEOUT = 120.0
#: run in the server's environment: prints the seconds until the search queue was empty (-1: not within the timeout)
_WAIT_FOR_SEARCH_QUEUE = """
import time
from messaging.store.search import index
started = time.monotonic()
while index.pending() and time.monotonic() - started < {timeout}:
    time.sleep(0.1)
print(-1 if index.pending() else time.monotonic() - started)
"""

_WORKER_PASS = re.compile(r"search index: (\d+) queued message\(s\) indexed in [\d.]+ s; the oldest waited ([\d.]+) s")


def search_worker_lag(log: str) -> dict[str, float | None] | None:
    """What ``search_index --loop`` logged over a run: its passes, the messages indexed, and how long
    each pass's oldest message waited to become searchable (the index's lag: max and median); None
    if it indexed nothing."""
    passes = [(int(m[1]), float(m[2])) for m in _WORKER_PASS.finditer(log)]
    if not passes:
        return None
    waits = sorted(wait for _, wait in passes)
    return {
        "passes": len(passes),
        "indexed": sum(n for n, _ in passes),
        "max_wait_s": waits[-1],
        "median_wait_s": waits[len(waits) // 2],
    }


def _tail(path: Path, chars: int = 5000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return ""


def manage_in(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """``manage.py *args`` in a process of its own with ``env``; its output (raises with it on failure)."""
    result = subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def seed_database(env: dict[str, str], pairs: int, password: str, group_members: int, group_online: int) -> Seed:
    """Run ``bench_users --json`` against the database ``env`` names; what it made."""
    out = manage_in(
        env,
        "bench_users",
        "--json",
        "--pairs",
        str(pairs),
        "--password",
        password,
        "--group-members",
        str(group_members),
        "--group-online",
        str(group_online),
    )
    return json.loads(out.strip().splitlines()[-1])


@dataclass(frozen=True)
class RunningServer:
    """A server the benchmark did not start (``--url``): it cannot restart it, and knows its pid only if told.

    Its database is seeded with ``env`` (by default this process's
    environment), which must name the server's database.
    """

    base_url: str
    pid: int | None = None
    env: dict[str, str] | None = None
    restart = None

    def seed(self, pairs: int, password: str, group_members: int, group_online: int) -> Seed:
        env = dict(os.environ if self.env is None else self.env)
        if not env.get("DJANGO_SETTINGS_MODULE"):
            env["DJANGO_SETTINGS_MODULE"] = settings.SETTINGS_MODULE or "linkup.settings"
        return seed_database(env, pairs, password, group_members, group_online)


class BenchServer:
    """Start with ``with BenchServer(pairs=...) as server:``; ``server.base_url``, ``server.pid``."""

    def __init__(
        self,
        *,
        pairs: int,
        password: str,
        group_members: int = 0,
        group_online: int = 0,
        rate_limit: str = UNLIMITED_RATE,
        debug: bool = False,
        keep: bool = False,
        extra_env: dict[str, str] | None = None,
        search_indexer: str = "thread",
    ) -> None:
        """``search_indexer``: ``thread`` (daphne's own indexer thread, what a bare server does),
        ``worker`` (``search_index --loop`` beside daphne, as ``scripts/start`` and a deployment run
        it) or ``off`` (messages stay queued: the send path with no indexing at all)."""
        if search_indexer not in SEARCH_INDEXERS:
            raise ValueError(f"search_indexer must be one of {SEARCH_INDEXERS}")
        self.search_indexer = search_indexer
        self.worker: subprocess.Popen | None = None
        #: the search worker's passes over the run (:func:`search_worker_lag`), once stopped
        self.search_lag: dict[str, float | None] | None = None
        self.pairs = pairs
        self.password = password
        self.group_members = group_members
        self.group_online = group_online
        self.seeded: Seed | None = None
        self.keep = keep
        self.var_dir = Path(tempfile.mkdtemp(prefix="linkup-bench-"))
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update(
            {
                # (inside override_settings, as under the test suite, SETTINGS_MODULE is None)
                "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE,
                "LINKUP_VAR_DIR": str(self.var_dir),
                "MESSAGING_BENCH_RELAY": "1",
                "MESSAGING_RATE_LIMIT": rate_limit,
                # The idle-memory phase opens thousands of sockets for a few users.
                "MESSAGING_MAX_SOCKETS_PER_USER": "1000000",
                # The group run's group is made directly in the store; the server's limit must allow it.
                "MESSAGING_MAX_GROUP_MEMBERS": str(max(group_members, DEFAULT_MAX_GROUP_MEMBERS)),
                # A deployment runs with DEBUG off; on, Django also keeps every query in memory.
                "DEBUG": "true" if debug else "false",
                "PYTHONUNBUFFERED": "1",
                "MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS": "1" if search_indexer == "thread" else "0",
                **(extra_env or {}),
            }
        )
        self.env.pop("SQLITE_PATH", None)  # the run's own file in var_dir, never the project's
        self.log_path = self.var_dir / "daphne.log"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def stack(self) -> dict[str, str]:
        return describe_stack(self.env) | {"search_indexer": self.search_indexer}

    def manage(self, *args: str) -> str:
        return manage_in(self.env, *args)

    def start(self, timeout: float = 60) -> BenchServer:
        self.manage("migrate", "--no-input", "-v", "0")
        self.seeded = seed_database(self.env, self.pairs, self.password, self.group_members, self.group_online)
        return self.launch(timeout)

    def seed(self, pairs: int, password: str, group_members: int, group_online: int) -> Seed:
        """What :meth:`start` seeded (the same numbers: the server was made for this run)."""
        assert self.seeded is not None, "start the server first"
        return self.seeded

    def restart(self) -> None:
        """A fresh daphne process on the same database, so one phase's memory cannot hide the next one's."""
        self.stop()
        self.port = free_port()
        self.launch()

    def launch(self, timeout: float = 60) -> BenchServer:
        try:
            self.process = launch_daphne(self.env, self.port, self.log_path, timeout)
            if self.search_indexer == "worker":
                self.worker = launch_search_worker(self.env, self.var_dir / "search_index.log")
        except DaphneDidNotStart:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        drained_after = (
            self._wait_for_search_queue() if self.worker is not None and self.worker.poll() is None else None
        )
        for process in (self.process, self.worker):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        if self.worker is not None:
            self.search_lag = search_worker_lag(_tail(self.var_dir / "search_index.log", 1_000_000))
            if self.search_lag is not None:
                self.search_lag["drained_after_s"] = drained_after

    def _wait_for_search_queue(self, timeout: float = SEARCH_DRAIN_TIMEOUT) -> float | None:
        """Seconds until the worker has indexed every queued message, from now (the load's end); None: not within ``timeout``."""
        out = manage_in(self.env, "shell", "-c", _WAIT_FOR_SEARCH_QUEUE.format(timeout=timeout), timeout=timeout + 60)
        seconds = float(out.strip().splitlines()[-1])
        return None if seconds < 0 else seconds

    def log_tail(self, chars: int = 5000) -> str:
        return _tail(self.log_path, chars)

    def __enter__(self) -> BenchServer:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.cleanup()

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.var_dir, ignore_errors=True)
