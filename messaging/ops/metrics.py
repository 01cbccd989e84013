"""Prometheus metrics of the messaging system, served at ``/metrics``.

Several daphne processes on one host share one view through
prometheus-client's multiprocess mode: set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty directory (the same for every process of the host, emptied at deploy)
before the processes start, and ``/metrics`` on any of them reports the sum
over all of them. Without it, ``/metrics`` reports the one process that
answers, which is all there is on the embedded default. Across hosts,
Prometheus scrapes each host.

Everything here is cheap enough for the hot path: a counter increment is a
lock and an addition (a memory-mapped write in multiprocess mode).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

OPEN_SOCKETS = Gauge("linkup_open_sockets", "Open WebSocket connections", ["consumer"], multiprocess_mode="livesum")
FRAMES_RECEIVED = Counter(
    "linkup_frames_received",
    "Frames received from clients, by frame type ('invalid' if unparseable)",
    ["consumer", "type"],
)


@functools.lru_cache(maxsize=256)
def frames_received(consumer: str, frame_type: str) -> Counter:
    """``FRAMES_RECEIVED``'s counter of one consumer and frame type, looked up once (``labels()`` takes a lock per call)."""
    return FRAMES_RECEIVED.labels(consumer, frame_type)


MESSAGES_STORED = Counter("linkup_messages_stored", "Chat messages committed (repeats of a client_id excluded)")
DELIVERY_LATENCY = Histogram(
    "linkup_message_delivery_seconds",
    "From a message's commit to its hand-over to a socket of the recipient",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SOCKETS_NOT_READING = Counter(
    "linkup_sockets_not_reading",
    "Sockets closed (4408) because their client left more than MESSAGING_MAX_UNSENT_BYTES unread",
    ["endpoint"],
)
HANDSHAKES_SHED = Counter(
    "linkup_handshakes_shed",
    "WebSocket handshakes refused on arrival: MESSAGING_MAX_PENDING_HANDSHAKES were already pending in the process",
)
HANDSHAKES_LATE = Counter(
    "linkup_handshakes_late",
    "WebSocket handshakes refused because they waited over MESSAGING_HANDSHAKE_BUDGET_SECONDS to reach their consumer",
    ["consumer"],
)
WRITES_DROPPED = Counter("linkup_writes_dropped", "Queued messages taken back unwritten because their socket closed")
ERROR_FRAMES = Counter("linkup_error_frames", "Error frames sent to clients, by code", ["code"])
ACCOUNT_REFUSALS = Counter(
    "linkup_account_refusals",
    "Sign-in, sign-up and password-reset requests refused by their rate limits, by code and bucket",
    ["code", "bucket"],
)
MESSAGING_ERRORS = Counter("linkup_messaging_errors", "MessagingError records, by category", ["category"])
RETRIES = Counter(
    "linkup_retries",
    "Retry outcomes: retried (one more attempt), recovered (succeeded after retrying), "
    "exhausted (gave up), by operation",
    ["operation", "outcome"],
)
NOTIFICATION_DELIVERIES = Counter(
    "linkup_notification_deliveries",
    "Notification deliveries by method (websocket, webpush, email) and outcome",
    ["method", "outcome"],
)
WEBPUSH_SENDS = Counter(
    "linkup_webpush_sends",
    "Pushes to one browser's push service: sent (201), gone (404/410, subscription deleted), "
    "failed (429, 5xx, network, breaker open: retried), rejected (other 4xx: not retried)",
    ["outcome"],
)
LAYER_SEND_FAILURES = Counter("linkup_channel_layer_send_failures", "group_send calls the channel layer failed")
BREAKER_STATE = Gauge(
    "linkup_circuit_breaker_state",
    "Circuit breaker state per process: 0 closed, 1 half-open, 2 open",
    ["name"],
    multiprocess_mode="liveall",
)
BREAKER_TRANSITIONS = Counter("linkup_circuit_breaker_transitions", "Breaker state changes", ["name", "to"])
RETRY_BACKLOG = Gauge(
    "linkup_retry_queue_backlog",
    "Retry-queue items waiting (pending or running), measured at scrape time",
    multiprocess_mode="mostrecent",
)
RETRY_OLDEST_DUE = Gauge(
    "linkup_retry_queue_oldest_due_seconds",
    "How long the oldest due retry-queue item has been waiting, measured at scrape time",
    multiprocess_mode="mostrecent",
)

BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def registry() -> CollectorRegistry:
    """The registry to expose: every process's metrics in multiprocess mode."""
    if MULTIPROCESS:
        collected = CollectorRegistry()
        _multiprocess.MultiProcessCollector(collected)
        return collected
    from prometheus_client import REGISTRY

    return REGISTRY


def exposition() -> tuple[bytes, str]:
    return generate_latest(registry()), CONTENT_TYPE_LATEST


def breaker_states() -> list[dict[str, Any]]:
    """Every process's breakers as the metrics see them: [{"name", "pid", "state"}]."""
    names = {value: name for name, value in BREAKER_VALUES.items()}
    states = []
    for family in registry().collect():
        if family.name != "linkup_circuit_breaker_state":
            continue
        for sample in family.samples:
            states.append(
                {
                    "name": sample.labels.get("name", ""),
                    "pid": sample.labels.get("pid", str(os.getpid())),
                    "state": names.get(int(sample.value), "unknown"),
                }
            )
    return sorted(states, key=lambda s: (s["name"], s["pid"]))


def mark_dead_process(pid: int) -> None:
    """Drop a finished process's live gauges (call from the process manager)."""
    if MULTIPROCESS:
        _multiprocess.mark_process_dead(pid)
