"""deploy/monitoring against the Cloud Monitoring API's shapes and against what the service
really exports: the alert policies, SLOs and dashboard are parsed as the API's own protobuf
messages (an unknown field or enum value fails), and every metric they name is one that
OtelMetrics writes, through the Cloud Monitoring exporter, to a stand-in of the API."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.api import metric_pb2  # type: ignore[import-untyped]
from google.cloud import monitoring_dashboard_v1, monitoring_v3
from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.sdk.resources import Resource

from adapters.otel.cloud_monitoring import cloud_monitoring_reader, task_resource
from adapters.otel.metrics import ErrorTally, OtelMetrics
from domain.results import SyncStatus, Tier
from domain.stages import Stage
from ports.health import ComponentHealth
from tests.deploy.fake_monitoring import fake_cloud_monitoring

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
POLICIES = sorted((MONITORING / "policies").glob("*.json"))
SLOS = [
    MONITORING / "slos" / "webhook-availability.json",
    MONITORING / "slos" / "webhook-latency.json",
]
DASHBOARD = MONITORING / "dashboard.json"
WORKLOAD = "workload.googleapis.com/"
# Cloud Run's own request metrics: they count what never reached the app (a 503 with no
# instance free, a timeout), which availability must count. The labels used here, from Cloud
# Run's metric list.
PLATFORM = {
    "run.googleapis.com/request_count": (
        "DELTA",
        "INT64",
        {"response_code", "response_code_class"},
    ),
    "run.googleapis.com/request_latencies": (
        "DELTA",
        "DISTRIBUTION",
        {"response_code", "response_code_class"},
    ),
}

# The runbook's alert policies (shared/design/seed-duties.md): comparison, threshold, how long,
# its severity, and the routes it notifies.
RUNBOOK = {
    "API Availability": ("COMPARISON_GT", 0.01, 120, "critical", {"pager", "slack-critical"}),
    "High Error Rate": ("COMPARISON_GT", 0.05, 300, "high", {"pager", "slack-alerts"}),
    "Database Connectivity": ("COMPARISON_GT", 10, 60, "critical", {"pager", "slack-critical"}),
    "Processing Latency": ("COMPARISON_GT", 5000, 600, "medium", {"slack-alerts"}),
    "High Value Lead": ("COMPARISON_GT", 0, 0, "info", {"slack-sales"}),
    "CRM Sync Failure": ("COMPARISON_LT", 0.9, 900, "high", {"slack-alerts", "email-ops"}),
    "Processing Backlog": ("COMPARISON_GT", 100, 1200, "medium", {"slack-alerts"}),
}
ROUTES = {"pager", "slack-critical", "slack-alerts", "slack-sales", "email-ops"}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_each_file_is_the_api_s_own_shape() -> None:
    for path in POLICIES:
        json_format.Parse(
            path.read_text(), monitoring_v3.AlertPolicy.pb(monitoring_v3.AlertPolicy())
        )
    for path in SLOS:
        json_format.Parse(
            path.read_text(),
            monitoring_v3.ServiceLevelObjective.pb(monitoring_v3.ServiceLevelObjective()),
        )
    json_format.Parse(
        (MONITORING / "slos" / "service.json").read_text(),
        monitoring_v3.Service.pb(monitoring_v3.Service()),
    )
    json_format.Parse(
        DASHBOARD.read_text(),
        monitoring_dashboard_v1.Dashboard.pb(monitoring_dashboard_v1.Dashboard()),
    )


def test_a_misspelt_field_would_be_caught() -> None:
    """The check above can fail: the API's message refuses a field it does not have."""
    policy = load(POLICIES[0])
    policy["conditions"][0]["conditionThreshold"]["treshold"] = 1
    with pytest.raises(json_format.ParseError):
        json_format.Parse(
            json.dumps(policy), monitoring_v3.AlertPolicy.pb(monitoring_v3.AlertPolicy())
        )


def test_the_runbook_s_policies_with_its_thresholds_durations_and_routes() -> None:
    policies = {load(p)["displayName"]: load(p) for p in POLICIES}
    assert set(RUNBOOK) <= set(policies)
    for name, (comparison, value, seconds, severity, routes) in RUNBOOK.items():
        policy = policies[name]
        [condition] = policy["conditions"]
        threshold = condition["conditionThreshold"]
        assert threshold["comparison"] == comparison, name
        assert threshold["thresholdValue"] == value, name
        assert threshold["duration"] == f"{seconds}s", name
        assert policy["userLabels"]["runbook_severity"] == severity, name
        assert {c.removeprefix("@") for c in policy["notificationChannels"]} == routes, name
    for policy in policies.values():  # every route is one deploy.sh knows
        assert {c.removeprefix("@") for c in policy["notificationChannels"]} <= ROUTES


def test_deploy_sh_finds_each_policy_s_name_on_its_own_line() -> None:
    """deploy.sh reads a policy's display name with sed (no JSON tool on the deployer's
    machine), and rewrites notificationChannels line by line."""
    for path in POLICIES:
        lines = path.read_text().splitlines()
        [name] = [
            m.group(1) for m in map(re.compile(r'^  "displayName": "(.*)",$').match, lines) if m
        ]
        assert name == load(path)["displayName"]
        [channels] = [line for line in lines if '"notificationChannels"' in line]
        assert channels.rstrip(",").endswith("]")


