"""``scripts/system-deps``, which ``./scripts/test`` runs first: Chromium for the browser tests, or one line saying how.

Exit 0 means the browser the tests will run is there; exit 3 (and one line on
stderr) means it is not and cannot be installed here, and ``scripts/test``
then skips the browser tests instead of failing them. Run for real: as an
unprivileged user, on a machine where /usr/bin/chromium is hidden by a
private mount namespace when it is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.stack_independent

SCRIPT = ROOT / "scripts" / "system-deps"
NO_BROWSER = 3
NOBODY = "65534"
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def run_script(env: dict[str, str], *, hide_chromium: bool, as_nobody: bool = True) -> subprocess.CompletedProcess:
    """The script as user nobody (or as ourselves); with ``hide_chromium``, on a machine without /usr/bin/chromium."""
    command = ["bash", str(SCRIPT)]
    if as_nobody and os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("needs setpriv (util-linux) to run the script as an unprivileged user")
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "bash", readable_copy()]
    if hide_chromium and DEBIAN_CHROMIUM.exists():
        if os.geteuid() != 0 or not shutil.which("unshare"):
            pytest.skip("Chromium is installed and hiding it needs root and unshare (util-linux)")
        # /dev/null over it in a private mount namespace: not an executable, for this process only.
        command = [
            "unshare",
            "--mount",
            "sh",
            "-c",
            f'mount --bind /dev/null {DEBIAN_CHROMIUM} && exec "$@"',
            "sh",
            *command,
        ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def readable_copy() -> str:
    """The script where user nobody can read it: a checkout may sit in a directory only root may enter (``mktemp -d``)."""
    folder = tempfile.mkdtemp(prefix="linkup-system-deps-")
    os.chmod(folder, 0o755)
    copy = Path(folder) / SCRIPT.name
    shutil.copy(SCRIPT, copy)
    copy.chmod(0o755)
    return str(copy)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"LINKUP_CHROMIUM", "LINKUP_SKIP_BROWSER"}}
    return {**env, **extra}


def test_without_root_and_without_chromium_it_says_in_one_line_how_to_get_it_and_installs_nothing() -> None:
    result = run_script(clean_env(), hide_chromium=True)

    assert result.returncode == NO_BROWSER, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("browser tests skipped: Chromium (/usr/bin/chromium) is not installed")
    assert "sudo scripts/system-deps" in line


def test_a_linkup_chromium_that_does_not_exist_is_named_in_one_line() -> None:
    result = run_script(clean_env(LINKUP_CHROMIUM="/nonexistent/chromium"), hide_chromium=False)

    assert result.returncode == NO_BROWSER
    (line,) = result.stderr.splitlines()
    assert "LINKUP_CHROMIUM=/nonexistent/chromium is not an executable" in line


def test_a_browser_already_there_needs_nothing_and_says_nothing(tmp_path) -> None:
    browser = tmp_path / "my-chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)

    # As ourselves: nobody may not reach into our tmp_path.
    result = run_script(clean_env(LINKUP_CHROMIUM=str(browser)), hide_chromium=True, as_nobody=False)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_with_linkup_skip_browser_a_missing_chromium_is_left_out_silently() -> None:
    # As ourselves: in CI (root) libmagic, node and nginx are there already, so nothing is installed either.
    result = run_script(clean_env(LINKUP_SKIP_BROWSER="1"), hide_chromium=True, as_nobody=False)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def run_missing(*, hide: list[str]) -> subprocess.CompletedProcess:
    """``--missing`` as ourselves, with each command of ``hide`` made unrunnable in a private mount namespace."""
    command = ["bash", str(SCRIPT), "--missing"]
    paths = [shutil.which(name) for name in hide]
    if any(path is None for path in paths):
        pytest.skip(f"{', '.join(hide)} must be installed here to be hidden")
    if hide:
        if os.geteuid() != 0 or not shutil.which("unshare"):
            pytest.skip(f"hiding {', '.join(hide)} needs root and unshare (util-linux)")
        binds = " && ".join(f"mount --bind /dev/null {os.path.realpath(path)}" for path in paths)
        command = ["unshare", "--mount", "sh", "-c", f'{binds} && exec "$@"', "sh", *command]
    return subprocess.run(command, env=clean_env(), capture_output=True, text=True, timeout=60)


def test_a_missing_npm_is_among_the_packages_it_would_install_since_debians_nodejs_comes_without_it() -> None:
    result = run_missing(hide=["npm"])

    assert result.returncode == 0, result.stderr
    assert "npm" in result.stdout.splitlines()
    assert "nodejs" not in result.stdout.splitlines()


def test_listing_the_missing_packages_installs_nothing_and_lists_neither_node_nor_npm_when_both_are_there() -> None:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm must both be installed here")

    result = run_missing(hide=[])

    assert result.returncode == 0, result.stderr
    assert not {"nodejs", "npm"} & set(result.stdout.splitlines())
    assert result.stderr == ""
