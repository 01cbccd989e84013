"""An operations drill: chat load with the SMTP server stopped for a while.

It starts its own daphne and a ``process_retry_queue --loop`` worker (both
writing metrics into one ``PROMETHEUS_MULTIPROC_DIR``), a real SMTP server
(aiosmtpd) they send to, and signs in pairs of benchmark users: the
recipients of the first half are online (their messages are pushed and give
the delivery latency), those of the second half are away (each of their
messages is a notification to email). After a third of the run the SMTP
server stops; after two thirds it comes back. Every second the drill scrapes
``/metrics`` and prints what an operator would watch: messages stored,
delivery latency, emails sent and failed, retries, the SMTP breaker of every
process, errors by category and the retry backlog. At the end it reads the
admin's error console and checks that every email queued reached the SMTP
server exactly once.
"""

from __future__ import annotations

import asyncio
import email
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from .runner import sign_in
from .server import BenchServer, free_port
from .wsclient import ChatClient, login

BREAKER_NAMES = {0: "closed", 1: "half-open", 2: "open"}


class Inbox:
    """The SMTP server's mailbox."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@dataclass
class DrillConfig:
    pairs: int = 4
    duration: float = 30.0
    rate: float = 4.0  # messages per second per sender
    outage_start: float = 1 / 3
    outage_end: float = 2 / 3
    password: str = "linkup-drill-password"


@dataclass
class Sample:
    at: float
    values: dict[tuple[str, tuple], float] = field(default_factory=dict)

    def get(self, metric: str, **labels: str) -> float:
        return self.values.get((metric, tuple(sorted(labels.items()))), 0.0)

    def total(self, metric: str, **labels: str) -> float:
        """Sum over every series of ``metric`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.values.items() if n == metric and wanted <= set(ls))

    def breakers(self, breaker: str) -> list[str]:
        """The state of ``breaker`` in every process, as the multiprocess metrics report it."""
        return [
            BREAKER_NAMES.get(int(v), "?")
            for (n, ls), v in sorted(self.values.items())
            if n == "linkup_circuit_breaker_state" and ("name", breaker) in ls
        ]


def scrape(base_url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def histogram_quantile(sample: Sample, before: Sample | None, name: str, q: float) -> float | None:
    """The ``q`` quantile of the observations between two scrapes, from the buckets' upper bounds."""
    buckets = sorted(
        (float(dict(ls)["le"]), v - (before.values.get((n, ls), 0.0) if before else 0.0))
        for (n, ls), v in sample.values.items()
        if n == f"{name}_bucket"
    )
    if not buckets or buckets[-1][1] <= 0:
        return None
    target = q * buckets[-1][1]
    for bound, count in buckets:
        if count >= target:
            return bound
    return None


def timeline_row(now: Sample, before: Sample, smtp_up: bool) -> str:
    def d(metric: str, **labels: str) -> float:
        return now.total(metric, **labels) - before.total(metric, **labels)

    p99 = histogram_quantile(now, before, "linkup_message_delivery_seconds", 0.99)
    return (
        f"{now.at:5.1f}s smtp={'up  ' if smtp_up else 'DOWN'} "
        f"stored+{d('linkup_messages_stored_total'):4.0f} "
        f"delivered+{d('linkup_message_delivery_seconds_count'):4.0f} "
        f"p99<={'-' if p99 is None else f'{p99 * 1000:.0f}ms':>7} "
        f"email sent+{d('linkup_notification_deliveries_total', method='email', outcome='sent'):3.0f} "
        f"failed+{d('linkup_notification_deliveries_total', method='email', outcome='failed'):3.0f} "
        f"retries: retried+{d('linkup_retries_total', outcome='retried'):3.0f} "
        f"recovered+{d('linkup_retries_total', outcome='recovered'):3.0f} "
        f"exhausted+{d('linkup_retries_total', outcome='exhausted'):2.0f} "
        f"errors+{d('linkup_messaging_errors_total'):3.0f} "
        f"backlog={now.get('linkup_retry_queue_backlog'):3.0f} "
        f"smtp breaker={','.join(now.breakers('smtp')) or '-'}"
    )


class SmtpServer:
    """aiosmtpd on a fixed port that can be stopped and started again (a new controller each time)."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.port = free_port()
        self.controller: Controller | None = None

    @property
    def up(self) -> bool:
        return self.controller is not None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


async def run_drill(config: DrillConfig, out: Any) -> dict[str, Any]:
    inbox = Inbox()
    smtp = SmtpServer(inbox)
    smtp.start()
    metrics_dir = tempfile.mkdtemp(prefix="linkup-drill-metrics-")
    # Everything after smtp.start() is undone whatever fails, the server's start included.
    try:
        server = BenchServer(
            pairs=config.pairs,
            password=config.password,
            extra_env={
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp.port),
                "EMAIL_TIMEOUT": "2",
                "MESSAGING_NOTIFICATION_GROUP_SECONDS": "0",
                "MESSAGING_RETRY_BASE_SECONDS": "1",
                "MESSAGING_RETRY_MAX_SECONDS": "4",
                "MESSAGING_RETRY_MAX_ATTEMPTS": "30",
                "MESSAGING_BREAKER_FAILURES": "3",
                "MESSAGING_BREAKER_RESET_SECONDS": "3",
                "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            },
        )
        with server:
            server.manage("create_demo_users", "--reset", "--password", config.password)
            worker = subprocess.Popen(  # noqa: ASYNC220 - Popen only starts the worker; it runs beside the drill
                [sys.executable, "-m", "django", "process_retry_queue", "--loop", "--interval", "1"],
                cwd=settings.BASE_DIR,
                env=server.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                return await _drive(config, server, smtp, inbox, out)
            finally:
                # Before the server goes: the worker talks to its database.
                worker.terminate()
                worker.wait(10)
    finally:
        smtp.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)


async def _drive(config: DrillConfig, server: BenchServer, smtp: SmtpServer, inbox: Inbox, out: Any) -> dict[str, Any]:
    base = server.base_url
    online_pairs = max(1, config.pairs // 2)
    senders, recipients = [], []
    for pair in await asyncio.to_thread(sign_in, base, config.pairs, config.password):
        client = ChatClient(base, pair.sender.cookie, pair.recipient.username)
        await client.connect()
        senders.append(client)
        if pair.index <= online_pairs:
            listener = ChatClient(base, pair.recipient.cookie, pair.sender.username)
            await listener.connect()
            recipients.append(listener)
    out(
        f"drill: {config.pairs} senders for {config.duration:.0f} s at {config.rate:g} msg/s each; "
        f"{online_pairs} recipient(s) online, {config.pairs - online_pairs} away (emailed); "
        f"SMTP stops at {config.outage_start * config.duration:.0f} s, back at {config.outage_end * config.duration:.0f} s"
    )

    start = time.monotonic()
    first = previous = Sample(0.0, await asyncio.to_thread(scrape, base))
    outage = {"stopped": False}
    acked = 0

    async def send_loop(client: ChatClient) -> None:
        nonlocal acked
        interval = 1 / config.rate
        while time.monotonic() - start < config.duration:
            await client.send(
                {"type": "message", "content": f"drill {uuid.uuid4().hex[:6]}", "client_id": uuid.uuid4().hex}
            )
            await client.expect("ack", timeout=30)
            acked += 1
            await asyncio.sleep(interval)

    async def drain(client: ChatClient) -> None:
        while time.monotonic() - start < config.duration + 2:
            try:
                await client.next(timeout=0.5)
            except TimeoutError:
                continue

    async def watch() -> None:
        nonlocal previous
        while time.monotonic() - start < config.duration:
            await asyncio.sleep(1)
            elapsed = time.monotonic() - start
            if not outage["stopped"] and elapsed >= config.outage_start * config.duration:
                await asyncio.to_thread(smtp.stop)
                outage["stopped"] = True
                out(f"--- {elapsed:.1f}s SMTP server stopped")
            elif not smtp.up and elapsed >= config.outage_end * config.duration:
                await asyncio.to_thread(smtp.start)
                out(f"--- {elapsed:.1f}s SMTP server back")
            now = Sample(elapsed, await asyncio.to_thread(scrape, base))
            out(timeline_row(now, previous, smtp.up))
            previous = now

    await asyncio.gather(*(send_loop(c) for c in senders), *(drain(c) for c in recipients), watch())
    for client in senders + recipients:
        await client.close()

    # Let the worker work the backlog off, then take the last readings.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        last = Sample(time.monotonic() - start, await asyncio.to_thread(scrape, base))
        if last.get("linkup_retry_queue_backlog") == 0:
            break
        await asyncio.sleep(1)
    out(timeline_row(last, previous, True) + "   (after the run)")
    queued = last.total("linkup_notification_deliveries_total", method="email", outcome="queued") - first.total(
        "linkup_notification_deliveries_total", method="email", outcome="queued"
    )
    # Each notification's email carries its message's (unique) content first.
    bodies = [m.get_payload().splitlines()[0] for m in inbox.messages]
    console = await asyncio.to_thread(admin_console, base, config.password)
    health = await asyncio.to_thread(_json, f"{base}/healthz")
    result = {
        "acked": acked,
        "emails_queued": int(queued),
        "emails_in_smtp_inbox": len(bodies),
        "emails_lost": int(queued) - len(set(bodies)),
        "emails_duplicated": len(bodies) - len(set(bodies)),
        "retries": {
            outcome: int(last.total("linkup_retries_total", operation="notification.email", outcome=outcome))
            for outcome in ("retried", "recovered", "exhausted")
        },
        "breaker_transitions": {
            to: int(last.total("linkup_circuit_breaker_transitions_total", name="smtp", to=to))
            for to in ("open", "half_open", "closed")
        },
        "delivery_p99_ms": (histogram_quantile(last, first, "linkup_message_delivery_seconds", 0.99) or 0) * 1000,
        "admin_error_counts": console,
        "healthz": health,
    }
    out(
        f"emails: {result['emails_queued']} queued, {result['emails_in_smtp_inbox']} in the SMTP inbox, "
        f"{result['emails_lost']} lost, {result['emails_duplicated']} duplicated; email retries {result['retries']}; "
        f"SMTP breaker transitions {result['breaker_transitions']}; delivery p99 <= {result['delivery_p99_ms']:.0f} ms"
    )
    out(
        "admin console, errors by category (last hour): "
        + ", ".join(f"{category} {count}" for category, count in console.items())
    )
    out(f"healthz: {health}")
    return result


def admin_console(base_url: str, password: str) -> dict[str, int]:
    """The admin's error counts per category for the last hour, read from the page an operator sees."""
    cookie = login(base_url, "admin", password)
    request = urllib.request.Request(f"{base_url}/admin/messaging/messagingerror/", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        page = response.read().decode()
    rows = re.findall(r'category__exact=(\w+)">[^<]*</a></td>\s*<td>(\d+)</td>', page)
    return {category: int(count) for category, count in rows if int(count)}


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())
