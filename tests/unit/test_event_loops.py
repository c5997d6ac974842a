"""PIPELINE_EVENT_LOOP: which loop `serve` (and the intake benchmark's hello-world) runs on."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from entrypoints.config import ConfigError, load_settings
from entrypoints.loops import loop_name, new_event_loop


def run_on(loop: asyncio.AbstractEventLoop) -> type[asyncio.AbstractEventLoop]:
    """The type of the loop a coroutine actually runs on, once it has run there."""

    async def which() -> type[asyncio.AbstractEventLoop]:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    try:
        return loop.run_until_complete(which())
    finally:
        loop.close()


def test_by_default_serve_runs_on_uvloop_where_it_is_installed() -> None:
    assert load_settings({}).event_loop == "auto"
    assert loop_name("auto") == "uvloop"
    assert issubclass(run_on(new_event_loop("auto")), uvloop.Loop)
    assert issubclass(run_on(new_event_loop("uvloop")), uvloop.Loop)


def test_asyncio_is_there_for_the_asking() -> None:
    loop_type = run_on(new_event_loop("asyncio"))
    assert not issubclass(loop_type, uvloop.Loop)
    assert issubclass(loop_type, asyncio.BaseEventLoop)


def test_without_uvloop_auto_falls_back_and_asking_for_it_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what an import finds where it is missing
    assert loop_name("auto") == "asyncio"
    assert not issubclass(run_on(new_event_loop("auto")), uvloop.Loop)
    with pytest.raises(ConfigError, match="PIPELINE_EVENT_LOOP: uvloop is not installed"):
        new_event_loop("uvloop")


def test_an_unknown_loop_is_refused_when_settings_are_read() -> None:
    with pytest.raises(ConfigError, match="PIPELINE_EVENT_LOOP: 'tokio' is not one of"):
        load_settings({"PIPELINE_EVENT_LOOP": "tokio"})
    assert load_settings({"PIPELINE_EVENT_LOOP": " AsyncIO "}).event_loop == "asyncio"
