"""The embedded default's channel layer (messaging/pubsub/layers.py): its group send puts events directly."""

from __future__ import annotations

import pytest

from messaging.pubsub.layers import InMemoryChannelLayer

pytestmark = pytest.mark.stack_independent


async def test_a_group_event_reaches_every_member_channel_as_a_copy_of_its_own():
    layer = InMemoryChannelLayer(capacity=10)
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("conversation.1", channel)
    event = {"type": "conversation.event", "text": '{"type":"event"}', "seq": 7, "target_seq": None}
    await layer.group_send("conversation.1", event)
    received = [await layer.receive(channel) for channel in channels]
    assert received == [event] * 3
    received[0]["seq"] = 8
    assert event["seq"] == 7 and received[1]["seq"] == 7


async def test_a_group_event_holding_a_list_is_deep_copied_for_each_member():
    layer = InMemoryChannelLayer(capacity=10)
    channels = [await layer.new_channel() for _ in range(2)]
    for channel in channels:
        await layer.group_add("conversation.1", channel)
    event = {"type": "conversation.receipts", "receipts": [{"user_id": 1, "read_seq": 3}]}
    await layer.group_send("conversation.1", event)
    first, second = [await layer.receive(channel) for channel in channels]
    first["receipts"][0]["read_seq"] = 99
    assert second["receipts"][0]["read_seq"] == 3
    assert event["receipts"][0]["read_seq"] == 3


async def test_a_full_channel_misses_a_group_event_and_the_other_members_still_get_it():
    layer = InMemoryChannelLayer(capacity=1)
    full, free = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("conversation.1", full)
    await layer.group_add("conversation.1", free)
    await layer.send(full, {"type": "first"})
    await layer.group_send("conversation.1", {"type": "second"})
    assert await layer.receive(full) == {"type": "first"}
    assert await layer.receive(free) == {"type": "second"}
    assert full not in layer.channels  # nothing more was queued for it


async def test_a_group_with_no_members_sends_nothing():
    layer = InMemoryChannelLayer(capacity=1)
    await layer.group_send("conversation.404", {"type": "x"})
    assert layer.channels == {}
