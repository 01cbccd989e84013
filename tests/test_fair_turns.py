"""The database thread's turns go round robin between users (``messaging/guards/fair_turns.py``).

Each test drives :class:`FairTurns` directly on the test's event loop: the
order in which callers are let through is the behaviour, not any timing.
"""

from __future__ import annotations

import asyncio
import contextvars

from messaging.guards.fair_turns import FairTurns, act_for, shared_context


async def caller(turns: FairTurns, subject: object, name: str, order: list[str], release: asyncio.Event) -> None:
    act_for(subject)
    await turns.acquire()
    order.append(name)
    await release.wait()
    turns.release()


async def start(turns: FairTurns, subject: object, name: str, order: list[str], release: asyncio.Event) -> asyncio.Task:
    task = asyncio.create_task(caller(turns, subject, name, order, release), context=contextvars.Context())
    await asyncio.sleep(0)  # queued in this order
    return task


async def test_one_users_backlog_delays_another_users_call_by_one_call_at_most() -> None:
    turns = FairTurns(depth=1)
    order: list[str] = []
    go = asyncio.Event()
    go.set()
    hold = asyncio.Event()
    holder = await start(turns, "flooder", "running", order, hold)
    tasks = [await start(turns, "flooder", f"flood{i}", order, go) for i in range(3)]
    tasks.append(await start(turns, "honest", "honest", order, go))
    hold.set()
    await asyncio.gather(holder, *tasks)
    assert order == ["running", "flood0", "honest", "flood1", "flood2"]


async def test_each_users_calls_keep_their_order_and_the_round_visits_every_user() -> None:
    turns = FairTurns(depth=1)
    order: list[str] = []
    go = asyncio.Event()
    go.set()
    hold = asyncio.Event()
    holder = await start(turns, None, "running", order, hold)
    tasks = [await start(turns, user, f"{user}{i}", order, go) for user in ("a", "b", "c") for i in range(2)]
    hold.set()
    await asyncio.gather(holder, *tasks)
    assert order == ["running", "a0", "b0", "c0", "a1", "b1", "c1"]


async def test_depth_calls_go_in_at_once_and_the_next_waits() -> None:
    turns = FairTurns(depth=2)
    order: list[str] = []
    hold = asyncio.Event()
    tasks = [await start(turns, "u", f"c{i}", order, hold) for i in range(3)]
    assert order == ["c0", "c1"]
    hold.set()
    await asyncio.gather(*tasks)
    assert order == ["c0", "c1", "c2"] and turns.running == 0


async def test_a_caller_cancelled_while_waiting_leaves_no_turn_behind() -> None:
    turns = FairTurns(depth=1)
    order: list[str] = []
    hold = asyncio.Event()
    holder = await start(turns, "u", "running", order, hold)
    gone = await start(turns, "v", "gone", order, hold)
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    hold.set()
    await holder
    go = asyncio.Event()
    go.set()
    await (await start(turns, "w", "after", order, go))
    assert order == ["running", "after"] and turns.running == 0 and not turns.waiting


def test_a_shared_context_takes_the_shared_lane_whoever_made_it() -> None:
    from messaging.guards import fair_turns

    def inside() -> object:
        act_for(42)
        return shared_context().run(fair_turns.acting_for)

    assert contextvars.Context().run(inside) is None
