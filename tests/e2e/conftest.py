from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.servers import Daphne, seeded_database, server_env

PASSWORD = "linkup-e2e-password"


@pytest.fixture
def server_env_factory(tmp_path: Path) -> Iterator[Callable[..., dict[str, str]]]:
    """``make(**extra)``: a migrated database with the demo users, and the environment to serve it.

    Every server started with one environment shares its database (and the
    Redis of ``REDIS_URL``); the database is a copy of one migrated once per run.
    """
    with ExitStack() as cleanup:

        def make(**extra: str) -> dict[str, str]:
            return cleanup.enter_context(seeded_database(server_env(tmp_path, **extra), PASSWORD))

        yield make


@pytest.fixture
def start_daphne(server_env_factory) -> Iterator[Callable[..., Daphne]]:
    """``start_daphne(env, **kwargs)``: a started ``Daphne(env, **kwargs)``, stopped after the test.

    Also when the test fails, and before the databases of ``server_env_factory``
    are dropped. A server the test killed already is left alone (``stop`` of
    an exited process does nothing).
    """
    with ExitStack() as cleanup:

        def start(env: dict[str, str], **kwargs: object) -> Daphne:
            server = Daphne(env, **kwargs)
            cleanup.callback(server.stop)
            return server.start()

        yield start


@pytest.fixture
def daphne(server_env_factory, start_daphne) -> Daphne:
    return start_daphne(server_env_factory())


@pytest.fixture(scope="module")
def module_daphne(tmp_path_factory) -> Iterator[Daphne]:
    """One migrated server with the demo users for a whole module, for tests that only read or sign in."""
    var_dir = tmp_path_factory.mktemp("module-daphne")
    with seeded_database(server_env(var_dir), PASSWORD) as env:
        server = Daphne(env)
        try:
            yield server.start()
        finally:
            server.stop()
