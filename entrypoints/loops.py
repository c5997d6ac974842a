"""The event loop `serve` runs on (PIPELINE_EVENT_LOOP): uvloop where it is installed (a
dependency wherever it builds: Linux, macOS), the standard library's asyncio loop otherwise or
when asked for. A webhook wakes the loop several times (its body, its commit, its answer), and
uvloop does that bookkeeping in C: about a fifth less CPU a webhook than the standard loop. The
benchmark's hello-world reference runs on the same loop, chosen the same way."""

from __future__ import annotations

import asyncio
import importlib

from entrypoints.config_urls import ConfigError

LOOPS = ("auto", "uvloop", "asyncio")


def loop_name(choice: str) -> str:
    """The loop `choice` gives on this machine: uvloop or asyncio. ConfigError if uvloop was
    asked for and is not installed."""
    if choice not in LOOPS:
        raise ConfigError(f"PIPELINE_EVENT_LOOP: {choice!r} is not one of {', '.join(LOOPS)}")
    if choice == "asyncio":
        return "asyncio"
    try:
        importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise ConfigError("PIPELINE_EVENT_LOOP: uvloop is not installed") from None
        return "asyncio"
    return "uvloop"


def new_event_loop(choice: str = "auto") -> asyncio.AbstractEventLoop:
    """A new loop of the kind `choice` gives (loop_name)."""
    if loop_name(choice) == "uvloop":
        uvloop = importlib.import_module("uvloop")
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
    return asyncio.new_event_loop()
