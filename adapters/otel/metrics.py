"""The Metrics port on the OpenTelemetry SDK, read by Prometheus through the SDK's Prometheus
reader: instruments are OpenTelemetry's (so an OTLP reader could be added beside it), and
`render()` gives the text exposition format for GET /v1/metrics.

Every instance has its own MeterProvider and its own prometheus_client registry, never the
global ones: a process may hold several (tests, the demo), and none registers anything at
import time. The reader is pull-based: nothing runs in the background.

Requests are the exception to "instruments are OpenTelemetry's" on the hot path: the SDK's
synchronous add and record cost ~155,000 interpreter instructions a request together (callgrind;
about a tenth of a webhook), so every request is tallied here (~a dict lookup and a bisect) and
read at collection: the count through an OpenTelemetry observable counter, the latency
histogram through a Prometheus collector of its own on the same registry (same name, labels and
buckets as the SDK's view gave it). An OTLP reader added later would not see that histogram.

The queue's figures need a database query, which an observable gauge's synchronous callback
cannot make: `refresh()` (awaited by the endpoint before it renders) asks the queue probe at
most every `cache_s` seconds, and the gauges report what it last said. When the probe fails the
gauges are left out rather than showing stale numbers.

Other readers may be given (adapters.otel.cloud_monitoring's pushes to Cloud Monitoring): they see
every instrument made here, but not the HTTP latency histogram tallied outside the SDK; the
platform's own request metrics stand in for it there."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import HistogramMetricFamily, Metric

from domain.results import SyncStatus, Tier
from domain.stages import Stage
from ports.health import HealthProbe
from ports.metrics import Metrics

# The classic text format: what generate_latest writes with its default (underscore) escaping,
# and what every Prometheus version reads.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTTP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STAGE_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Webhook to COMPLETED: the runbook's SLO is P95 under 3 minutes, critical over 10.
CALL_BUCKETS_S = (5.0, 10.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
SCORE_BUCKETS = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0)
# The runbook's "High Value Lead": a lead score above 90.
HIGH_VALUE_SCORE = 90
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
PROBE_TIMEOUT_S = 2.0


class OtelMetrics(Metrics):
    def __init__(
        self,
        queue_probe: HealthProbe | None = None,
        *,
        cache_s: float = 5.0,
        readers: Sequence[MetricReader] = (),
        resource: Resource | None = None,
        database_errors: ErrorTally | None = None,
    ):
        """`queue_probe`: a probe whose figures hold `depth` (jobs waiting) and `oldest_due_s`
        (how long the oldest has been due), as entrypoints.probes.QueueProbe's do. `readers`:
        more readers beside Prometheus's (an exporter that pushes), describing this process
        as `resource`. `database_errors`: what the database adapter counted."""
        self.registry = CollectorRegistry(auto_describe=True)
        reader = PrometheusMetricReader(
            disable_target_info=True, scope_info_enabled=False, registry=self.registry
        )
        self.pushes = bool(readers)
        self._provider = MeterProvider(
            metric_readers=[reader, *readers],
            resource=resource or Resource.get_empty(),
            views=[
                _buckets("pipeline.stage.duration", STAGE_BUCKETS_S),
                _buckets("pipeline.call.processing_time", CALL_BUCKETS_S),
                _buckets("pipeline.lead.score", SCORE_BUCKETS),
            ],
            shutdown_on_exit=False,
        )
        meter = self._provider.get_meter("ingestion_pipeline")
        self._http = HttpTally(HTTP_BUCKETS_S)
        meter.create_observable_counter(
            "pipeline.http.requests",
            [self._observe_requests],
            "{request}",
            "HTTP requests by method, route and status",
        )
        self.registry.register(self._http)
        self._stages = meter.create_histogram(
            "pipeline.stage.duration", "s", "Time each pipeline stage took, by stage"
        )
        self._leads = meter.create_counter("pipeline.leads", "{call}", "Calls scored, by tier")
        self._scores = meter.create_histogram(
            "pipeline.lead.score", "{score}", "Lead scores given (0-100), by tier"
        )
        self._high_value = meter.create_counter(
            "pipeline.leads.high_value",
            "{call}",
            f"Calls whose lead score is above {HIGH_VALUE_SCORE} (the High Value Lead alert)",
        )
        self._calls = meter.create_histogram(
            "pipeline.call.processing_time",
            "s",
            "Time from a call's webhook to COMPLETED",
        )
        self._database_errors = database_errors
        if database_errors is not None:
            meter.create_observable_counter(
                "pipeline.database.errors",
                [self._observe_database_errors],
                "{error}",
                "Database calls that failed at the driver (unreachable, timed out, refused),"
                " by backend and code",
            )
        self._syncs = meter.create_counter(
            "pipeline.crm.syncs", "{sync}", "CRM sync attempts by CRM type and outcome"
        )
        self._retries = meter.create_counter(
            "pipeline.retries", "{delivery}", "Deliveries scheduled again, by stage and reason"
        )
        self._dead_ends = meter.create_counter(
            "pipeline.dead_ends", "{call}", "Calls FAILED for good, by the stage they failed at"
        )
        self._alerts = meter.create_counter(
            "pipeline.alerts",
            "{alert}",
            "Hot-lead alerts settled, by destination type (slack, webhook) and outcome (sent,"
            " failed)",
        )
        self._silenced = meter.create_counter(
            "pipeline.audio.silenced", "{span}", "Stretches of recordings silenced, by kind"
        )
        self._discarded = meter.create_counter(
            "pipeline.analysis.discarded",
            "{item}",
            "What checking a model's analysis threw away: quotes the transcript does not hold,"
            " custom answers not of their type (kind quote, answer)",
        )
        meter.create_observable_gauge(
            "pipeline.queue.depth", [self._observe_depth], "{job}", "Jobs waiting in the queue"
        )
        meter.create_observable_gauge(
            "pipeline.queue.oldest_job_age",
            [self._observe_age],
            "s",
            "How long the oldest waiting job has been due",
        )
        self._probe = queue_probe
        self._cache_s = cache_s
        self._queue: tuple[float, float] | None = None  # (depth, oldest_due_s)
        self._queue_read_at: float | None = None
        self._refreshing = asyncio.Lock()

    # --- the port --------------------------------------------------------------------------

    def stage_finished(self, stage: Stage, seconds: float, *, skipped: bool) -> None:
        self._stages.record(seconds, {"stage": stage.value, "skipped": str(skipped).lower()})

    def lead_scored(self, tier: Tier, score: int) -> None:
        self._leads.add(1, {"tier": tier.value})
        self._scores.record(score, {"tier": tier.value})
        if score > HIGH_VALUE_SCORE:
            self._high_value.add(1, {"tier": tier.value})

    def call_completed(self, seconds: float) -> None:
        self._calls.record(seconds)

    def crm_synced(self, crm_type: str, outcome: SyncStatus) -> None:
        self._syncs.add(1, {"crm_type": crm_type, "outcome": outcome.value})

    def retry_scheduled(self, stage: Stage, reason: str) -> None:
        self._retries.add(1, {"stage": stage.value, "reason": reason})

    def dead_end(self, stage: Stage) -> None:
        self._dead_ends.add(1, {"stage": stage.value})

    def audio_silenced(self, kind: str, spans: int) -> None:
        self._silenced.add(spans, {"kind": kind})

    def alert_delivered(self, destination_type: str, outcome: str) -> None:
        self._alerts.add(1, {"type": destination_type, "outcome": outcome})

    def analysis_discarded(self, kind: str, count: int) -> None:
        self._discarded.add(count, {"kind": kind})

    # --- the service's own -----------------------------------------------------------------

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """`route` is the route's template (/v1/tenants/{tenant_id}/calls), never the path."""
        labels = (method if method in HTTP_METHODS else "OTHER", route, str(status))
        self._http.add(labels, seconds)

    def shutdown(self) -> None:
        """Pushes what the other readers have not sent yet, and stops them."""
        if self.pushes:
            self._provider.shutdown()

    async def refresh(self) -> None:
        """Reads the queue's figures if the last reading is older than `cache_s`."""
        if self._probe is None:
            return
        async with self._refreshing:
            now = time.monotonic()
            if self._queue_read_at is not None and now - self._queue_read_at < self._cache_s:
                return
            try:
                health = await asyncio.wait_for(self._probe.check(), PROBE_TIMEOUT_S)
            except TimeoutError:
                health = None
            figures = health.figures if health is not None else {}
            if "depth" in figures and "oldest_due_s" in figures:
                self._queue = (figures["depth"], figures["oldest_due_s"])
            else:
                self._queue = None
            self._queue_read_at = now

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (CONTENT_TYPE)."""
        return generate_latest(self.registry)

    def _observe_requests(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(tally.count, dict(zip(HTTP_LABELS, labels, strict=True)))
            for labels, tally in self._http.items()
        ]

    def _observe_database_errors(self, options: CallbackOptions) -> Iterable[Observation]:
        tally = self._database_errors
        if tally is None:
            return []
        return [
            Observation(count, {"backend": tally.backend, "code": code})
            for code, count in tally.counts.items()
        ]

    def _observe_depth(self, options: CallbackOptions) -> Iterable[Observation]:
        return [] if self._queue is None else [Observation(self._queue[0])]

    def _observe_age(self, options: CallbackOptions) -> Iterable[Observation]:
        return [] if self._queue is None else [Observation(self._queue[1])]


class ErrorTally:
    """Failed calls of one backend's driver, by error code (a gRPC status name such as
    ServiceUnavailable or DeadlineExceeded, never a message): the database adapter calls it
    where it translates driver errors, and OtelMetrics reads it at collection. A plain object,
    so the database needs nothing from the metrics (which need the database for the queue's
    figures)."""

    def __init__(self, backend: str):
        self.backend = backend
        self.counts: Counter[str] = Counter()

    def __call__(self, code: str) -> None:
        self.counts[code] += 1


HTTP_LABELS = ("method", "route", "status")
_HttpLabels = tuple[str, str, str]


class _Tally:
    __slots__ = ("buckets", "count", "total")

    def __init__(self, size: int):
        self.buckets = [0] * size  # per bucket, not cumulative; the last is +Inf
        self.count = 0
        self.total = 0.0


class HttpTally:
    """Requests counted and timed by (method, route, status), in this process; also the
    Prometheus collector of the latency histogram (pipeline_http_request_duration_seconds).
    Used from the event loop's thread only."""

    def __init__(self, boundaries: Sequence[float]):
        self._boundaries = tuple(boundaries)
        self._tallies: dict[_HttpLabels, _Tally] = {}

    def add(self, labels: _HttpLabels, seconds: float) -> None:
        tally = self._tallies.get(labels)
        if tally is None:
            tally = self._tallies[labels] = _Tally(len(self._boundaries) + 1)
        # bisect_left: a value equal to a boundary belongs to that bucket (le, "at most").
        tally.buckets[bisect.bisect_left(self._boundaries, seconds)] += 1
        tally.count += 1
        tally.total += seconds

    def items(self) -> list[tuple[_HttpLabels, _Tally]]:
        return list(self._tallies.items())

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "pipeline_http_request_duration_seconds",
            "HTTP request latency by route and status",
            labels=HTTP_LABELS,
        )
        bounds = [*(repr(float(b)) for b in self._boundaries), "+Inf"]
        for labels, tally in self.items():
            cumulative, running = [], 0
            for bound, count in zip(bounds, tally.buckets, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            family.add_metric(list(labels), cumulative, tally.total)
        yield family


def _buckets(instrument: str, boundaries: tuple[float, ...]) -> View:
    return View(
        instrument_name=instrument,
        aggregation=ExplicitBucketHistogramAggregation(boundaries),
    )
