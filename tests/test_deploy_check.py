"""The deployment's HTTP security: ``manage.py check --deploy`` with the documented environment reports nothing.

The environment is read from docs/deployment.md ("The deployment
environment"), so the document and this test cannot drift apart. Only its
``…`` placeholders are filled in: a random secret key, a password.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from tests.servers import ROOT

DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
EXPORT = re.compile(r"^export\s+([A-Z_][A-Z0-9_]*)=(\S*)")
NEW_HTTPS_SETTINGS = {
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
}


def documented_environment() -> dict[str, str]:
    """The ``export`` lines of the first ``sh`` block under "## The deployment environment", placeholders filled."""
    text = DEPLOYMENT_DOC.read_text()
    section = text.split("## The deployment environment", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    env = {}
    for line in block.splitlines():
        match = EXPORT.match(line)
        assert match or not line.strip(), f"not an export line: {line!r}"
        if match:
            name, value = match.groups()
            if name == "SECRET_KEY" and value == "…":
                value = secrets.token_urlsafe(50)
            env[name] = value.replace("…", "a-password")
    return env


def check_deploy(env: dict[str, str], var_dir: Path) -> subprocess.CompletedProcess:
    """``manage.py check --deploy`` in a process with ``env`` and nothing else of this machine's settings."""
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "LINKUP_VAR_DIR": str(var_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_environment_sets_the_https_settings() -> None:
    assert set(documented_environment()) >= NEW_HTTPS_SETTINGS


def test_check_deploy_reports_nothing_with_the_documented_environment(tmp_path) -> None:
    result = check_deploy(documented_environment(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_without_hsts_and_the_ssl_redirect(tmp_path) -> None:
    env = {k: v for k, v in documented_environment().items() if k not in NEW_HTTPS_SETTINGS}
    result = check_deploy(env, tmp_path)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008"):
        assert warning in result.stderr + result.stdout


@pytest.mark.django_db
def test_the_embedded_default_serves_plain_http_without_hsts() -> None:
    response = Client().get("/accounts/login/")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=3600)
def test_with_the_ssl_redirect_pages_go_to_https_and_health_checks_stay_plain() -> None:
    client = Client()
    redirected = client.get("/accounts/login/")
    assert redirected.status_code == 301 and redirected.headers["Location"] == "https://testserver/accounts/login/"
    assert client.get("/healthz").status_code in (200, 503)  # answered, not redirected
    assert client.get("/metrics").status_code == 200
    secure = client.get("/accounts/login/", secure=True)
    assert secure.status_code == 200 and secure.headers["Strict-Transport-Security"] == "max-age=3600"
