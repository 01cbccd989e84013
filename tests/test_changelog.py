"""CHANGELOG.md records the protocol version the server announces: a bump without its entry fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from messaging.serializers import PROTOCOL_VERSION

pytestmark = pytest.mark.stack_independent

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"


def test_the_newest_changelog_entry_is_the_protocol_version_connected_announces() -> None:
    versions = [int(v) for v in re.findall(r"^## Protocol (\d+)\b", CHANGELOG.read_text(), re.MULTILINE)]
    assert versions, "CHANGELOG.md has no '## Protocol N' entries"
    assert versions[0] == PROTOCOL_VERSION
    assert versions == sorted(versions, reverse=True) == list(range(PROTOCOL_VERSION, 0, -1))
