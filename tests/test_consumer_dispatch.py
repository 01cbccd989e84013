"""A socket's messages, one at a time, without a task per message (messaging/realtime/dispatch.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.exceptions import StopConsumer

from messaging.realtime.dispatch import dispatch_in_order


def source_of(queue: asyncio.Queue[Any], reads: list[int] | None = None) -> Any:
    async def read() -> Any:
        if reads is not None:
            reads.append(1)
        return await queue.get()

    return read


async def test_messages_of_both_sources_are_dispatched_in_arrival_order_each_finished_before_the_next() -> None:
    client, layer = asyncio.Queue(), asyncio.Queue()
    log: list[str] = []

    async def dispatch(message: str) -> None:
        log.append(f"start {message}")
        await asyncio.sleep(0.02)  # longer than between arrivals: the next ones wait for it
        log.append(f"end {message}")
        if message == "last":
            raise StopConsumer

    running = asyncio.ensure_future(_expect_stop(dispatch_in_order([source_of(client), source_of(layer)], dispatch)))
    for queue, message in ((client, "frame 1"), (layer, "event 1"), (client, "frame 2"), (layer, "last")):
        queue.put_nowait(message)
        await asyncio.sleep(0.005)  # in this order, while the first ones are still being dispatched
    await asyncio.wait_for(running, 2)
    assert log == [
        "start frame 1",
        "end frame 1",
        "start event 1",
        "end event 1",
        "start frame 2",
        "end frame 2",
        "start last",
        "end last",
    ]


async def _expect_stop(work: Any) -> None:
    with pytest.raises(StopConsumer):
        await work


async def test_a_failing_source_ends_the_dispatch_with_its_error() -> None:
    async def broken() -> Any:
        raise ConnectionError("the channel layer went away")

    async def dispatch(message: Any) -> None:
        raise AssertionError("nothing to dispatch")

    with pytest.raises(ConnectionError, match="went away"):
        await asyncio.wait_for(dispatch_in_order([source_of(asyncio.Queue()), broken], dispatch), 2)


async def test_when_the_dispatch_stops_no_reader_is_left_running() -> None:
    client, layer = asyncio.Queue(), asyncio.Queue()
    before = asyncio.all_tasks()

    async def dispatch(message: Any) -> None:
        raise StopConsumer

    client.put_nowait("close")
    await _expect_stop(dispatch_in_order([source_of(client), source_of(layer)], dispatch))
    assert asyncio.all_tasks() == before


async def test_cancelling_the_socket_task_cancels_its_readers() -> None:
    client, layer = asyncio.Queue(), asyncio.Queue()
    before = asyncio.all_tasks()

    async def dispatch(message: Any) -> None:
        pass

    task = asyncio.ensure_future(dispatch_in_order([source_of(client), source_of(layer)], dispatch))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == before


async def test_a_source_is_read_again_only_once_its_last_message_was_dispatched() -> None:
    client: asyncio.Queue[int] = asyncio.Queue()
    for n in range(10):
        client.put_nowait(n)
    reads: list[int] = []
    release = asyncio.Event()

    async def dispatch(message: int) -> None:
        await release.wait()  # the first message's handler is still running

    task = asyncio.ensure_future(dispatch_in_order([source_of(client, reads)], dispatch))
    await asyncio.sleep(0.05)
    assert client.qsize() == 9 and len(reads) == 1  # the rest waits in the source (daphne's queue, the layer's)
    release.set()
    await asyncio.sleep(0.05)
    assert client.qsize() == 0 and len(reads) == 11  # then every one, and the reader waits for the next
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
