"""Charts of benchmark runs: PNG files a reader looks at instead of reading tables.

``bench_chat --plot DIR`` keeps each run's result in ``DIR/runs/`` and
redraws every chart from all the runs there, so a few runs at different
loads (``--pairs``, ``--window``) or socket counts (``--idle``) become
curves:

- ``latency-vs-load.png``: p50/p95/p99 latency against the offered load
  (messages in flight: pairs x window), each point labelled with its
  throughput, LinkUp beside the relay of the same runs, one panel per stack;
- ``memory-vs-sockets.png``: the server's RSS against idle sockets open,
  per target and stack, with each run's KB per socket;
- ``rounds.png``: for runs with ``--rounds`` and a ``--label`` (the code
  they measured), every round's throughput and p99 ratio to the relay, one
  column of dots per run grouped by label, against the goals (0.8, 2x):
  what an A/B of two branches looks like round by round;
- ``growth.png``: each operation's p50/p95 against the number of messages,
  one panel per database, from the per-size results ``bench_growth`` writes
  (``DIR/growth/growth-<database>-<size>.json``; ``bench_growth --plot DIR``).

Runs only combine with runs of the same stack (database and channel layer);
a chart says the machine and load average its runs saw. matplotlib draws with
its Agg backend: no display is needed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from .stats import P99_GOAL, THROUGHPUT_GOAL

PERCENTILES = (("p50_ms", "p50", "-"), ("p95_ms", "p95", "--"), ("p99_ms", "p99", ":"))
COLOURS = {"linkup": "#4338ca", "relay": "#b45309", "direct": "#15803d"}


def record(result: dict[str, Any], directory: Path) -> Path:
    """Keep ``result`` among the runs in ``directory``; the file it was written to."""
    runs = directory / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    path = runs / f"{result['at'].replace(':', '')}-{result['run_id']}.json"
    path.write_text(json.dumps(result, indent=1))
    return path


def load_runs(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((directory / "runs").glob("*.json"))]


def stack_name(stack: dict[str, Any]) -> str:
    return f"{stack.get('database', '?')} + {stack.get('channel_layer', '?')}"


def draw(directory: Path) -> list[Path]:
    """Redraw every chart the runs in ``directory`` allow; the files written."""
    runs = load_runs(directory)
    written = []
    for name, chart in (
        ("latency-vs-load.png", latency_against_load),
        ("memory-vs-sockets.png", memory_against_sockets),
        ("rounds.png", rounds_by_label),
    ):
        if chart(runs, directory / name):
            written.append(directory / name)
    growth = [json.loads(p.read_text()) for p in sorted((directory / "growth").glob("*.json"))]
    if growth and growth_curves(growth, directory / "growth.png"):
        written.append(directory / "growth.png")
    return written


def _by_stack(runs: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        grouped[stack_name(run.get("stack", {}))].append(run)
    return dict(sorted(grouped.items()))


def _footer(figure: Any, runs: list[dict[str, Any]]) -> None:
    loads = [run["machine"].get("loadavg_1m_at_end") for run in runs if run.get("machine")]
    loads = [load for load in loads if load is not None]
    machine = runs[0].get("machine", {}) if runs else {}
    text = f"{machine.get('cpus', '?')} CPU(s), {len(runs)} run(s)"
    if loads:
        text += f", load average {min(loads):.1f}–{max(loads):.1f}"
    figure.text(0.01, 0.01, text, fontsize=8, color="#555555")


#: a run's load phase counts for the latency chart with at least this many timed messages per sender
MIN_MESSAGES = 100


def in_flight(run: dict[str, Any]) -> int:
    """The run's offered load: messages in flight at once (pairs x window)."""
    return int(run["params"]["pairs"]) * int(run["params"].get("window", 1))


