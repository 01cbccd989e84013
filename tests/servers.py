"""Real server processes for end-to-end tests: daphne on a free loopback port."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.server import free_port, launch_daphne

ROOT = Path(__file__).resolve().parent.parent


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def server_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a server process: its own SQLite file unless DATABASE_URL says otherwise."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update({"LINKUP_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


@contextmanager
def scratch_database(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """``env`` with a PostgreSQL database of its own, dropped afterwards.

    On the deployment stack ``DATABASE_URL`` names one shared database; the
    servers of one test get a fresh one beside it (the role has CREATEDB), so
    no test sees another's conversations. Without ``DATABASE_URL`` the servers
    use their own SQLite file already, and ``env`` is returned as it is.
    """
    url = env.get("DATABASE_URL")
    if not url:
        yield env
        return
    with _own_database(url) as name:
        yield {**env, "DATABASE_URL": _with_database(url, name)}


@contextmanager
def _own_database(url: str, template: str | None = None) -> Iterator[str]:
    """A fresh PostgreSQL database beside ``url``'s (a copy of ``template`` if given), dropped afterwards."""
    name = _create_database(url, "linkup_e2e", template)
    try:
        yield name
    finally:
        _drop_database(url, name)


def _create_database(url: str, prefix: str, template: str | None = None) -> str:
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(statement)
    return name


def _drop_database(url: str, name: str) -> None:
    """Drop ``name``, ending the sessions a test's servers may have left in it.

    ``WITH (FORCE)`` refuses when a process of another role is connected, and
    autovacuum often is on a database just copied from a template (its
    workers have no role the test's role may signal). A plain ``DROP
    DATABASE`` asks autovacuum to stop and waits for it, so it follows the
    forced one, after ending our own role's sessions by hand; retried briefly
    in case a worker starts again in between.
    """
    import time

    import psycopg
    from psycopg import errors, sql

    drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
    with psycopg.connect(url, autocommit=True) as admin:
        try:
            admin.execute(sql.SQL("{} WITH (FORCE)").format(drop))
            return
        except errors.InsufficientPrivilege:
            pass
        for attempt in range(20):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
                (name,),
            )
            try:
                admin.execute(drop)
                return
            except errors.ObjectInUse:
                if attempt == 19:
                    raise
                time.sleep(0.25)


def _seed(env: dict[str, str], password: str) -> None:
    """Migrate ``env``'s database and add the demo users with ``password``."""
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "create_demo_users", "--password", password)


#: database templates made by :func:`seeded_database`, one per database server (or SQLite), per test run
_TEMPLATES: dict[tuple[str, str], str] = {}


def _template_sqlite(password: str) -> str:
    """A var dir holding a migrated SQLite file with the demo users, removed when the run ends."""
    var_dir = tempfile.mkdtemp(prefix="linkup-seed-")
    atexit.register(shutil.rmtree, var_dir, True)
    env = server_env(Path(var_dir))
    env.pop("SQLITE_PATH", None)
    _seed(env, password)
    return var_dir


def _template_postgres(url: str, password: str) -> str:
    """A PostgreSQL database, migrated and holding the demo users, to copy with ``CREATE DATABASE … TEMPLATE``."""
    name = _create_database(url, "linkup_e2e_template")
    atexit.register(_drop_database, url, name)
    env = {**server_env(Path(tempfile.mkdtemp(prefix="linkup-seed-"))), "DATABASE_URL": _with_database(url, name)}
    _seed(env, password)
    return name


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


@contextmanager
def seeded_database(env: dict[str, str], password: str) -> Iterator[dict[str, str]]:
    """``env`` with a database of its own, migrated and holding the demo users (``password``).

    Migrating and hashing the demo users' passwords take seconds of CPU in
    two ``manage.py`` processes; the end-to-end tests need a fresh database
    dozens of times a run. So it is done once per run and copied: the SQLite
    file into the server's var dir, or, on the deployment stack, a PostgreSQL
    database made with the template as ``CREATE DATABASE … TEMPLATE`` (and
    dropped afterwards, as :func:`scratch_database` does).
    """
    url = env.get("DATABASE_URL")
    if env.get("SQLITE_PATH") and not url:  # a file chosen by the caller: make it the slow way
        _seed(env, password)
        yield env
        return
    key = (url or "sqlite", password)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = _template_postgres(url, password) if url else _template_sqlite(password)
    template = _TEMPLATES[key]
    if not url:
        for file in Path(template).glob("*.sqlite3*"):
            shutil.copy(file, Path(env["LINKUP_VAR_DIR"]) / file.name)
        yield env
        return
    with _own_database(url, template) as name:
        yield {**env, "DATABASE_URL": _with_database(url, name)}


class Daphne:
    """A daphne process serving ``linkup.asgi:application``."""

    def __init__(self, env: dict[str, str], port: int | None = None, log: Path | None = None) -> None:
        self.env = env
        self.port = port or free_port()
        self.log_path = log or Path(env["LINKUP_VAR_DIR"]) / f"daphne-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Daphne:
        self.process = launch_daphne(self.env, self.port, self.log_path, timeout)
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup runs, as when a machine dies."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""


def server_query(env: dict[str, str], expression: str) -> object:
    """Evaluate ``expression`` in a Django shell against the server's database; return its JSON value.

    The same on SQLite and PostgreSQL: the test reads what the servers wrote
    through the servers' own settings.
    """
    code = f"import json; from messaging.models import *; print(json.dumps({expression}, default=str))"
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])
