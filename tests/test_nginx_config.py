"""The nginx configuration the topology test runs is the one ``docs/deployment.md`` gives (``bench/nginx.py``).

The smoke test itself (two daphnes behind that nginx) is
``tests/e2e/test_nginx_topology.py``; these check, quickly and on any stack,
that what it runs differs from the document only by the listed
substitutions, that nginx accepts it, and that a document the substitutions
no longer fit is refused instead of run some other way.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.nginx import DEPLOYMENT_DOC, MARKER, ConfigDrift, Nginx, documented_config, localise, nginx_binary

pytestmark = pytest.mark.stack_independent


def test_the_tested_config_is_the_documented_block_changed_only_by_the_listed_substitutions(tmp_path: Path) -> None:
    documented = documented_config()
    tested = localise(documented, listen_port=18443, upstream_ports=[18001, 18002], var_dir=tmp_path / "var")

    assert tested != documented
    undone = (
        tested.replace("listen 127.0.0.1:18443;", "listen 443 ssl;")
        .replace("server 127.0.0.1:18001; server 127.0.0.1:18002;", "server 127.0.0.1:8001; server 127.0.0.1:8002;")
        .replace(f"{tmp_path}/var/", "/srv/linkup/var/")
    )
    assert undone == documented


def test_the_documented_block_proxies_websockets_with_the_browsers_host() -> None:
    documented = documented_config()

    for directive in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header Host $http_host;",
    ):
        assert directive in documented


def test_nginx_accepts_the_whole_tested_config(tmp_path: Path) -> None:
    if nginx_binary() is None:
        if os.geteuid() == 0:
            pytest.fail("nginx is not installed: scripts/system-deps (which ./scripts/test runs as root) installs it")
        pytest.skip("nginx is not installed and installing it needs root: run 'sudo scripts/system-deps' once")
    nginx = Nginx(tmp_path / "nginx", [18001, 18002], tmp_path / "var")
    nginx.write_config()

    result = subprocess.run(nginx.command("-t"), capture_output=True, text=True, timeout=30)

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_a_document_without_the_marker_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "deployment.md"
    doc.write_text(DEPLOYMENT_DOC.read_text().replace(MARKER, ""))

    with pytest.raises(ConfigDrift, match="exactly once"):
        documented_config(doc)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("listen 443 ssl;", "listen 443 ssl http2;"),
        ("server 127.0.0.1:8002; }", "}"),
        ("/srv/linkup/var/", "/srv/elsewhere/"),
    ],
)
def test_a_documented_block_a_substitution_no_longer_fits_is_refused(old: str, new: str, tmp_path: Path) -> None:
    changed = documented_config().replace(old, new)

    with pytest.raises(ConfigDrift):
        localise(changed, listen_port=18443, upstream_ports=[18001, 18002], var_dir=tmp_path)
