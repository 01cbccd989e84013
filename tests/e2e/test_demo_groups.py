"""``manage.py demo_groups`` narrates groups over real sockets against a running daphne, and keeps working."""

from __future__ import annotations

import pytest

from tests.servers import manage

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_groups_demo_shows_join_windows_removal_and_repaired_ticks(server_env_factory, start_daphne) -> None:
    env = server_env_factory()
    daphne = start_daphne(env)
    output = manage(env, "demo_groups", "--url", daphne.base_url, "--password", PASSWORD)
    assert "dave sees: ['#5 alice added dave', '#6 dave: Hi all, thanks for adding me']" in output
    assert "carol's socket received: ['#7 alice removed carol', 'conversation']" in output
    assert "carol tries to write: forbidden" in output
    assert "so her 'Train at 9:12' (seq 9) shows: read" in output
