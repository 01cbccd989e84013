from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Daphne, manage, server_env

PASSWORD = "linkup-e2e-password"


@pytest.fixture
def server_env_factory(tmp_path: Path):
    def make(**extra: str) -> dict[str, str]:
        env = server_env(tmp_path, **extra)
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "create_demo_users", "--password", PASSWORD)
        return env

    return make


@pytest.fixture
def daphne(server_env_factory) -> Iterator[Daphne]:
    server = Daphne(server_env_factory()).start()
    yield server
    server.stop()
