"""The benchmark's human-readable report (``--json`` prints the result dict instead)."""

from __future__ import annotations

from typing import Any

from .stats import P99_GOAL, THROUGHPUT_GOAL

EXTRAS = (("failed codes", "failed_codes"), ("stray errors", "stray_errors"))


def rounds_line(summary: dict[str, Any], digits: int) -> str:
    """A :func:`~.stats.rounds_summary` as ``a, b, c; median m; k of n met``."""
    values = ", ".join(_num(value, digits) for value in summary["values"])
    return f"{values}; median {_num(summary['median'], digits)}; {summary['met']} of {summary['rounds']} met"


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
    endpoint = "ws/chat/" if params.get("endpoint", "chat") == "chat" else "ws/chat/<peer>/"
    lines = [
        f"LinkUp chat benchmark {result['run_id']} at {result['at']}",
        f"  server {result['url']} ({stack['database']}, {stack['channel_layer']} channel layer"
        + (f", search indexer: {stack['search_indexer']}" if "search_indexer" in stack else "")
        + (f"; {stack['front']})" if "front" in stack else ")"),
        f"  machine: {machine['cpus']} CPU(s) {machine['cpu_model']}, Python {machine['python']},"
        f" load average {machine.get('loadavg_1m_at_start')} at start, {machine.get('loadavg_1m_at_end')} at end",
    ]
    if result["load"]:
        lines += [
            "",
            f"  {params['pairs']} pair(s) on {endpoint} x {amount} per sender, window {params['window']}, "
            f"{params['size']}-byte content, warm-up {params['warmup']}",
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
    if "rounds" in result:
        throughput, p99 = result["rounds"]["throughput"], result["rounds"]["p99"]
        lines += [
            f"  LinkUp / relay over {throughput['rounds']} rounds (the first above; which goes first alternates):",
            f"    throughput {rounds_line(throughput, 3)} (goal: >= {THROUGHPUT_GOAL:g})",
            f"    p99 {rounds_line(p99, 2)} (goal: <= {P99_GOAL:g}x)",
        ]
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
        beat = idle.get("heartbeat")
        if beat:
            lines.append(
                f"    heartbeat round{' (chat + bell sockets, as tabs)' if idle.get('tabs') else ''}:"
                f" {beat['pings'] - beat['failed']}/{beat['pings']} pongs in {beat['seconds']} s,"
                f" server CPU {_num(beat['server_cpu_ms_per_socket'], 3)} ms and RSS"
                f" {_num(beat['rss_growth_per_socket_kb'], 3)} KB per socket"
            )
    lines += format_group(result)
    restarted = " (restarted after the idle sockets)" if result["restarted_between_phases"] else ""
    lines.append(
        f"  server peak RSS (sampled while the load ran, the process that served it{restarted}): "
        f"{_mb(result['server_peak_rss_kb'])} MB"
    )
    for name, load in result["load"].items():
        check = load["correctness"]
        details = ", ".join(f"{k} {v}" for k, v in check.items() if k not in {"ok", "failed_codes", "stray_errors"})
        extras = [f"{label} {check[key]}" for label, key in EXTRAS if check[key]]
        lines.append(f"  {name} correctness: {'OK' if check['ok'] else 'FAILED'} ({', '.join([details, *extras])})")
    for name, load in result.get("group", {}).items():
        check = load["correctness"]
        details = ", ".join(f"{k} {v}" for k, v in check.items() if k not in {"ok", "failed_codes", "stray_errors"})
        extras = [f"{label} {check[key]}" for label, key in EXTRAS if check[key]]
        lines.append(
            f"  {name} group correctness: {'OK' if check['ok'] else 'FAILED'} ({', '.join([details, *extras])})"
        )
    return "\n".join(lines)


def format_group(result: dict[str, Any]) -> list[str]:
    """The group run's lines: fan-out latency per (message, recipient) and until the last recipient."""
    groups = result.get("group") or {}
    if not groups:
        return []
    params = result["params"]
    lines = [
        "",
        f"  group run: {params['group_members']} members, {params['group_online']} recipients online besides the"
        f" sender, {params['group_messages']} messages, window {params['group_window']},"
        f" warm-up {params['group_warmup']}, recipients confirm with received:"
        f" {'yes' if params.get('group_receipts') else 'no'}",
        f"  {'target':<8} {'msgs':>5} {'deliv':>6} {'fan-out p50':>11} {'p95':>7} {'p99':>7} {'max':>7}"
        f" {'last p50':>9} {'last p99':>9} {'lost':>5} {'dup':>4} {'ooo':>4} {'msg/s':>7}",
    ]
    for name, load in groups.items():
        fan, last, check = load["fanout"], load["last_recipient"], load["correctness"]
        lines.append(
            f"  {name:<8} {load['acked']:>5} {load['deliveries']:>6} {_num(fan['p50_ms'], 2):>11}"
            f" {_num(fan['p95_ms'], 2):>7} {_num(fan['p99_ms'], 2):>7} {_num(fan['max_ms'], 2):>7}"
            f" {_num(last['p50_ms'], 2):>9} {_num(last['p99_ms'], 2):>9} {check['lost']:>5}"
            f" {check['duplicated']:>4} {check['out_of_order']:>4} {_num(load['messages_per_s']):>7}"
        )
    for name, load in groups.items():
        lines.append(
            f"  {name} group: CPU per message: server {_num(load['server_cpu_ms_per_msg'], 2)} ms"
            f" ({_num(load['server_cpu_us_per_delivery'])} us per delivery), client"
            f" {_num(load['client_cpu_ms_per_msg'], 2)} ms ({_num(load['client_cpu_us_per_delivery'])} us per"
            f" delivery); peak RSS {_mb(load['server_peak_rss_kb'])} MB"
        )
    if "group_ratio" in result:
        r = result["group_ratio"]
        lines.append(
            f"  LinkUp / relay, group: fan-out p50 {_num(r['fanout_p50'], 2)}x, p99 {_num(r['fanout_p99'], 2)}x,"
            f" last recipient p99 {_num(r['last_recipient_p99'], 2)}x,"
            f" server CPU per message {_num(r['server_cpu_per_msg'], 2)}x"
        )
    if "group_rounds" in result:
        p99 = result["group_rounds"]["fanout_p99"]
        lines.append(
            f"  LinkUp / relay, group, over {p99['rounds']} rounds (the first above; which goes first alternates):"
            f" fan-out p99 {rounds_line(p99, 2)} (goal: <= 2x)"
        )
    return lines


MARKDOWN_HEADER = (
    "| stack | endpoint | pairs | window | msgs/sender | LinkUp msg/s | relay msg/s | **throughput ratio** "
    "| LinkUp p50 / p99 ms | relay p50 / p99 ms | **p99 ratio** | server CPU ms/msg LinkUp / relay "
    "| lost / dup / ooo | load avg |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)

GROUP_MARKDOWN_HEADER = (
    "| stack | members / online | msgs | window | LinkUp fan-out p50 / p99 ms | relay fan-out p50 / p99 ms "
    "| **fan-out p99 ratio** | last recipient p99 ms LinkUp / relay | server CPU ms/msg LinkUp / relay "
    "| lost / dup / ooo | load avg |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def format_group_markdown_row(result: dict[str, Any]) -> str:
    """One row of the group table (under :data:`GROUP_MARKDOWN_HEADER`)."""
    params, stack, machine = result["params"], result["stack"], result["machine"]
    linkup, relay = result["group"]["linkup"], result["group"].get("relay")
    ratio = result.get("group_ratio", {})

    def fanout(load: dict[str, Any] | None) -> str:
        if load is None:
            return "n/a"
        return f"{_num(load['fanout']['p50_ms'], 1)} / {_num(load['fanout']['p99_ms'], 1)}"

    faults = [
        sum(load["correctness"][key] for load in result["group"].values())
        for key in ("lost", "duplicated", "out_of_order")
    ]
    return (
        f"| {stack['database']} + {stack['channel_layer']} | {params['group_members']} / {params['group_online']} "
        f"| {params['group_messages']} | {params['group_window']} | {fanout(linkup)} | {fanout(relay)} "
        f"| **{_num(ratio.get('fanout_p99'), 2)}x** "
        f"| {_num(linkup['last_recipient']['p99_ms'], 1)} / {_num(relay['last_recipient']['p99_ms'], 1) if relay else 'n/a'} "
        f"| {_num(linkup['server_cpu_ms_per_msg'], 2)} / {_num(relay['server_cpu_ms_per_msg'], 2) if relay else 'n/a'} "
        f"| {' / '.join(map(str, faults))} "
        f"| {machine.get('loadavg_1m_at_start')}–{machine.get('loadavg_1m_at_end')} |"
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

    faults = [
        sum(load["correctness"][key] for load in result["load"].values())
        for key in ("lost", "duplicated", "out_of_order")
    ]
    endpoint = params.get("endpoint", "chat")
    amount = f"{params['duration']} s" if params["duration"] else str(params["messages"])
    return (
        f"| {stack['database']} + {stack['channel_layer']} | {endpoint} | {params['pairs']} | {params['window']} | {amount} "
        f"| {_num(linkup['throughput_msg_s'])} | {_num(relay['throughput_msg_s']) if relay else 'n/a'} "
        f"| **{_num(ratio.get('throughput'), 3)}** | {latency(linkup)} | {latency(relay)} "
        f"| **{_num(ratio.get('p99'), 1)}x** "
        f"| {_num(linkup['server_cpu_ms_per_msg'], 2)} / {_num(relay['server_cpu_ms_per_msg'], 2) if relay else 'n/a'} "
        f"| {' / '.join(map(str, faults))} "
        f"| {machine.get('loadavg_1m_at_start')}–{machine.get('loadavg_1m_at_end')} |"
    )
