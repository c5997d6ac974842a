"""log_fields writes an access line without logging's record machinery when it can: the line
must be what logging would have written, and any set-up it cannot honour that way (a filter,
a second handler, a level) must still be honoured."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry import trace

from adapters.otel.tracing import setup_tracing
from entrypoints.logs import SPAN_FIELD, TRACE_FIELD, JsonFormatter, log_fields, time_text

FIELDS = {"http": {"method": "POST", "path": "/v1/callrail/webhook", "status": 202}}


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger of its own, not propagating to the root, restored after. pytest attaches its
    capturing handler to such a logger as the test starts: `only` takes it off."""
    logger = logging.getLogger("test.log_lines")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def only(logger: logging.Logger, *handlers: logging.Handler) -> None:
    logger.handlers[:] = handlers


def json_handler(project: str = "") -> tuple[logging.StreamHandler[io.StringIO], io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(project))
    return handler, stream


@pytest.fixture(autouse=True)
def _record_factory() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


def records_made() -> list[logging.LogRecord]:
    """Every LogRecord made from now on (until the test ends)."""
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: object, **kwargs: object) -> logging.LogRecord:
        made.append(factory(*args, **kwargs))
        return made[-1]

    logging.setLogRecordFactory(counting)
    return made


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_line_is_the_one_logging_writes(logger: logging.Logger) -> None:
    handler, stream = json_handler("proj")
    only(logger, handler)
    made = records_made()
    with setup_tracing("none").span("POST /v1/callrail/webhook", kind="server"):
        context = trace.get_current_span().get_span_context()
        log_fields(logger, logging.INFO, "POST /v1/callrail/webhook 202", FIELDS)
        assert made == []  # written directly
        logger.info("%s", "POST /v1/callrail/webhook 202", extra=FIELDS)
        assert len(made) == 1
    direct, through_logging = lines(stream)
    assert direct.pop("time")
    assert through_logging.pop("time")
    assert direct == through_logging
    assert direct == {
        "severity": "INFO",
        "message": "POST /v1/callrail/webhook 202",
        "logger": "test.log_lines",
        TRACE_FIELD: f"projects/proj/traces/{context.trace_id:032x}",
        SPAN_FIELD: f"{context.span_id:016x}",
        "logging.googleapis.com/trace_sampled": False,
        "http": FIELDS["http"],
    }


@pytest.mark.parametrize(
    "created",
    [
        0.0,
        1_700_000_000.0,  # a whole second: no fraction written, as isoformat writes none
        1_700_000_000.5,
        1_700_000_000.9999996,  # rounds up into the next second
        1_700_000_000.0000004,  # rounds down to the whole second
        1_700_000_000.0000015,  # half to even
        -0.5,
    ],
)
def test_a_line_s_time_is_the_time_isoformat_writes(created: float) -> None:
    assert time_text(created) == datetime.fromtimestamp(created, UTC).isoformat()


def test_any_time_is_written_as_isoformat_writes_it() -> None:
    draw = random.Random(20261123)
    for created in (draw.uniform(0, 4e9) for _ in range(20_000)):
        assert time_text(created) == datetime.fromtimestamp(created, UTC).isoformat(), created


def test_a_filter_on_the_way_is_honoured(logger: logging.Logger) -> None:
    handler, stream = json_handler()
    handler.addFilter(lambda record: record.getMessage().startswith("GET"))
    only(logger, handler)
    log_fields(logger, logging.INFO, "POST /v1/callrail/webhook 202", FIELDS)
    log_fields(logger, logging.INFO, "GET /v1/health 200", FIELDS)
    assert [line["message"] for line in lines(stream)] == ["GET /v1/health 200"]


def test_every_handler_gets_the_line(logger: logging.Logger) -> None:
    handler, stream = json_handler()
    plain = io.StringIO()
    other = logging.StreamHandler(plain)  # not JSON: the line goes through logging
    only(logger, handler, other)
    log_fields(logger, logging.INFO, "POST /v1/callrail/webhook 202", FIELDS)
    assert [line["message"] for line in lines(stream)] == ["POST /v1/callrail/webhook 202"]
    assert plain.getvalue() == "POST /v1/callrail/webhook 202\n"


def test_levels_are_honoured(logger: logging.Logger) -> None:
    handler, stream = json_handler()
    only(logger, handler)
    logger.setLevel(logging.WARNING)
    log_fields(logger, logging.INFO, "POST /v1/callrail/webhook 202", FIELDS)
    logger.setLevel(logging.INFO)
    handler.setLevel(logging.WARNING)
    log_fields(logger, logging.INFO, "POST /v1/callrail/webhook 202", FIELDS)
    log_fields(logger, logging.WARNING, "POST /v1/callrail/webhook 503", FIELDS)
    assert [(line["severity"], line["message"]) for line in lines(stream)] == [
        ("WARNING", "POST /v1/callrail/webhook 503")
    ]


def test_a_closed_stream_is_reported_as_logging_reports_it(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    handler, stream = json_handler()
    only(logger, handler)
    stream.close()
    log_fields(logger, logging.INFO, "POST /v1/callrail/webhook 202", FIELDS)  # does not raise
    assert "Logging error" in capsys.readouterr().err
