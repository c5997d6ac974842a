"""GET /v1/metrics: Prometheus text that parses, and figures that move as real calls go through
the whole service (webhook, worker, recording download, Whisper, rules, HubSpot fake)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.otel.metrics import OtelMetrics
from ports.health import ComponentHealth, HealthProbe
from tests.integration.pipeline_service import RECORDED, PipelineService, pipeline_service

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(service: PipelineService) -> Samples:
    async with service.http.get(f"{service.url}/v1/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await r.text()
    found: Samples = {}
    for family in text_string_to_metric_families(text):  # raises on anything malformed
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_metrics_parse_and_move_as_calls_are_processed(tmp_path: Path) -> None:
    async with pipeline_service(tmp_path) as service:
        before = await scrape(service)
        assert value(before, "pipeline_crm_syncs_total") == 0
        assert value(before, "pipeline_stage_duration_seconds_count") == 0

        await service.create_tenant("acme", "111")
        await service.create_tenant("beta", "222", crm="hubspot-revoked")
        # One create is made but its answer lost: that sync is retried, and finds it.
        service.hubspot.drop_next_create(1)
        await service.post_call("acme", "111", RECORDED, recorded=True)
        await service.post_call("acme", "111", "CALMISSED1", recorded=False)
        await service.post_call("acme", "111", "CALGONE1", recorded=True)  # its link is a 404
        await service.post_call("beta", "222", "CALBETA1", recorded=False)  # token refused
        acme = await service.wait_until_done("acme", [RECORDED, "CALMISSED1", "CALGONE1"])
        beta = await service.wait_until_done("beta", ["CALBETA1"])
        assert acme == {RECORDED: "COMPLETED", "CALMISSED1": "COMPLETED", "CALGONE1": "FAILED"}
        assert beta == {"CALBETA1": "FAILED"}
        status, _ = await service.get(f"/v1/tenants/acme/calls/{RECORDED}")
        assert status == 401
        status, _ = await service.get(f"/nowhere/{RECORDED}")
        assert status == 404

        after = await scrape(service)

    webhook = {"route": "/v1/callrail/webhook", "method": "POST", "status": "202"}
    assert value(after, "pipeline_http_requests_total", **webhook) == 4
    assert value(after, "pipeline_http_request_duration_seconds_count", **webhook) == 4
    assert value(after, "pipeline_http_request_duration_seconds_bucket", le="+Inf", **webhook) == 4
    call_route = "/v1/tenants/{tenant_id}/calls/{call_id}"
    assert value(after, "pipeline_http_requests_total", route=call_route, status="401") == 1
    assert value(after, "pipeline_http_requests_total", route="unmatched", status="404") == 1
    assert value(after, "pipeline_http_requests_total", route="/v1/metrics", status="200") >= 1
    labels = {v for _, ls in after for _, v in ls}
    assert not {"acme", "beta", RECORDED} & labels
    assert not [v for v in labels if "/acme" in v or RECORDED in v or "nowhere" in v]

    stage = "pipeline_stage_duration_seconds_count"
    assert value(after, stage, stage="TRANSCRIBED", skipped="false") == 1
    assert value(after, stage, stage="TRANSCRIBED", skipped="true") == 2
    assert value(after, stage, stage="COMPLETED") == 2
    assert value(after, "pipeline_stage_duration_seconds_sum", stage="TRANSCRIBED") > 0
    assert value(after, "pipeline_leads_total") == 3  # every call that reached SCORED

    crm = "pipeline_crm_syncs_total"
    assert value(after, crm, crm_type="hubspot", outcome="success") == 2
    assert value(after, crm, crm_type="hubspot", outcome="pending") == 1
    assert value(after, crm, crm_type="hubspot", outcome="failed") == 1
    assert value(after, "pipeline_retries_total", stage="SYNCED", reason="transient") == 1
    assert value(after, "pipeline_dead_ends_total", stage="RECORDING_STORED") == 1
    assert value(after, "pipeline_dead_ends_total", stage="SYNCED") == 1
    assert value(after, "pipeline_dead_ends_total") == 2
    assert value(after, "pipeline_queue_depth") == 0


async def test_queue_depth_and_age_read_the_queue(tmp_path: Path) -> None:
    async with pipeline_service(tmp_path, PIPELINE_WORKER_CONCURRENCY="0") as service:
        await service.create_tenant("acme", "111", crm="none")
        for n in range(3):
            await service.post_call("acme", "111", f"CALQUEUED{n}", recorded=False)

        samples = await scrape(service)

    assert value(samples, "pipeline_queue_depth") == 3
    ages = [v for (n, _), v in samples.items() if n == "pipeline_queue_oldest_job_age_seconds"]
    assert len(ages) == 1
    assert 0 <= ages[0] < 60


class CountingQueueProbe(HealthProbe):
    def __init__(self, health: ComponentHealth):
        self.health = health
        self.checks = 0

    async def check(self) -> ComponentHealth:
        self.checks += 1
        return self.health


def parsed(metrics: OtelMetrics) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


async def test_the_queue_is_asked_at_most_once_per_cache_period() -> None:
    probe = CountingQueueProbe(ComponentHealth("healthy", "q", {"depth": 4, "oldest_due_s": 9.5}))
    metrics = OtelMetrics(probe, cache_s=3600)

    await metrics.refresh()
    probe.health = ComponentHealth("healthy", "q", {"depth": 1, "oldest_due_s": 0.0})
    await metrics.refresh()

    assert probe.checks == 1
    samples = parsed(metrics)
    assert value(samples, "pipeline_queue_depth") == 4
    assert value(samples, "pipeline_queue_oldest_job_age_seconds") == 9.5


async def test_a_failing_queue_probe_leaves_the_gauges_out() -> None:
    probe = CountingQueueProbe(ComponentHealth("unhealthy", "the database is unavailable"))
    metrics = OtelMetrics(probe, cache_s=0)

    await metrics.refresh()

    names = {name for name, _ in parsed(metrics)}
    assert "pipeline_queue_depth" not in names
    assert "pipeline_queue_oldest_job_age_seconds" not in names


def test_unusual_methods_share_one_label() -> None:
    metrics = OtelMetrics()
    metrics.http_request("PROPFIND", "unmatched", 405, 0.001)
    metrics.http_request("GET", "/v1/health", 200, 0.001)

    samples = parsed(metrics)
    assert value(samples, "pipeline_http_requests_total", method="OTHER", status="405") == 1
    assert value(samples, "pipeline_http_requests_total", method="GET", route="/v1/health") == 1
    assert not [ls for n, ls in samples if ("method", "PROPFIND") in ls]


def test_request_latencies_fall_in_the_buckets_prometheus_expects() -> None:
    metrics = OtelMetrics()
    route = {"method": "POST", "route": "/v1/callrail/webhook", "status": "202"}
    for seconds in (0.001, 0.005, 0.0051, 0.3, 12.0):  # 0.005: on a boundary, so "le" it
        metrics.http_request("POST", "/v1/callrail/webhook", 202, seconds)
    samples = parsed(metrics)
    bucket = "pipeline_http_request_duration_seconds_bucket"
    assert value(samples, bucket, le="0.005", **route) == 2
    assert value(samples, bucket, le="0.01", **route) == 3
    assert value(samples, bucket, le="0.25", **route) == 3
    assert value(samples, bucket, le="0.5", **route) == 4
    assert value(samples, bucket, le="10.0", **route) == 4
    assert value(samples, bucket, le="+Inf", **route) == 5
    assert value(samples, "pipeline_http_request_duration_seconds_count", **route) == 5
    assert value(samples, "pipeline_http_request_duration_seconds_sum", **route) == pytest.approx(
        12.3111
    )
    assert value(samples, "pipeline_http_requests_total", **route) == 5
