"""/metrics scraped over HTTP from a running daphne moves as the behaviour it counts happens."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.wsclient import ChatClient, login

from .conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def scrape(base_url: str, token: str | None = None) -> dict[tuple[str, tuple], float]:
    request = urllib.request.Request(f"{base_url}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, metric: str, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


def test_sending_a_message_moves_the_counters_and_the_latency_histogram(server_env_factory, start_daphne) -> None:
    server = start_daphne(server_env_factory(MESSAGING_METRICS_TOKEN="s3cret"))
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(server.base_url)
    assert refused.value.code == 401

    async def scenario() -> dict:
        alice = ChatClient(server.base_url, login(server.base_url, "alice", PASSWORD), "bob")
        bob = ChatClient(server.base_url, login(server.base_url, "bob", PASSWORD), "alice")
        await alice.connect()
        await bob.connect()
        before = scrape(server.base_url, "s3cret")
        await alice.send({"type": "message", "content": "counted", "client_id": uuid.uuid4().hex})
        await alice.expect("ack")
        await bob.expect("message")
        await alice.expect("status")  # delivered: the recipient's socket has it
        await alice.socket.send("not json")
        await alice.expect("error")
        # The bad frame is recorded just after its error frame is sent; the
        # socket handles frames in order, so the pong comes after the record.
        await alice.send({"type": "ping"})
        await alice.expect("pong")
        after = scrape(server.base_url, "s3cret")
        await alice.close()
        await bob.close()
        return {"before": before, "after": after}

    seen = asyncio.run(scenario())
    before, after = seen["before"], seen["after"]

    def moved(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    print(
        "moved:",
        {
            "messages_stored": moved("linkup_messages_stored_total"),
            "delivery_latency_count": moved("linkup_message_delivery_seconds_count"),
            "frames message": moved("linkup_frames_received_total", consumer="chat", type="message"),
            "error frames invalid_json": moved("linkup_error_frames_total", code="invalid_json"),
        },
    )
    assert moved("linkup_messages_stored_total") == 1
    assert moved("linkup_message_delivery_seconds_count") == 1
    assert moved("linkup_message_delivery_seconds_sum") > 0
    assert moved("linkup_frames_received_total", consumer="chat", type="message") == 1
    assert moved("linkup_error_frames_total", code="invalid_json") == 1
    assert moved("linkup_messaging_errors_total", category="validation_error") == 1
    assert value(before, "linkup_open_sockets", consumer="chat") == 2
    assert value(after, "linkup_circuit_breaker_state", name="smtp") == 0
