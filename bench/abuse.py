"""The abuse runs of ``bench_chat``: a flood beside the honest load, and clients that stop reading.

**Flood** (``--flood SOCKETS``): the honest pairs' one-to-one load is run
twice on the same server, first alone, then while one other account floods
it from a process of its own (``bench/flood.py``: every frame kind,
reconnecting when closed). The figures are the honest p50/p99 of both runs,
their ratio (the goal: p99 at most 2x) and the honest messages lost (must be
0). The server runs with a real rate limit (``--abuse-rate-limit``), as a
deployment would: the honest pairs send within it, the flooder far beyond.

**Slow readers** (``--slow-readers N``): N recipients open ``ws/chat/``
with a raw socket whose kernel receive buffer is small, read the
``connected`` frame and then nothing; their senders push each of them
``--slow-messages`` messages of the longest kind. The figures are the
server's RSS growth per reader at its peak, the bytes pushed per reader and
how the readers' sockets ended (``4408``, or dropped). Run once with the
default bound and once with ``--unsent-bytes`` huge to see what the server
holds without it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import procstat
from .client import ENDPOINTS, Pair
from .report import rounds_line
from .runner import BenchConfig, measure_load
from .stats import ratio, rounds_summary
from .wsclient import ChatClient

#: the kernel receive buffer of a slow reader's socket
SLOW_READER_RCVBUF = 8192
#: messages a slow reader's sender keeps unacknowledged
PUSH_WINDOW = 20
#: a Django shell one-liner: the unread bytes of each socket the server closed for not reading, from its MessagingError rows
HELD_AT_CLOSE_QUERY = (
    "import json, re; from messaging.models import MessagingError; print(json.dumps(sorted(int(m.group(1))"
    " for e in MessagingError.objects.filter(category='connection_error') if e.context.get('code') == 'not_reading'"
    " for m in [re.search(r'left (\\d+) bytes unread', e.message)] if m)))"
)
#: code points of a slow-reader message: 14 000 emoji, 56 000 bytes of UTF-8 (the server allows it in this run)
SLOW_MESSAGE_LENGTH = 14_000


# --- Flood --------------------------------------------------------------------------


async def start_flooder(base_url: str, flooder: Pair, sockets: int, rate: float) -> asyncio.subprocess.Process:
    options = {
        "base_url": base_url,
        "cookie": flooder.sender.cookie,
        "conversation": flooder.conversation,
        "sockets": sockets,
        "rate": rate,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.flood",
        json.dumps(options),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    if line.strip() != b"ready":
        raise RuntimeError(f"the flooder did not start: {line!r}")
    return process


async def stop_flooder(process: asyncio.subprocess.Process) -> dict[str, int]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    output = await asyncio.wait_for(process.stdout.read(), timeout=60)
    await process.wait()
    return json.loads(output.decode().strip().splitlines()[-1])


async def measure_flood(
    base_url: str, pid: int | None, honest: list[Pair], flooder: Pair, config: BenchConfig, sockets: int, rate: float
) -> dict[str, Any]:
    """The honest load alone, then beside the flood; the figures the issue asks for."""
    protocol = ENDPOINTS["chat"]
    run_id = uuid.uuid4().hex[:8]
    alone = await measure_load(base_url, pid, protocol, honest, config, f"{run_id}a")
    if pid:
        await procstat.wait_until_quiet(pid)
    process = await start_flooder(base_url, flooder, sockets, rate)
    started = time.monotonic()
    try:
        flooded = await measure_load(base_url, pid, protocol, honest, config, f"{run_id}f")
    finally:
        flood_seconds = time.monotonic() - started
        counts = await stop_flooder(process)
    return {
        "alone": alone,
        "flooded": flooded,
        "ratio": {
            "p50": ratio(flooded["latency"]["p50_ms"], alone["latency"]["p50_ms"]),
            "p99": ratio(flooded["latency"]["p99_ms"], alone["latency"]["p99_ms"]),
        },
        "honest_lost": alone["correctness"]["lost"] + flooded["correctness"]["lost"],
        "flood": {
            "sockets": sockets,
            "rate_asked": rate,
            "seconds": round(flood_seconds, 1),
            "frames_per_s": round(counts.get("frames_sent", 0) / flood_seconds, 1) if flood_seconds else None,
            "counts": counts,
        },
        "ok": alone["correctness"]["ok"] and flooded["correctness"]["ok"],
    }


# --- Slow readers -------------------------------------------------------------------


def raw_reader(base_url: str, cookie: str) -> tuple[socket.socket, bytes]:
    """A ``ws/chat/`` socket with a small receive buffer, its handshake answered; it reads nothing more."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_READER_RCVBUF)
    sock.settimeout(30)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/chat/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {base_url}\r\nCookie: {cookie}\r\n\r\n"
    )
    sock.sendall(request.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the slow reader's handshake")
        answer += chunk
    head, rest = answer.split(b"\r\n\r\n", 1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise ConnectionError(f"the slow reader's handshake was refused: {head[:80]!r}")
    return sock, rest


def read_to_the_end(sock: socket.socket, already: bytes, timeout: float) -> tuple[int, int | None]:
    """Read everything left (frames and all); bytes read and the close code (None: dropped without one)."""
    sock.settimeout(timeout)
    data = bytearray(already)
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    finally:
        sock.close()
    return len(data), close_code(bytes(data))


def close_code(data: bytes) -> int | None:
    """The code of the close frame in a stream of unmasked server frames, if it is there."""
    at = 0
    while at + 2 <= len(data):
        opcode, length = data[at] & 0x0F, data[at + 1] & 0x7F
        head = 2
        if length == 126:
            (length,) = struct.unpack("!H", data[at + 2 : at + 4])
            head = 4
        elif length == 127:
            (length,) = struct.unpack("!Q", data[at + 2 : at + 10])
            head = 10
        if at + head + length > len(data):
            return None
        if opcode == 0x8:
            payload = data[at + head : at + head + length]
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        at += head + length
    return None


async def push(base_url: str, pair: Pair, messages: int, content: str) -> int:
    """The pair's sender sends ``messages`` of ``content`` to its recipient; bytes of the events pushed."""
    sender = ChatClient(base_url, pair.sender.cookie, "", path="/ws/chat/")
    await sender.connect()
    pushed = 0
    try:
        for start in range(0, messages, PUSH_WINDOW):
            batch = range(start, min(messages, start + PUSH_WINDOW))
            for _ in batch:
                frame = {
                    "type": "message",
                    "conversation": pair.conversation,
                    "content": content,
                    "client_id": uuid.uuid4().hex,
                }
                await sender.socket.send(json.dumps(frame, ensure_ascii=False))
            for _ in batch:
                ack = await sender.expect("ack", timeout=60)
                pushed += len(json.dumps({"type": "event", "event": ack["event"]}, ensure_ascii=False).encode())
    finally:
        await sender.close()
    return pushed


async def measure_slow_readers(base_url: str, pid: int | None, readers: list[Pair], messages: int) -> dict[str, Any]:
    content = "\U0001f600" * SLOW_MESSAGE_LENGTH
    if pid:
        await procstat.wait_until_quiet(pid)
    before = procstat.rss_kb(pid) if pid else None
    sockets = [await asyncio.to_thread(raw_reader, base_url, pair.recipient.cookie) for pair in readers]
    with procstat.RssSampler(pid) as sampler:
        pushed = await asyncio.gather(*(push(base_url, pair, messages, content) for pair in readers))
        # The server notices a reader over the bound at its next push; give the close a few seconds.
        await asyncio.sleep(3)
    ends = await asyncio.gather(*(asyncio.to_thread(read_to_the_end, s, rest, 10) for s, rest in sockets))
    growth = (sampler.peak_kb - before) if sampler.peak_kb is not None and before is not None else None
    codes: dict[str, int] = {}
    for _, code in ends:
        codes[str(code)] = codes.get(str(code), 0) + 1
    return {
        "readers": len(readers),
        "messages_per_reader": messages,
        "pushed_mb_per_reader": round(sum(pushed) / len(readers) / 1e6, 2),
        "read_mb_per_reader": round(sum(n for n, _ in ends) / len(readers) / 1e6, 2),
        "server_rss_before_kb": before,
        "server_peak_rss_kb": sampler.peak_kb,
        "peak_growth_per_reader_kb": round(growth / len(readers)) if growth is not None else None,
        "closes": codes,
    }


async def measure_flood_rounds(
    base_url: str, pid: int | None, honest: list[Pair], flooder: Pair, config: BenchConfig, sockets: int, rate: float
) -> dict[str, Any]:
    """:func:`measure_flood` ``config.rounds`` times back to back: the first round's figures, and every round's ratios.

    Each round is the honest load alone and then beside a flooder started
    for it. Nothing honest may be lost in any round.
    """
    first = await measure_flood(base_url, pid, honest, flooder, config, sockets, rate)
    if config.rounds < 2:
        return first
    p50, p99 = [first["ratio"]["p50"]], [first["ratio"]["p99"]]
    for _ in range(1, config.rounds):
        again = await measure_flood(base_url, pid, honest, flooder, config, sockets, rate)
        p50.append(again["ratio"]["p50"])
        p99.append(again["ratio"]["p99"])
        first["honest_lost"] += again["honest_lost"]
        first["ok"] = first["ok"] and again["ok"]
    first["rounds"] = {
        "p50": rounds_summary(p50, lambda value: value <= 2),
        "p99": rounds_summary(p99, lambda value: value <= 2),
    }
    return first


def abuse_config(config: BenchConfig, messages: int) -> BenchConfig:
    """The honest load of the flood run: ``messages`` per sender, no relay, no idle sockets, no group."""
    return replace(config, messages=messages, duration=None, relay=False, idle=0, group_members=0)


def format_abuse(result: dict[str, Any]) -> str:
    lines = [f"abuse runs on {result['stack']}, load average {result['loadavg']}"]
    flood = result.get("flood")
    if flood:
        alone, flooded = flood["alone"]["latency"], flood["flooded"]["latency"]
        lines += [
            f"flood: {flood['flood']['sockets']} sockets of one account, {flood['flood']['frames_per_s']} frames/s"
            f" for {flood['flood']['seconds']} s; {json.dumps(flood['flood']['counts'], sort_keys=True)}",
            f"  honest alone:   p50 {alone['p50_ms']} ms, p99 {alone['p99_ms']} ms",
            f"  honest flooded: p50 {flooded['p50_ms']} ms, p99 {flooded['p99_ms']} ms",
            f"  fairness ratio (flooded / alone): p50 {flood['ratio']['p50']}x, p99 {flood['ratio']['p99']}x"
            " (goal: p99 <= 2x)",
            *(
                [
                    f"  fairness over {flood['rounds']['p99']['rounds']} rounds (the first above):"
                    f" p99 {rounds_line(flood['rounds']['p99'], 2)}; p50 {rounds_line(flood['rounds']['p50'], 2)}"
                    " (goal: p99 <= 2x)"
                ]
                if "rounds" in flood
                else []
            ),
            f"  honest messages lost: {flood['honest_lost']}" + (" (every round)" if "rounds" in flood else ""),
            f"  honest resends after rate_limited/server_error (alone, flooded): {flood['alone']['correctness']['retries']},"
            f" {flood['flooded']['correctness']['retries']} (above 0, the honest pair outran --abuse-rate-limit and its"
            " latencies include its own waits)",
        ]
    slow = result.get("slow_readers")
    if slow:
        lines += [
            f"slow readers: {slow['readers']} sockets that stop reading (SO_RCVBUF {SLOW_READER_RCVBUF}),"
            f" MESSAGING_MAX_UNSENT_BYTES {result['unsent_bytes']}",
            f"  pushed {slow['pushed_mb_per_reader']} MB per reader, read {slow['read_mb_per_reader']} MB per reader"
            " (after the end)",
            f"  server RSS {slow['server_rss_before_kb']} kB before, {slow['server_peak_rss_kb']} kB at the peak:"
            f" per-socket memory bound {slow['peak_growth_per_reader_kb']} kB per reader",
            f"  sockets ended: {slow['closes']} (4408: closed for not reading; None: dropped without a close frame)",
            f"  held for each reader when the server closed it (its own count, bytes): {slow.get('held_at_close_bytes')}",
        ]
    return "\n".join(lines)
