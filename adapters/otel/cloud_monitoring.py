"""Pushes the service's OpenTelemetry metrics to Google Cloud Monitoring, where the alert
policies, SLOs and dashboard in deploy/monitoring read them (PIPELINE_METRICS_EXPORT=gcp).

Each instrument becomes the metric type `workload.googleapis.com/<instrument name>` (e.g.
workload.googleapis.com/pipeline.crm.syncs), written every `interval_s`. Every instance is its
own time series: the monitored resource is a `generic_task` whose `job` is the Cloud Run service
and whose `task_id` is the instance, as the metadata server describes them, so two instances
never write the same series. A write has the client's own deadline (12 s) and is not retried:
the next one carries the cumulative counts anyway.

The exporter and the resource detector come with the gcp extra and are imported when asked for,
so the embedded shape runs without them."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource, get_aggregated_resources

METRIC_PREFIX = "workload.googleapis.com"
SERVICE_NAMESPACE = "ingestion-pipeline"


def cloud_monitoring_reader(
    project: str, *, interval_s: float = 60.0, client: Any = None
) -> MetricReader:
    """A reader that writes every `interval_s` to `project` (the credentials' project when
    empty). `client`: a MetricServiceClient of one's own (a local stand-in in tests)."""
    module = importlib.import_module("opentelemetry.exporter.cloud_monitoring")
    with warnings.catch_warnings():
        # Deprecated in favour of OTLP to telemetry.googleapis.com, which files metrics under
        # prometheus.googleapis.com/ instead: the policies in deploy/monitoring name the
        # workload.googleapis.com/ types this exporter writes (CreateTimeSeries, a GA API).
        warnings.simplefilter("ignore", DeprecationWarning)
        exporter = module.CloudMonitoringMetricsExporter(
            project_id=project or None, client=client, prefix=METRIC_PREFIX
        )
    return PeriodicExportingMetricReader(
        exporter, export_interval_millis=interval_s * 1000, export_timeout_millis=30_000
    )


def cloud_run_resource() -> Resource:
    """This instance as the metadata server describes it (Cloud Run: the service, region and
    instance id), named after its Cloud Run service so the webhook's, the worker's and the
    API's series stay apart. Off Google Cloud: a resource with no instance id."""
    detector = importlib.import_module("opentelemetry.resourcedetector.gcp_resource_detector")
    detected = get_aggregated_resources(
        [detector.GoogleCloudResourceDetector(raise_on_error=False)],
        initial_resource=Resource.get_empty(),
    )
    return task_resource(detected)


def task_resource(detected: Resource) -> Resource:
    """`detected` named for Cloud Monitoring's generic_task: job = the Cloud Run service
    (faas.name), task_id = the instance (faas.instance)."""
    attributes = dict(detected.attributes)
    service = attributes.get("faas.name") or SERVICE_NAMESPACE
    return Resource({**attributes, "service.name": service, "service.namespace": SERVICE_NAMESPACE})
