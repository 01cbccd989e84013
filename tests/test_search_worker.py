"""The search worker's pacing and its lag log: every queued message indexed, and the lag read back as logged."""

from __future__ import annotations

from typing import Any

import pytest

from bench.server import search_worker_lag
from messaging.management.commands.search_index import pass_line
from messaging.models import SearchEntry, SearchQueue
from messaging.store.search import index

from .groups import make_group
from .test_search_visibility import send

pytestmark = pytest.mark.django_db(transaction=True)


def test_draining_with_a_pause_between_batches_indexes_every_queued_message(alice: Any, bob: Any) -> None:
    group = make_group(alice, [bob])
    for n in range(7):
        send(alice, group, f"paced {n}")
    assert SearchQueue.objects.count() >= 7
    assert index.drain_all(batch=2, pause=0.01) >= 7
    assert SearchQueue.objects.count() == 0
    assert SearchEntry.objects.filter(text__contains="paced").count() == 7


def test_the_benchmark_reads_back_the_lag_the_worker_logs() -> None:
    log = "\n".join(
        [
            "starting",
            pass_line(200, 0.12, 1.5),
            "search index: 0 queued message(s) indexed",
            pass_line(1000, 0.6, 0.75),
            pass_line(5, 0.01, 3.25),
        ]
    )
    assert search_worker_lag(log) == {"passes": 3, "indexed": 1205, "max_wait_s": 3.25, "median_wait_s": 1.5}
    assert search_worker_lag("search index: 0 queued message(s) indexed") is None