def latency_against_load(runs: list[dict[str, Any]], path: Path) -> bool:
    """Latency percentiles against messages in flight, per target; False if no run has a load phase.

    Load phases with fewer than :data:`MIN_MESSAGES` messages per sender
    (the idle-socket runs' short ones) are left out when a stack has longer
    ones; of runs at the same load, the newest counts.
    """
    stacks = {}
    for name, stack_runs in _by_stack(runs).items():
        loaded = [run for run in stack_runs if run.get("load")]
        long_enough = [run for run in loaded if int(run["params"].get("messages", 0)) >= MIN_MESSAGES]
        newest: dict[int, dict[str, Any]] = {}
        for run in sorted(long_enough or loaded, key=lambda r: r["at"]):
            newest[in_flight(run)] = run
        if newest:
            stacks[name] = [newest[load] for load in sorted(newest)]
    if not stacks:
        return False
    figure, axes = plt.subplots(1, len(stacks), figsize=(6.5 * len(stacks), 4.6), squeeze=False)
    for ax, (stack, stack_runs) in zip(axes[0], stacks.items(), strict=True):
        targets = sorted({target for run in stack_runs for target in run["load"]})
        for target in targets:
            points = [(in_flight(run), run["load"][target]) for run in stack_runs if target in run["load"]]
            for key, label, style in PERCENTILES:
                ax.plot(
                    [x for x, _ in points],
                    [load["latency"][key] for _, load in points],
                    style,
                    marker="o",
                    color=COLOURS.get(target, "#333333"),
                    label=f"{target} {label}",
                )
            for x, load in points:
                ax.annotate(
                    f"{load['throughput_msg_s']:.0f}/s",
                    (x, load["latency"]["p50_ms"]),
                    fontsize=7,
                    color=COLOURS.get(target, "#333333"),
                    xytext=(4, -10),
                    textcoords="offset points",
                )
        ax.set_title(stack)
        ax.set_xscale("log")
        ax.set_xlabel("messages in flight (pairs x window); labels: throughput, messages/s")
        ax.set_ylabel("latency (ms, send to delivery)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("Latency against load: LinkUp and a bare Channels relay, same runs")
    _footer(figure, [run for stack_runs in stacks.values() for run in stack_runs])
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


#: what rounds.png draws, and the goal each ratio is held to (bench/stats.py)
ROUND_PANELS = (
    ("throughput", "throughput, LinkUp / relay", f">= {THROUGHPUT_GOAL:g}", THROUGHPUT_GOAL),
    ("p99", "p99 latency, LinkUp / relay", f"<= {P99_GOAL:g}", P99_GOAL),
)
PALETTE = ("#b45309", "#4338ca", "#15803d", "#be123c", "#0e7490")


def _shape(run: dict[str, Any]) -> tuple[Any, ...]:
    params = run["params"]
    return (params.get("pairs"), params.get("window"), params.get("messages"), stack_name(run.get("stack", {})))


def rounds_by_label(runs: list[dict[str, Any]], path: Path) -> bool:
    """Each labelled run's per-round ratios, a column of dots per run, runs grouped by label; False if none."""
    labelled = sorted(
        (run for run in runs if run.get("label") and run.get("rounds", {}).get("throughput")), key=lambda r: r["at"]
    )
    if not labelled:
        return False
    # Runs of one shape only (the newest run's): a pair's rounds and ten pairs' do not compare.
    shape = _shape(labelled[-1])
    labelled = [run for run in labelled if _shape(run) == shape]
    labels = list(dict.fromkeys(run["label"] for run in labelled))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, (key, title, goal_text, goal) in zip(axes, ROUND_PANELS, strict=True):
        x = 0
        ticks = []
        for index, label in enumerate(labels):
            colour = PALETTE[index % len(PALETTE)]
            label_runs = [run for run in labelled if run["label"] == label]
            start = x
            for run in label_runs:
                summary = run["rounds"][key]
                values = [value for value in summary["values"] if value is not None]
                ax.scatter([x] * len(values), values, s=14, color=colour, alpha=0.7)
                if summary["median"] is not None:
                    ax.hlines(summary["median"], x - 0.3, x + 0.3, color=colour, linewidth=2)
                x += 1
            ticks.append(((start + x - 1) / 2, f"{label}\n({len(label_runs)} runs)"))
            x += 1
        ax.axhline(goal, color="#555555", linestyle="--", linewidth=1)
        ax.set_xticks([t for t, _ in ticks], [name for _, name in ticks])
        ax.set_title(f"{title} (goal {goal_text}; bar: run median)")
        ax.grid(True, axis="y", alpha=0.3)
    params = labelled[-1]["params"]
    figure.suptitle(
        f"Every round of every run: {params.get('pairs')} pair(s), window {params.get('window')}, "
        f"{params.get('messages')} messages a round"
    )
    _footer(figure, labelled)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def memory_against_sockets(runs: list[dict[str, Any]], path: Path) -> bool:
    """Server RSS against idle sockets open, per target and stack; False if no run opened idle sockets."""
    series: dict[tuple[str, str], list[tuple[int, float, float, float | None]]] = defaultdict(list)
    for run in runs:
        for target, idle in run.get("idle", {}).items():
            if idle.get("rss_before_kb") is None or idle.get("rss_after_kb") is None or not idle.get("opened"):
                continue
            kind = f"{target} (tabs)" if idle.get("tabs") else target
            series[(stack_name(run.get("stack", {})), kind)].append(
                (idle["opened"], idle["rss_before_kb"] / 1024, idle["rss_after_kb"] / 1024, idle.get("per_socket_kb"))
            )
    if not series:
        return False
    figure, ax = plt.subplots(figsize=(7.5, 4.8))
    for (stack, kind), points in sorted(series.items()):
        points.sort()
        colour = COLOURS.get(kind.split()[0], "#333333")
        style = "-" if stack.startswith("sqlite") else "--"
        ax.plot(
            [p[0] for p in points], [p[2] for p in points], style, marker="o", color=colour, label=f"{kind}, {stack}"
        )
        for opened, _, after, per_socket in points:
            if per_socket is not None:
                ax.annotate(
                    f"{per_socket:.1f} KB", (opened, after), fontsize=7, xytext=(4, -10), textcoords="offset points"
                )
    ax.set_xlabel("idle sockets open (authenticated; LinkUp's once their first frame arrived)")
    ax.set_ylabel("server RSS (MB)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Server memory against idle sockets (each run on a fresh daphne)")
    _footer(figure, runs)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def growth_curves(results: list[dict[str, Any]], path: Path) -> bool:
    """Each operation's p50 (solid) and p95 (dotted) against messages stored, one panel per database.

    ``results`` are ``bench_growth``'s per-size results: ``{"size", "vendor",
    "operations": [{"operation", "p50_ms", "p95_ms", …}]}``. False if there is none.
    """
    by_vendor: dict[str, dict[str, list[tuple[int, float, float]]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        for op in result.get("operations", []):
            by_vendor[result["vendor"]][op["operation"]].append((int(result["size"]), op["p50_ms"], op["p95_ms"]))
    if not by_vendor:
        return False
    figure, axes = plt.subplots(1, len(by_vendor), figsize=(7 * len(by_vendor), 5.2), squeeze=False)
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (vendor, operations) in zip(axes[0], sorted(by_vendor.items()), strict=True):
        for index, (operation, points) in enumerate(sorted(operations.items())):
            points.sort()
            colour = cycle[index % len(cycle)]
            xs = [size for size, _, _ in points]
            ax.plot(xs, [p50 for _, p50, _ in points], "-", marker="o", color=colour, label=operation)
            ax.plot(xs, [p95 for _, _, p95 in points], ":", color=colour)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("messages stored")
        ax.set_ylabel("ms (solid p50, dotted p95)")
        ax.set_title(vendor)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    figure.suptitle("How each read's time grows with the data (flat is the goal)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
