"""How the intake benchmark judges its runs: in each round a server's closed loop as a share of
the hello-world's in the same round, the verdict on the median round, a failure in any round
failing the share."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from bench.intake import HELLO, SATURATION, ServerRun, _checks
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


def server(label: str, *rounds: float, failed_in: int | None = None) -> ServerRun:
    """A server whose closed loop made `rounds[r]` req/s in round r (at 64 connections, then
    128, in turn), with one failed request in round `failed_in` (from 0)."""
    loops = tuple(
        closed((64, 128)[r % 2], rate, failed=int(r == failed_in)) for r, rate in enumerate(rounds)
    )
    return ServerRun(label, "bench/hello.py" if label == HELLO else "db", (at_1000(),), loops)


def share_check(runs: list[ServerRun]) -> tuple[float, bool, str]:
    check = next(c for c in _checks(runs) if c.figure.startswith("saturation"))
    return check.measured, check.passed, check.baseline_note


def test_each_round_is_taken_against_the_hello_world_of_that_round() -> None:
    # The hello-world was fast in round 1 and slow in round 2, and so was the service: each
    # round's share is of its own round's hello-world, not of the best one of the run.
    hello = server(HELLO, 12_000, 8_000, 10_000)
    service = server("service FULL", 3_840, 2_640, 3_100)

    share, passed, note = share_check([hello, service])

    assert share == pytest.approx(32.0)  # rounds 32.0 / 33.0 / 31.0 %: the median, round 1
    assert passed
    assert "median of 3 rounds (32.0 / 33.0 / 31.0 %)" in note
    assert "round 1 (64 conns): 3,840 req/s, hello-world 12,000 req/s" in note


def test_one_slow_round_does_not_decide_the_verdict_and_two_do() -> None:
    hello = server(HELLO, 10_000, 10_000, 10_000)
    one_slow = server("service FULL", 2_400, 3_200, 3_300)
    two_slow = server("service FULL", 2_400, 2_900, 3_300)

    share, passed, _ = share_check([hello, one_slow])
    assert share == pytest.approx(32.0)
    assert passed
    share, passed, _ = share_check([hello, two_slow])
    assert share == pytest.approx(29.0)
    assert not passed


def test_one_fast_round_does_not_decide_the_verdict() -> None:
    # The service alone in a fast phase once (or the hello-world alone in a slow one).
    hello = server(HELLO, 10_000, 10_000, 10_000, 10_000, 10_000)
    service = server("service FULL", 2_800, 4_500, 2_900, 2_700, 3_100)

    share, passed, note = share_check([hello, service])

    assert share == pytest.approx(29.0)
    assert not passed
    assert "round 3 (64 conns): 2,900 req/s" in note


def test_with_an_even_count_of_rounds_the_lower_middle_one_counts() -> None:
    hello = server(HELLO, 10_000, 10_000)
    service = server("service FULL", 3_300, 2_900)

    share, passed, note = share_check([hello, service])

    assert share == pytest.approx(29.0)
    assert not passed
    assert "round 2 (128 conns): 2,900 req/s" in note


def test_a_failed_request_in_any_round_fails_the_share() -> None:
    # The median round had no failure; round 3, above the median, had one.
    hello = server(HELLO, 10_000, 10_000, 10_000)
    service = server("service FULL", 3_200, 3_100, 4_000, failed_in=2)

    share, passed, _ = share_check([hello, service])

    assert share == pytest.approx(32.0)  # it would pass without the failure
    assert not passed
