"""The trace headers a job carries are written directly (inject_default), not by the
propagators: for every span context they must be exactly what the propagators write."""

from __future__ import annotations

import asyncio
import io

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from adapters.otel.tracing import (
    current_span_context,
    inject_default,
    setup_tracing,
    trace_propagator,
)

_KEYS = st.from_regex(r"[a-z][a-z0-9_\-*/]{0,15}", fullmatch=True)
_VALUES = st.from_regex(r"[!-+\--<>-~]{1,16}", fullmatch=True)  # printable, no ',' or '='


def _propagators(context: SpanContext) -> dict[str, str]:
    carrier: dict[str, str] = {}
    trace_propagator().inject(carrier, trace.set_span_in_context(NonRecordingSpan(context)))
    return carrier


@given(
    trace_id=st.integers(0, 2**128 - 1),
    span_id=st.integers(0, 2**64 - 1),
    flags=st.integers(0, 255),
    remote=st.booleans(),
    state=st.lists(st.tuples(_KEYS, _VALUES), max_size=3, unique_by=lambda kv: kv[0]),
)
def test_the_headers_are_the_propagators_for_any_context(
    trace_id: int, span_id: int, flags: int, remote: bool, state: list[tuple[str, str]]
) -> None:
    context = SpanContext(trace_id, span_id, remote, TraceFlags(flags), TraceState(state))
    written = inject_default(context)
    expected = _propagators(context)
    assert written == expected
    assert list(written) == list(expected)  # in the same order, too


def test_no_span_means_no_headers() -> None:
    assert (
        inject_default(trace.INVALID_SPAN_CONTEXT) == {} == _propagators(trace.INVALID_SPAN_CONTEXT)
    )


def test_the_tracer_carries_its_current_span_in_them() -> None:
    tracer = setup_tracing("none")
    assert tracer.inject() == {}
    with tracer.span("accept_webhook"):
        context = trace.get_current_span().get_span_context()
        carrier = tracer.inject()
    assert carrier == _propagators(context)
    assert carrier["traceparent"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    )


def test_the_current_span_context_is_the_apis_wherever_it_is_read() -> None:
    """current_span_context() reads the context directly (five times a webhook): it must give
    what trace.get_current_span() gives, outside a span, inside one, inside one continued from
    headers, and inside a recording span."""
    none, console = setup_tracing("none"), setup_tracing("console", console=io.StringIO())
    seen = [current_span_context()]
    with none.span("webhook"):
        seen.append(current_span_context())
        assert seen[-1] == trace.get_current_span().get_span_context()
        assert seen[-1].is_valid
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with none.extract(headers):
        continued = current_span_context()
        assert continued == trace.get_current_span().get_span_context()
        assert continued.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    try:
        with console.span("recorded"):
            recorded = current_span_context()
            assert recorded == trace.get_current_span().get_span_context()
            assert recorded.is_valid
            assert recorded.trace_flags.sampled
    finally:
        asyncio.run(console.aclose())
    assert seen[0] == trace.INVALID_SPAN_CONTEXT == current_span_context()
