"""ThreadLane, the threads SQLite's blocking calls run on: every call's result or error comes
back to its own awaiter, a cancelled awaiter harms no one, close() finishes what was handed
over, and results ready together reach the loop together."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from functools import partial

import pytest

from adapters.sqlite.threads import ThreadLane


async def test_each_awaiter_gets_its_own_result_or_error() -> None:
    lane = ThreadLane(2, "test")
    try:

        def fails() -> int:
            raise ValueError("boom")

        results = await asyncio.gather(
            *(lane.run(partial(pow, n, 2)) for n in range(200)),
            lane.run(fails),
            return_exceptions=True,
        )
    finally:
        await lane.close()

    assert results[:200] == [n * n for n in range(200)]
    assert isinstance(results[200], ValueError)
    assert str(results[200]) == "boom"


async def test_the_calls_run_off_the_event_loop_thread() -> None:
    lane = ThreadLane(1, "test")
    try:
        ran_on = await lane.run(threading.get_ident)
    finally:
        await lane.close()
    assert ran_on != threading.get_ident()


async def test_a_cancelled_awaiter_does_not_disturb_the_others() -> None:
    lane = ThreadLane(1, "test")
    started = threading.Event()
    try:

        def slow() -> str:
            started.set()
            time.sleep(0.2)
            return "slow"

        first = asyncio.ensure_future(lane.run(slow))
        await asyncio.to_thread(started.wait, 5)
        second = asyncio.ensure_future(lane.run(lambda: "second"))
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await second == "second"
    finally:
        await lane.close()


async def test_close_finishes_what_was_handed_over() -> None:
    lane = ThreadLane(2, "test")
    done: list[int] = []

    def work(n: int) -> None:
        time.sleep(0.01)
        done.append(n)

    pending = [asyncio.ensure_future(lane.run(partial(work, n))) for n in range(20)]
    await asyncio.sleep(0)  # handed over
    await lane.close()

    await asyncio.gather(*pending)
    assert sorted(done) == list(range(20))


async def test_results_ready_together_wake_the_loop_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    wakeups = 0
    original = loop.call_soon_threadsafe

    def counting(*args: object, **kwargs: object) -> asyncio.Handle:
        nonlocal wakeups
        wakeups += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    lane = ThreadLane(1, "test")
    gate = threading.Event()
    try:
        blocker = asyncio.ensure_future(lane.run(lambda: gate.wait(5)))
        await asyncio.sleep(0.05)  # the thread is busy: the next calls queue up behind it
        queued = [asyncio.ensure_future(lane.run(partial(int, n))) for n in range(50)]
        await asyncio.sleep(0)
        before = wakeups
        gate.set()
        assert await blocker is True
        assert await asyncio.gather(*queued) == list(range(50))
        woken = wakeups - before
    finally:
        await lane.close()

    # One wake-up for the blocker's result, one for the 50 calls queued behind it together.
    assert woken == 2


async def test_a_result_is_not_kept_by_the_thread_once_handed_back() -> None:
    """An idle thread holds nothing of its last batch: a read's rows (a whole call) would
    otherwise stay in memory until the next call on that thread, however long that is."""

    class Rows:
        pass

    lane = ThreadLane(1, "test")
    try:
        rows = await lane.run(Rows)
        handed_back = weakref.ref(rows)
        del rows
        await asyncio.sleep(0.05)  # the thread is waiting for its next batch
        gc.collect()
        assert handed_back() is None, "the thread still holds the result"
    finally:
        await lane.close()
