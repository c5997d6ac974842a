"""How the intake benchmark judges its runs: each server at the best of its closed loops, the
ceiling the higher of the two hello-world measurements, a failure in any loop failing the share."""

from __future__ import annotations

from typing import Any

import attrs

from bench.intake import HELLO, HELLO_AGAIN, SATURATION, ServerRun, _checks
from bench.loadgen import PhaseResult


def phase(name: str, per_second: float, seconds: float, **changes: Any) -> PhaseResult:
    """A phase that answered `per_second` for `seconds`, with `changes` made to it."""
    ok = int(per_second * seconds)
    made = PhaseResult(
        name=name,
        mode="closed",
        offered_rps=None,
        connections=None,
        sent=ok,
        ok=ok,
        failed=0,
        elapsed_s=seconds,
        p50_ms=1.0,
        p90_ms=2.0,
        p99_ms=3.0,
        max_ms=4.0,
        client_cpu=0.5,
        server_cpu=1.0,
        statuses={"202": ok},
    )
    return attrs.evolve(made, **changes)


def closed(connections: int, per_second: float, failed: int = 0) -> PhaseResult:
    ok = int(per_second * 4.0)
    return phase(
        SATURATION, per_second, 4.0, connections=connections, failed=failed, sent=ok + failed
    )


def at_1000(p99_ms: float = 6.0) -> PhaseResult:
    return phase(
        "1000/s", 1000.0, 6.0, mode="open", offered_rps=1000.0, p99_ms=p99_ms, max_ms=p99_ms
    )


def hello(label: str, *per_second: float) -> ServerRun:
    loops = tuple(closed(n, rate) for n, rate in zip((32, 64, 128), per_second, strict=True))
    return ServerRun(label, "bench/hello.py", (at_1000(2.0), *loops))


def share_check(runs: list[ServerRun]) -> tuple[float, bool, str]:
    check = next(c for c in _checks(runs) if c.figure.startswith("saturation"))
    return check.measured, check.passed, check.baseline_note


def test_each_server_is_taken_at_its_best_closed_loop() -> None:
    service = ServerRun(
        "service FULL", "db", (at_1000(), closed(32, 3000), closed(64, 3600), closed(128, 3500))
    )
    runs = [hello(HELLO, 10_000, 12_000, 11_000), service, hello(HELLO_AGAIN, 9_000, 9_500, 9_900)]

    assert service.saturation.connections == 64
    share, passed, note = share_check(runs)
    assert share == 30.0  # 3,600 of 12,000: neither 3,000 of 10,000 nor of the lower hello
    assert passed
    assert "3,600 req/s at 64 conns" in note
    assert "12,000 (64 conns)" in note
    assert "9,900 (128 conns)" in note


def test_the_ceiling_is_the_higher_hello_world_measurement() -> None:
    service = ServerRun("service FULL", "db", (at_1000(), closed(32, 3000)))
    runs = [hello(HELLO, 8_000, 9_000, 9_500), service, hello(HELLO_AGAIN, 9_000, 11_000, 10_000)]

    share, passed, _ = share_check(runs)

    assert round(share, 2) == 27.27  # 3,000 of 11,000
    assert not passed


def test_a_failed_request_in_any_closed_loop_fails_the_share() -> None:
    # The best loop had no failure; the 32-connection one had one: the figure does not stand.
    service = ServerRun(
        "service FULL", "db", (at_1000(), closed(32, 3000, failed=1), closed(64, 4000))
    )
    runs = [hello(HELLO, 10_000, 10_000, 10_000), service]

    share, passed, _ = share_check(runs)

    assert share == 40.0
    assert not passed
