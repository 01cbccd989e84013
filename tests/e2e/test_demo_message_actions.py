"""``manage.py demo_message_actions`` narrates bob's catching up on alice's replies, reactions, edits and deletion over real sockets."""

from __future__ import annotations

import pytest

from tests.servers import manage

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_message_actions_demo_replays_each_change_once_and_leaves_no_deleted_text(
    server_env_factory, start_daphne
) -> None:
    env = server_env_factory()
    daphne = start_daphne(env)
    output = manage(env, "demo_message_actions", "--url", daphne.base_url, "--password", PASSWORD)
    assert (
        "before the deletion, the secret is in: ['messaging_event.content: 1', 'messaging_notification.body: 1']"
        in output
    )
    assert "the resend with the same client_id is answered with the same event: True" in output
    assert (
        "6 events, seqs [3, 4, 5, 6, 7, 8], each once: True; exactly the changes made while he was away: True" in output
    )
    assert "replayed #7 alice: (deleted)" in output
    assert "#3 alice: 'Yes! 13:00 at the new place' [edited; quoting #2 bob: 'Lunch tomorrow?']" in output
    assert (
        "the edit history of #3: ['Yes! 12:30 at the usual place', 'Yes! 12:45 at the usual place', 'Yes! 13:00 at the new place']"
        in output
    )
    assert "now: []" in output
