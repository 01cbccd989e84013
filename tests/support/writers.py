"""A group commit whose batches wait until the test lets them finish (``messaging/realtime/writer.py``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from django.db import OperationalError

from messaging.realtime.writer import GroupCommit


@dataclass
class HeldWriter:
    """``writer``'s batches are recorded in ``written`` as they start, and wait for ``release`` to finish.

    A batch that holds ``doomed`` then fails as a database under a held
    write lock does; every other item is answered ``stored <item>``.
    """

    doomed: str | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    written: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.writer: GroupCommit[str, str] = GroupCommit("test", self.run)

    async def run(self, items: list[str]) -> list[str]:
        self.written.append(items)
        await self.release.wait()
        if self.doomed is not None and self.doomed in items:
            raise OperationalError("database is locked")
        return [f"stored {item}" for item in items]
