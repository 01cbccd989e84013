"""The server's memory and CPU time, read from ``/proc`` (Linux).

The benchmark reads the daphne process it measures (and any children it has)
without psutil: ``VmRSS`` for the resident set now, ``VmHWM`` for its peak,
and ``utime + stime`` to wait until the server has finished the work a phase
left behind (closing thousands of sockets keeps it busy for a while after the
client is done). On a system without ``/proc`` every reading is ``None`` and
the report says "n/a" instead of a number.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

PROC = Path("/proc")


def _status_kb(pid: int, field: str) -> int | None:
    try:
        text = (PROC / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (daphne has none today; a future worker pool would)."""
    pids = [pid]
    for current in pids:
        try:
            tasks = list((PROC / str(current) / "task").iterdir())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for task in tasks:
            try:
                pids += [int(child) for child in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    return pids


def _tree_kb(pid: int, key: str) -> int | None:
    """``key`` of /proc/<pid>/status summed over ``pid`` and its descendants, in KiB."""
    known = [v for v in (_status_kb(p, key) for p in process_tree(pid)) if v is not None]
    return sum(known) if known else None


def rss_kb(pid: int) -> int | None:
    """Resident memory of ``pid`` and its descendants now, in KiB."""
    return _tree_kb(pid, "VmRSS")


def peak_rss_kb(pid: int) -> int | None:
    """The kernel's high-water mark of resident memory (``VmHWM``), summed over the tree."""
    return _tree_kb(pid, "VmHWM")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` and its descendants so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    seen = False
    for p in process_tree(pid):
        try:
            fields = (PROC / str(p) / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        # After the ")" that ends the command name: state is field 0, utime 11, stime 12.
        total += int(fields[11]) + int(fields[12])
        seen = True
    return total / ticks if seen else None


async def wait_until_quiet(pid: int, *, idle_for: float = 0.6, busy_share: float = 0.05, timeout: float = 60) -> bool:
    """Wait until the server used under ``busy_share`` of one CPU for ``idle_for`` seconds.

    Returns False on timeout (or without ``/proc``), so the caller can say
    that a memory reading was taken while the server was still busy.
    """
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    if last is None:
        return False
    while time.monotonic() < deadline:
        await asyncio.sleep(idle_for)
        now = cpu_seconds(pid)
        if now is None:
            return False
        if now - last <= busy_share * idle_for:
            return True
        last = now
    return False


class RssSampler:
    """Samples the server's RSS every ``interval`` seconds while a phase runs; keeps the peak."""

    def __init__(self, pid: int | None, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb: int | None = None
        self._task: asyncio.Task | None = None

    def _sample(self) -> None:
        if self.pid is None:
            return
        value = rss_kb(self.pid)
        if value is not None and (self.peak_kb is None or value > self.peak_kb):
            self.peak_kb = value

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self._sample()
