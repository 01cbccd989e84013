"""The server's memory and CPU time, read with psutil.

The benchmark reads the daphne process it measures (and any children it
has): resident memory now, its peak, and user + system CPU time, used to
wait until the server has finished the work a phase left behind (closing
thousands of sockets keeps it busy for a while after the client is done).
A process that is gone reads as ``None`` and the report says "n/a".

A peak is the highest RSS :class:`RssSampler` saw while a phase ran
(sampled every 100 ms: a spike shorter than that can be missed).
"""

from __future__ import annotations

import asyncio
import time

import psutil

_GONE = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess)


def _tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants (daphne has none today; a future worker pool would)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except _GONE:
        return []


def process_tree(pid: int) -> list[int]:
    return [process.pid for process in _tree(pid)]


def rss_kb(pid: int) -> int | None:
    """Resident memory of ``pid`` and its descendants now, in KiB."""
    known = []
    for process in _tree(pid):
        try:
            known.append(process.memory_info().rss // 1024)
        except _GONE:
            continue
    return sum(known) if known else None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` and its descendants so far."""
    total, seen = 0.0, False
    for process in _tree(pid):
        try:
            times = process.cpu_times()
        except _GONE:
            continue
        total += times.user + times.system
        seen = True
    return total if seen else None


def renice_like_me(pid: int) -> None:
    """Give ``pid`` this process's scheduling priority (a benchmark raises its own; its server must have it too)."""
    try:
        psutil.Process(pid).nice(psutil.Process().nice())
    except _GONE:
        return


async def wait_until_quiet(pid: int, *, idle_for: float = 0.6, busy_share: float = 0.05, timeout: float = 60) -> bool:
    """Wait until the server used under ``busy_share`` of one CPU for ``idle_for`` seconds.

    Returns False on timeout (or once the process is gone), so the caller can say
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
