"""PIPELINE_METRICS_EXPORT=gcp in a running service: nobody scrapes it, so the service reads
its queue's figures itself, and when it stops it pushes what it has not sent yet."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from dependency_injector import providers
from opentelemetry.sdk.resources import Resource

from adapters.otel.cloud_monitoring import cloud_monitoring_reader, task_resource
from adapters.otel.metrics import OtelMetrics
from entrypoints.config import ConfigError, load_settings
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tests.deploy.fake_monitoring import fake_cloud_monitoring

WORKLOAD = "workload.googleapis.com/"


def settings_env(tmp_path: Path, **env: str) -> dict[str, str]:
    return {
        "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'pipeline.db'}",
        "PIPELINE_AUDIO_STORE_URL": f"file://{tmp_path / 'audio'}",
        "PIPELINE_WORKER_CONCURRENCY": "0",
        **env,
    }


async def test_the_queue_s_figures_reach_cloud_monitoring_by_the_time_it_stops(
    tmp_path: Path,
) -> None:
    settings = load_settings(settings_env(tmp_path, PIPELINE_METRICS_EXPORT="gcp"))
    assert settings.metrics.export == "gcp"
    container = build_container(settings)
    with fake_cloud_monitoring() as (monitoring, client):
        # an hour between pushes: only the push at shutdown can send anything here
        reader = cloud_monitoring_reader("acme-calls", interval_s=3600, client=client)
        container.metrics.override(
            providers.Singleton(
                OtelMetrics,
                queue_probe=container.queue_probe,
                readers=[reader],
                resource=task_resource(
                    Resource({"faas.name": "ingestion-worker", "faas.instance": "i1"})
                ),
                database_errors=container.database_errors,
            )
        )
        server = TestServer(create_app(container), host="127.0.0.1")
        await server.start_server()
        assert container.metrics().pushes
        assert monitoring.series == []
        await server.close()  # the app's cleanup: the last push
        pushed = {s.metric.type: s for s in monitoring.series}
    assert pushed[WORKLOAD + "pipeline.queue.depth"].points[0].value.int64_value == 0
    assert WORKLOAD + "pipeline.queue.oldest_job_age" in pushed


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PIPELINE_METRICS_EXPORT": "stackdriver"}, "PIPELINE_METRICS_EXPORT"),
        ({"PIPELINE_METRICS_EXPORT_INTERVAL_SECONDS": "10"}, "between 60 and 3600"),
    ],
)
def test_a_bad_export_setting_is_refused_by_name(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(settings_env(tmp_path, **env))


def test_nothing_is_pushed_by_default(tmp_path: Path) -> None:
    settings = load_settings(settings_env(tmp_path))
    assert settings.metrics.export == "none"
    assert not build_container(settings).metrics().pushes
