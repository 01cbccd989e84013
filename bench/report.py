"""The benchmark's human-readable report (``--json`` prints the result dict instead)."""

from __future__ import annotations

from typing import Any

EXTRAS = (("failed codes", "failed_codes"), ("stray errors", "stray_errors"))


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _mb(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f}"


def format_report(result: dict[str, Any]) -> str:
    params, stack, machine = result["params"], result["stack"], result["machine"]
    amount = f"{params['duration']} s" if params["duration"] else f"{params['messages']} messages"
    lines = [
        f"LinkUp chat benchmark {result['run_id']} at {result['at']}",
        f"  {params['pairs']} pair(s) x {amount} per sender, window {params['window']}, "
        f"{params['size']}-byte content, warm-up {params['warmup']}",
        f"  server {result['url']} ({stack['database']}, {stack['channel_layer']} channel layer)",
        f"  machine: {machine['cpus']} CPU(s) {machine['cpu_model']}, Python {machine['python']},"
        f" load average {machine.get('loadavg_1m_at_start')} at start, {machine.get('loadavg_1m_at_end')} at end",
        "",
        f"  {'target':<8} {'msgs':>6} {'msg/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'lost':>5} {'dup':>4} {'ooo':>4} {'peak RSS MB':>11}",
    ]
    for name, load in result["load"].items():
        latency, check = load["latency"], load["correctness"]
        lines.append(
            f"  {name:<8} {load['delivered']:>6} {_num(load['throughput_msg_s']):>8} {_num(latency['p50_ms'], 2):>8}"
            f" {_num(latency['p95_ms'], 2):>8} {_num(latency['p99_ms'], 2):>8} {_num(latency['max_ms'], 2):>8}"
            f" {check['lost']:>5} {check['duplicated']:>4} {check['out_of_order']:>4}"
            f" {_mb(load['server_peak_rss_kb']):>11}"
        )
    for name, load in result["load"].items():
        lines.append(
            f"  {name}: p50 of the first / last tenth sent {_num(load['p50_first_tenth_ms'], 2)} /"
            f" {_num(load['p50_last_tenth_ms'], 2)} ms; CPU per message: server"
            f" {_num(load['server_cpu_ms_per_msg'], 2)} ms, client {_num(load['client_cpu_ms_per_msg'], 2)} ms"
        )
    if "ratio" in result:
        r = result["ratio"]
        lines.append(
            f"  LinkUp / relay: throughput {_num(r['throughput'], 3)}, p99 {_num(r['p99'], 2)}x,"
            f" server CPU per message {_num(r['server_cpu_per_msg'], 2)}x"
        )
    for name, idle in result["idle"].items():
        lines.append(
            f"  idle {name}: {idle['opened']}/{idle['requested']} sockets opened in {idle['open_seconds']} s,"
            f" RSS {_mb(idle['rss_before_kb'])} -> {_mb(idle['rss_after_kb'])} MB,"
            f" {_num(idle['per_socket_kb'])} KB per socket"
            + ("" if idle["measured_quiet"] else " (server not quiet)")
            + ("" if idle["fresh_process"] else " (after other sockets closed in the same process: understated)")
        )
        for reason, count in idle.get("failures", {}).items():
            lines.append(f"    {count} failed: {reason}")
    restarted = " (restarted after the idle sockets)" if result["restarted_between_phases"] else ""
    lines.append(f"  server peak RSS (VmHWM of the process that served the load{restarted}): "
                 f"{_mb(result['server_peak_rss_kb'])} MB")
    for name, load in result["load"].items():
        check = load["correctness"]
        details = ", ".join(f"{k} {v}" for k, v in check.items() if k not in {"ok", "failed_codes", "stray_errors"})
        extras = [f"{label} {check[key]}" for label, key in EXTRAS if check[key]]
        lines.append(f"  {name} correctness: {'OK' if check['ok'] else 'FAILED'} ({', '.join([details, *extras])})")
    return "\n".join(lines)


MARKDOWN_HEADER = (
    "| stack | pairs | window | msgs/sender | LinkUp msg/s | relay msg/s | **throughput ratio** "
    "| LinkUp p50 / p99 ms | relay p50 / p99 ms | **p99 ratio** | server CPU ms/msg LinkUp / relay "
    "| lost / dup / ooo | load avg |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def format_markdown_row(result: dict[str, Any]) -> str:
    """One row of the README's table (under :data:`MARKDOWN_HEADER`) for a run with both targets."""
    params, stack, machine = result["params"], result["stack"], result["machine"]
    linkup, relay = result["load"]["linkup"], result["load"].get("relay")
    ratio = result.get("ratio", {})

    def latency(load: dict[str, Any] | None) -> str:
        if load is None:
            return "n/a"
        return f"{_num(load['latency']['p50_ms'], 1)} / {_num(load['latency']['p99_ms'], 1)}"

    faults = [sum(load["correctness"][key] for load in result["load"].values()) for key in ("lost", "duplicated", "out_of_order")]
    amount = f"{params['duration']} s" if params["duration"] else str(params["messages"])
    return (
        f"| {stack['database']} + {stack['channel_layer']} | {params['pairs']} | {params['window']} | {amount} "
        f"| {_num(linkup['throughput_msg_s'])} | {_num(relay['throughput_msg_s']) if relay else 'n/a'} "
        f"| **{_num(ratio.get('throughput'), 3)}** | {latency(linkup)} | {latency(relay)} "
        f"| **{_num(ratio.get('p99'), 1)}x** "
        f"| {_num(linkup['server_cpu_ms_per_msg'], 2)} / {_num(relay['server_cpu_ms_per_msg'], 2) if relay else 'n/a'} "
        f"| {' / '.join(map(str, faults))} "
        f"| {machine.get('loadavg_1m_at_start')}–{machine.get('loadavg_1m_at_end')} |"
    )
