"""The browser app (``messaging/static/messaging/js/``) type-checks: ``tsc --noEmit`` over its JSDoc types finds nothing.

The modules are plain ES modules served as they are (no build step); each
starts with ``// @ts-check`` and ``jsconfig.json`` says how strictly
TypeScript's checker reads them. TypeScript is a development tool pinned in
package.json and package-lock.json, installed into node_modules/ by
``scripts/install --dev`` (``npm ci``); it emits nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.servers import ROOT

CONFIG = ROOT / "jsconfig.json"
TSC = ROOT / "node_modules" / "typescript" / "bin" / "tsc"
BROWSER_JS = ROOT / "messaging" / "static" / "messaging" / "js"
pytestmark = pytest.mark.stack_independent


def node_or_skip() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed (scripts/system-deps installs Debian's nodejs); the type check did not run")
    return node


def test_the_browser_code_type_checks_with_no_error() -> None:
    node = node_or_skip()
    assert TSC.is_file(), "TypeScript is not installed in node_modules/: run scripts/install --dev (npm ci)"
    result = subprocess.run(
        [node, str(TSC), "--noEmit", "--pretty", "false", "-p", str(CONFIG)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "error TS" not in output, output[-8000:]


def test_every_browser_module_asks_for_the_check_on_its_first_line() -> None:
    unchecked = [
        str(path.relative_to(ROOT))
        for path in sorted(BROWSER_JS.rglob("*.js"))
        if path.read_text().splitlines()[:1] != ["// @ts-check"]
    ]

    assert unchecked == []


def test_no_browser_module_switches_the_check_off_or_silences_an_error_without_its_reason() -> None:
    silenced = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(BROWSER_JS.rglob("*.js"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"@ts-(nocheck|ignore)\b", line) or re.search(r"@ts-expect-error\s*$", line)
    ]

    assert silenced == []
