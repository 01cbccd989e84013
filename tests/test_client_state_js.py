"""The browser app's protocol state (``messaging/static/messaging/js/protocol/``), tested under Node.

Those modules have no DOM, so Node's own test runner (``node --test``, Node
from Debian, no packages, no build step) runs ``tests/js/*.test.js`` against
them as they are served. This test runs that suite so CI does.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.servers import ROOT

JS_TESTS = ROOT / "tests" / "js"
pytestmark = pytest.mark.stack_independent


def test_the_protocol_state_passes_its_node_test_suite() -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed (scripts/system-deps installs Debian's nodejs); the JS suite did not run")
    files = sorted(str(path.relative_to(ROOT)) for path in JS_TESTS.glob("*.test.js"))
    assert files, "no tests/js/*.test.js found"
    result = subprocess.run([node, "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    passed = re.search(r"^# pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", output, re.MULTILINE)
    assert result.returncode == 0 and failed and failed.group(1) == "0", output[-6000:]
    assert passed and int(passed.group(1)) > 0, output[-2000:]
