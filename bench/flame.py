"""Profiles of the benchmark's daphne: run py-spy on it, and summarize what it recorded.

py-spy is a development tool and not a requirement of the project
(``pip install py-spy``); the benchmark only looks for its executable. It
samples the server from outside, so the server runs unmodified. Its ``raw``
output is one collapsed stack per line (``outer;...;inner count``), which
:func:`summarize` turns into the top functions by *self* samples (on top of
the stack: where the CPU went) and by *cumulative* samples (anywhere in the
stack: what the time was spent for).

py-spy leaves out threads it sees idle, but a thread blocked in ``epoll``
(the event loop with nothing to do) or an executor worker waiting for work
still shows up on some samples; those are counted as *waiting* and left out
of the percentages. Stacks are recorded per thread (``--threads``), so the
summary also says how busy the event loop and the database thread were.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TypedDict


class ProfileEntry(TypedDict):
    function: str
    samples: int
    percent: float


class ProfileSummary(TypedDict):
    samples: int
    waiting: int
    threads: list[ProfileEntry]
    self: list[ProfileEntry]
    cumulative: list[ProfileEntry]


#: innermost frames that mean "blocked, waiting for something to do"
WAITING = frozenset({"EpollSelector.select (selectors.py)", "_worker (concurrent/futures/thread.py)"})
#: frames every sample of a thread passes through, which say nothing about the hot path
PLUMBING = frozenset(
    {
        "_run_module_as_main (<frozen runpy>)",
        "_run_code (<frozen runpy>)",
        "<module> (daphne/__main__.py)",
        "CommandLineInterface.entrypoint (daphne/cli.py)",
        "CommandLineInterface.run (daphne/cli.py)",
        "Server.run (daphne/server.py)",
        "AsyncioSelectorReactor.run (twisted/internet/asyncioreactor.py)",
        "BaseEventLoop.run_forever (asyncio/base_events.py)",
        "BaseEventLoop._run_once (asyncio/base_events.py)",
        "Handle._run (asyncio/events.py)",
        "Thread._bootstrap (threading.py)",
        "Thread._bootstrap_inner (threading.py)",
        "Thread.run (threading.py)",
        "_worker (concurrent/futures/thread.py)",
        "_WorkItem.run (concurrent/futures/thread.py)",
    }
)
_THREAD = re.compile(r"^(thread|process) \(")
_SITE = re.compile(r"\((?:.*?/(?:site-packages|lib/python3\.\d+)/)?(?P<path>[^()]*)\)$")


def find_py_spy() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def short_frame(frame: str) -> str:
    """``func (/long/site-packages/pkg/mod.py:12)`` → ``func (pkg/mod.py:12)``."""
    return _SITE.sub(lambda m: f"({m.group('path')})", frame.strip())


def summarize(raw_text: str, top: int = 20) -> ProfileSummary:
    self_samples: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = waiting = 0
    for line in raw_text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [short_frame(f) for f in stack.split(";") if f.strip()]
        while frames and _THREAD.match(frames[0]):
            frames.pop(0)
        if not frames:
            continue
        if frames[-1] in WAITING:
            waiting += samples
            continue
        total += samples
        threads[_thread_role(frames)] += samples
        self_samples[frames[-1]] += samples
        for frame in set(frames) - PLUMBING:  # a recursive frame counts once per sample
            cumulative[frame] += samples

    def entries(counter: Counter[str]) -> list[ProfileEntry]:
        return [
            {"function": name, "samples": n, "percent": round(100 * n / total, 1) if total else 0.0}
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "waiting": waiting,
        "threads": entries(threads),
        "self": entries(self_samples),
        "cumulative": entries(cumulative),
    }


def _thread_role(frames: list[str]) -> str:
    """Name a thread by what it runs: the event loop, or a sync_to_async worker."""
    joined = ";".join(frames[:8])
    if "Server.run" in joined or "run_forever" in joined:
        return "the event loop"
    if "_worker" in joined:
        return "an executor thread (sync_to_async / database)"
    return frames[0]


def format_summary(summary: ProfileSummary, title: str) -> str:
    lines = [f"{title}: {summary['samples']} busy samples ({summary['waiting']} waiting left out)"]
    for kind in ("threads", "self", "cumulative"):
        lines.append("  by thread:" if kind == "threads" else f"  top by {kind}:")
        lines += [f"    {e['percent']:5.1f}%  {e['samples']:6d}  {e['function']}" for e in summary[kind]]
    return "\n".join(lines)


class PySpyRecorder:
    """``py-spy record`` attached to ``pid`` for the duration of a ``with`` block."""

    def __init__(self, pid: int, output: Path, rate: int = 250) -> None:
        executable = find_py_spy()
        if executable is None:
            raise RuntimeError("py-spy is not installed: `.venv/bin/pip install py-spy` (a dev tool, not required)")
        self.output = output
        self.command = [
            executable,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--nolineno",
            "--threads",
            "--rate",
            str(rate),
            "--output",
            str(output),
        ]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> PySpyRecorder:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        # py-spy writes its output when interrupted, as after Ctrl-C.
        self.process.send_signal(signal.SIGINT)
        try:
            output, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        if not self.output.exists():
            raise RuntimeError(f"py-spy wrote no profile:\n{output.decode(errors='replace')[-2000:]}")
