"""The growth benchmark (bench/growth_bench.py) runs on the suite's stack, and its corpus has the long tail's far end."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.db.models import F

from bench.corpus import CorpusOptions, CorpusWriter
from bench.growth_bench import OPERATIONS
from messaging.models import Conversation, Notification, Participant


@pytest.mark.django_db(transaction=True)
def test_the_corpus_puts_the_hub_in_its_conversations_and_leaves_one_member_the_whole_backlog_unread() -> None:
    options = CorpusOptions(users=40, conversations=120, messages=400, hub_conversations=90, backlog=150, seed=5)
    writer = CorpusWriter(options)
    written = writer.run()
    hub = Participant.objects.values("user_id").order_by("user_id")[0]["user_id"]
    assert Participant.objects.filter(user_id=hub).count() >= 90, "the hub is in every conversation it was given"
    direct_peers = Participant.objects.filter(
        conversation__kind=Conversation.Kind.DIRECT, conversation__participants__user_id=hub
    ).exclude(user_id=hub)
    assert direct_peers.count() == direct_peers.values("user_id").distinct().count(), "one direct conversation a pair"
    assert written.messages == 550
    backlog = Conversation.objects.filter(kind=Conversation.Kind.DIRECT).order_by("-pk")[0]
    behind = Participant.objects.filter(conversation=backlog).order_by("read_seq")[0]
    assert backlog.last_seq - behind.read_seq >= 150
    assert behind.delivered_seq == behind.read_seq
    assert Notification.objects.get(user_id=behind.user_id, group_key=f"conversation:{backlog.pk}").count == (
        backlog.last_seq - behind.read_seq
    )
    assert not Participant.objects.filter(read_seq__gt=F("delivered_seq")).exists()


@pytest.mark.slow
def test_bench_growth_prints_every_operation_at_every_size_with_its_query_count_and_ratio(tmp_path) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "bench_growth",
        "--sizes",
        "300,1000",
        "--runs",
        "2",
        "--archive-runs",
        "2",
        "--users",
        "40",
        "--conversations",
        "120",
        "--hub-conversations",
        "60",
        "--backlog",
        "100",
        "--contacts",
        "20",
        "--plot",
        str(tmp_path),
        stdout=out,
        stderr=err,
    )
    # --plot kept both sizes' figures and drew the growth chart from them.
    assert len(list((tmp_path / "growth").glob("growth-*-*.json"))) == 2
    assert (tmp_path / "growth.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    lines = out.getvalue().splitlines()
    assert any(line.startswith("300 (") for line in lines) and any(line.startswith("1k (") for line in lines)
    cell = r"(\d+\.\d\d) / (\d+\.\d\d) \((\d+)\)"
    for operation in OPERATIONS:
        row = next(line for line in lines if line.startswith(operation + "  "))
        found = re.fullmatch(rf"{re.escape(operation)}\s+{cell}\s+{cell}\s+(\d+\.\d\dx( > 2x)?|n/a)", row)
        assert found, row
        assert int(found.group(3)) >= 1 and int(found.group(6)) >= 1, (
            "each operation ran queries, and they were counted"
        )
    assert any("100 after seq" in line and "missed" in line for line in lines), "sync reads after the backlog's cursor"
    # and the process's CPU time of each, which a loaded machine's waits for a core do not inflate
    cpu_at = next(n for n, line in enumerate(lines) if line.startswith("This process's CPU time"))
    for operation in OPERATIONS[:-1]:
        row = next(line for line in lines[cpu_at:] if line.startswith(operation + "  "))
        found = re.fullmatch(rf"{re.escape(operation)}\s+(\d+\.\d\d)\s+(\d+\.\d\d)\s+\d+\.\d\dx", row)
        assert found and float(found.group(1)) > 0 and float(found.group(2)) > 0, row
