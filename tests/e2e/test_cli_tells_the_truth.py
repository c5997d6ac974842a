"""The CLI says what it does and what it will not do (issues 26 and 28): its version and exit
codes, each migration as it is applied, a call list a page at a time, every effective setting,
and `serve` refusing a configuration that would silently do less than asked, or warning about
names it does not read."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from domain.usecases.intake import ReceiveWebhook
from entrypoints.config import load_settings
from entrypoints.container import build_container
from tests.e2e.process import ServiceProcess, http, ingestion_pipeline
from tests.support import callrail_body, signed_headers, tenant_document

OPERATOR_TOKEN = "operator-token-never-printed-0123456789"


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **env}
    for name in ("PIPELINE_OPERATOR_TOKEN", "K_SERVICE", "PUBSUB_EMULATOR_HOST"):
        if name not in env:
            environ.pop(name, None)
    return ingestion_pipeline(*args, env=environ, cwd=tmp_path)


def test_version_and_the_exit_codes_in_help(tmp_path: Path) -> None:
    version = run(tmp_path, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith("ingestion-pipeline ")
    assert version.stdout.split()[1][0].isdigit()

    shown = run(tmp_path, "--help").stdout
    assert "exit codes:" in shown
    for code in ("0", "1", "2", "130"):
        assert any(line.split()[:1] == [code] for line in shown.splitlines()), code


def test_migrate_names_each_migration_as_it_applies_it(tmp_path: Path) -> None:
    first = run(tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    *applying, summary = first.stdout.splitlines()
    names = [line.removeprefix("applying ") for line in applying]
    assert applying
    assert all(line.startswith("applying ") for line in applying)
    assert names[0] == "001_initial.sql"
    assert names == sorted(names)
    assert summary == f"applied {len(names)} migration(s): {', '.join(names)}"
    assert run(tmp_path, "migrate").stdout == "applied 0 migration(s)\n"


def test_calls_list_pages_with_the_token_it_prints_and_takes_since(tmp_path: Path) -> None:
    (tmp_path / "tenant.json").write_text(json.dumps(tenant_document()))
    assert run(tmp_path, "tenants", "create", "--file", "tenant.json").returncode == 0
    container = build_container(
        load_settings({"PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    )

    async def accept_three() -> None:
        await container.database().open()
        try:
            for n in ("1001", "1002", "1003"):
                body = callrail_body(n)
                signature = signed_headers(body)["Signature"]
                await container.accept_webhook()(ReceiveWebhook(body, signature))
        finally:
            await container.database().close()

    asyncio.run(accept_three())

    first = run(tmp_path, "calls", "list", "acme", "--limit", "2", "--json")
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 2
    assert first.stderr.startswith("next page: --page-token ")
    token = first.stderr.split()[-1]
    second = run(tmp_path, "calls", "list", "acme", "--limit", "2", "--json", "--page-token", token)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""  # the last page: no token
    ids = [json.loads(line)["call_id"] for line in first.stdout.splitlines()]
    ids += [json.loads(line)["call_id"] for line in second.stdout.splitlines()]
    assert sorted(ids) == ["CAL1001", "CAL1002", "CAL1003"]

    later = run(tmp_path, "calls", "list", "acme", "--json", "--since", "2999-01-01T00:00:00Z")
    assert later.returncode == 0
    assert later.stdout == ""
    bad = run(tmp_path, "calls", "list", "acme", "--page-token", "not-ours")
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1
    assert "page_token" in bad.stderr


def test_config_prints_every_setting_with_secrets_masked(tmp_path: Path) -> None:
    shown = run(
        tmp_path,
        "config",
        PIPELINE_OPERATOR_TOKEN=OPERATOR_TOKEN,
        PIPELINE_LEASE_SECONDS="30",
        PIPELINE_TYPO_SETTING="1",
    )
    assert shown.returncode == 0, shown.stderr
    settings = dict(line.split(" = ", 1) for line in shown.stdout.splitlines())
    assert settings["operator_token"] == "***"
    assert settings["processing.lease_s"] == "30.0"
    assert settings["database.path"] == str(tmp_path / "cli.db")
    assert settings["log_level"] == "info"
    assert OPERATOR_TOKEN not in shown.stdout + shown.stderr
    assert "PIPELINE_TYPO_SETTING is set but not read" in shown.stderr


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"K_SERVICE": "ingestion-webhook"}, "PIPELINE_ALLOW_EPHEMERAL=true"),
        (
            {
                "PIPELINE_DATABASE_URL": "spanner://projects/p/instances/i/databases/d",
                "PIPELINE_AUDIO_STORE_URL": "gs://bucket/audio",
                "PIPELINE_QUEUE_URL": "pubsub://projects/project-1/topics/calls",
            },
            "PIPELINE_PUSH_AUDIENCE is not set",
        ),
        ({"PIPELINE_LOG_LEVEL": "chatty"}, "PIPELINE_LOG_LEVEL"),
        ({"SERVICE_TYPE": "everything"}, "SERVICE_TYPE"),
    ],
)
def test_serve_refuses_a_configuration_that_would_do_less_than_asked(
    tmp_path: Path, env: dict[str, str], words: str
) -> None:
    refused = run(tmp_path, "serve", "--port", "0", **env)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("ingestion-pipeline: ")
    assert words in refused.stderr
    assert "Traceback" not in refused.stderr


def test_serve_warns_at_start_about_names_it_does_not_read_and_honours_the_log_level(
    tmp_path: Path,
) -> None:
    service = ServiceProcess(
        tmp_path,
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
            "PIPELINE_AUDIO_STORE_URL": f"file://{tmp_path / 'audio'}",
            "PIPELINE_WORKER_CONCURRENCY": "0",
            "PIPELINE_LOG_LEVEL": "warning",
            "PIPELINE_DATABSE_URL": "sqlite:///typo.db",
            "SERVICE_TYPE": "webhook",
            "PROJECT_ID": "seed-project",
            "K_SERVICE": "ingestion-webhook",
            "PIPELINE_ALLOW_EPHEMERAL": "true",
        },
    )
    try:
        service.start()
        assert http(f"{service.url}/health/ready")["status"] == "ready"
    finally:
        service.stop()
    lines = [json.loads(line) for line in service.log_path.read_text().splitlines() if line]
    warnings = [line["message"] for line in lines if line.get("event") == "startup_warning"]
    assert any(w.startswith("PIPELINE_DATABSE_URL is set but not read") for w in warnings)
    assert "SERVICE_TYPE=webhook read as PIPELINE_SERVICE_TYPE=webhook;" in " ".join(warnings)
    assert any(w.startswith("PROJECT_ID read as PIPELINE_GCP_PROJECT") for w in warnings)
    assert {line["severity"] for line in lines} <= {"WARNING", "ERROR", "CRITICAL"}


def test_a_tenant_document_with_a_key_nothing_reads_is_one_line_naming_it(tmp_path: Path) -> None:
    document = tenant_document()
    document["config"]["crm_config"] = {"type": "hubspot", "acess_token_ref": "hubspot"}
    (tmp_path / "tenant.json").write_text(json.dumps(document))

    refused = run(tmp_path, "tenants", "create", "--file", "tenant.json")

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "config.crm_config.acess_token_ref" in refused.stderr
    assert run(tmp_path, "tenants", "list", "--json").stdout == ""
