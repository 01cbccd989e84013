"""Settings: every setting the README lists is read from its environment variable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.servers import ROOT

ENVIRONMENT_SETTINGS = {
    "MESSAGING_PRESENCE_HEARTBEAT_SECONDS": "1.5",
    "MESSAGING_PRESENCE_EXPIRY_SECONDS": "4",
    "MESSAGING_TYPING_EXPIRY_SECONDS": "2",
    "MESSAGING_RATE_LIMIT": "7/3s",
}


def settings_in_a_fresh_process(env: dict[str, str], *names: str) -> dict[str, object]:
    code = (
        "import json, linkup.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}, default=str))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return json.loads(out)


def test_messaging_timers_and_rate_are_read_from_the_environment(tmp_path) -> None:
    env = {**os.environ, "LINKUP_VAR_DIR": str(tmp_path), **ENVIRONMENT_SETTINGS}
    seen = settings_in_a_fresh_process(env, *ENVIRONMENT_SETTINGS)
    assert {name: str(value) for name, value in seen.items()} == {
        "MESSAGING_PRESENCE_HEARTBEAT_SECONDS": "1.5",
        "MESSAGING_PRESENCE_EXPIRY_SECONDS": "4.0",
        "MESSAGING_TYPING_EXPIRY_SECONDS": "2.0",
        "MESSAGING_RATE_LIMIT": "7/3s",
    }
