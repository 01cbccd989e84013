"""``manage.py bench_chat --nginx``: the load through Debian's nginx (docs/deployment.md's block) and two daphnes.

Tiny numbers: these check that the run goes through both daphnes and counts
right, never how fast anything is.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bench.nginx import nginx_binary


@pytest.mark.embedded_only
def test_bench_chat_nginx_refuses_the_embedded_default_whose_processes_share_nothing() -> None:
    with pytest.raises(CommandError, match="needs the deployment stack"):
        call_command("bench_chat", "--nginx", "--pairs", "1", "--messages", "1", "--idle", "0", "--group-members", "0")


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.requires_postgres
@pytest.mark.requires_redis
def test_bench_chat_behind_nginx_spreads_the_sockets_over_both_daphnes_and_loses_nothing() -> None:
    if nginx_binary() is None:
        if os.geteuid() == 0:
            pytest.fail("nginx is not installed: scripts/system-deps (which ./scripts/test runs as root) installs it")
        pytest.skip("nginx is not installed and installing it needs root: run 'sudo scripts/system-deps' once")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "bench_chat",
        "--nginx",
        "--pairs",
        "2",
        "--messages",
        "10",
        "--warmup",
        "2",
        "--idle",
        "0",
        "--group-members",
        "0",
        "--json",
        "--keep",
        stdout=out,
        stderr=err,
    )
    result = json.loads(out.getvalue())
    kept = Path(re.search(r"kept (\S+)", err.getvalue()).group(1))
    try:
        access = (kept / "nginx" / "access.log").read_text().splitlines()
    finally:
        shutil.rmtree(kept, ignore_errors=True)

    assert result["ok"] is True
    assert "nginx" in result["stack"]["front"]
    for load in result["load"].values():
        assert load["sent"] == load["acked"] == load["delivered"] == 2 * 10
        assert load["correctness"]["lost"] == load["correctness"]["duplicated"] == 0
    # nginx's own record: LinkUp's four sockets (two pairs) went to both daphnes.
    upstreams = Counter(line.split("upstream=")[1] for line in access if line.startswith("GET /ws/chat/ 101 "))
    assert len(upstreams) == 2 and sum(upstreams.values()) == 4, upstreams