def filters() -> Iterator[tuple[str, str, list[str], str]]:
    """(file, filter, groupByFields, aligner and reducer): every filter in deploy/monitoring."""

    def walk(node: Any, path: Path) -> Iterator[tuple[str, str, list[str], str]]:
        if isinstance(node, dict):
            for key in (
                "filter",
                "denominatorFilter",
                "distributionFilter",
                "goodServiceFilter",
                "badServiceFilter",
                "totalServiceFilter",
            ):
                if isinstance(node.get(key), str):
                    aggs = node.get("aggregations") or node.get("denominatorAggregations") or []
                    if "aggregation" in node:
                        aggs = [node["aggregation"]]
                    groups = [g for a in aggs for g in a.get("groupByFields", [])]
                    how = " ".join(
                        f"{a.get('perSeriesAligner')} {a.get('crossSeriesReducer')}" for a in aggs
                    )
                    yield path.name, node[key], groups, how
            for value in node.values():
                yield from walk(value, path)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value, path)

    for path in [*POLICIES, *SLOS, DASHBOARD]:
        yield from walk(load(path), path)


class Probe:
    async def check(self) -> ComponentHealth:
        return ComponentHealth("healthy", "queue", {"depth": 3, "oldest_due_s": 12.5})


@pytest.fixture(scope="module")
def exported() -> dict[str, metric_pb2.MetricDescriptor]:
    """What one worker instance writes to Cloud Monitoring once it has done everything once."""
    resource = task_resource(
        Resource(
            {
                "faas.name": "ingestion-worker",
                "faas.instance": "0069c7a9",
                "cloud.region": "us-central1",
            }
        )
    )
    with fake_cloud_monitoring() as (service, client):
        reader = cloud_monitoring_reader("acme-calls", client=client)
        errors = ErrorTally("spanner")
        metrics = OtelMetrics(Probe(), readers=[reader], resource=resource, database_errors=errors)
        asyncio.run(metrics.refresh())
        metrics.http_request("POST", "/v1/callrail/webhook", 202, 0.01)
        for stage in Stage:
            metrics.stage_finished(stage, 0.5, skipped=False)
        metrics.lead_scored(Tier.HOT, 95)
        metrics.lead_scored(Tier.COLD, 20)
        metrics.call_completed(42.0)
        for outcome in SyncStatus:
            metrics.crm_synced("hubspot", outcome)
        metrics.retry_scheduled(Stage.TRANSCRIBED, "transient")
        metrics.dead_end(Stage.ANALYZED)
        metrics.audio_silenced("CARD", 2)
        metrics.alert_delivered("slack", "failed")
        errors("ServiceUnavailable")
        assert reader.force_flush()
        metrics.shutdown()
        for series in service.series:
            assert series.resource.type == "generic_task"
            assert dict(series.resource.labels) == {
                "location": "us-central1",
                "namespace": "ingestion-pipeline",
                "job": "ingestion-worker",
                "task_id": "0069c7a9",
            }
        return dict(service.descriptors)


def test_every_metric_the_files_name_is_one_the_service_exports(
    exported: dict[str, metric_pb2.MetricDescriptor],
) -> None:
    named = set()
    for file, text, groups, how in filters():
        metric = re.search(r'metric\.type = "([^"]+)"', text)
        assert metric, (file, text)
        kind = metric.group(1)
        named.add(kind)
        labels = set(re.findall(r"metric\.labels?\.(\w+)", text + " " + " ".join(groups)))
        if kind.startswith(WORKLOAD):
            assert kind in exported, f"{file}: {kind} is not exported"
            descriptor = exported[kind]
            assert 'resource.type = "generic_task"' in text, file
            have = {label.key for label in descriptor.labels}
            assert labels <= have, f"{file}: {kind} has no label {labels - have}"
            metric_kind = metric_pb2.MetricDescriptor.MetricKind.Name(descriptor.metric_kind)
            value_type = metric_pb2.MetricDescriptor.ValueType.Name(descriptor.value_type)
        else:
            assert kind in PLATFORM, f"{file}: {kind} is neither exported nor a Cloud Run metric"
            assert 'resource.type = "cloud_run_revision"' in text, file
            metric_kind, value_type, have = PLATFORM[kind]
            assert labels <= have, f"{file}: {kind} has no label {labels - have}"
        # the aggregation suits the metric's kind
        if "PERCENTILE" in how or "distributionFilter" in text:
            assert value_type == "DISTRIBUTION", (file, kind)
        if "ALIGN_RATE" in how or "ALIGN_DELTA" in how:
            assert metric_kind in ("CUMULATIVE", "DELTA"), (file, kind)
        if "ALIGN_MAX" in how:
            assert metric_kind == "GAUGE", (file, kind)
    # the dashboard and policies between them use what the runbook asks to see
    for needed in (
        "pipeline.stage.duration",
        "pipeline.call.processing_time",
        "pipeline.queue.depth",
        "pipeline.queue.oldest_job_age",
        "pipeline.crm.syncs",
        "pipeline.leads",
        "pipeline.dead_ends",
        "pipeline.database.errors",
        "pipeline.leads.high_value",
    ):
        assert WORKLOAD + needed in named, needed


def test_a_high_value_lead_is_counted_only_above_90() -> None:
    with fake_cloud_monitoring() as (service, client):
        reader = cloud_monitoring_reader("acme-calls", client=client)
        resource = task_resource(Resource({"faas.name": "w", "faas.instance": "1"}))
        metrics = OtelMetrics(readers=[reader], resource=resource)
        metrics.lead_scored(Tier.HOT, 90)
        metrics.lead_scored(Tier.HOT, 91)
        metrics.lead_scored(Tier.WARM, 100)
        assert reader.force_flush()
        metrics.shutdown()
    latest = {  # cumulative counts: the last point written of each series
        tuple(sorted(s.metric.labels.items())): s.points[0].value.int64_value
        for s in service.series
        if s.metric.type == WORKLOAD + "pipeline.leads.high_value"
    }
    assert latest == {(("tier", "hot"),): 1, (("tier", "warm"),): 1}
