"""Threads that run blocking SQLite calls for the event loop.

Unlike run_in_executor, which wakes the loop once per finished call, a lane hands results back
in batches: a thread takes every call waiting when it wakes, runs them, and wakes each loop once
for all of their results. Under load one wake-up (a system call and a context switch, costly
on a virtual machine) serves many calls; idle, a call costs what it did."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
MAX_BATCH = 64

_Item = tuple[Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]
_Outcome = tuple["asyncio.Future[Any]", bool, Any]


def _deliver(outcomes: list[_Outcome]) -> None:
    for future, ok, value in outcomes:
        if future.done():  # its awaiter was cancelled meanwhile
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class ThreadLane:
    def __init__(self, threads: int, name: str):
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, future, loop))
        return await future

    async def close(self, wait_s: float | None = None) -> None:
        """Runs what was already handed over, then ends the threads. `wait_s`: how long to wait
        for each, where a call may never return (a thread still in one is left to end with the
        process: they are daemon threads)."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, wait_s)

    def _work(self) -> None:
        while self._run_batch(self._take_batch()):
            pass

    def _take_batch(self) -> list[_Item | None]:
        """Every call waiting when the thread wakes (up to MAX_BATCH); blocks for the first."""
        batch = [self._queue.get()]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run_batch(self, batch: list[_Item | None]) -> bool:
        """Runs a batch and hands its results back; False once the thread is to stop. Its own
        function so that nothing of a batch (its results) stays referenced while the thread
        waits for the next one."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        stops = batch.count(None)
        for _ in range(stops - 1):
            self._queue.put(None)  # one stop a thread: the others' go back
        for item in batch:
            if item is None:
                continue
            fn, future, loop = item
            try:
                outcome: _Outcome = (future, True, fn())
            except BaseException as exc:  # handed to the awaiter, whatever it is
                outcome = (future, False, exc)
            by_loop.setdefault(loop, []).append(outcome)
        for loop, outcomes in by_loop.items():
            # RuntimeError: that loop is closed, no one is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_deliver, outcomes)
        return stops == 0
