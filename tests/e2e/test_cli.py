"""`ingestion-pipeline` as an operator runs it: output to read or script, one-line errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from domain.usecases.intake import ReceiveWebhook
from entrypoints.config import load_settings
from entrypoints.container import build_container
from tests.e2e.process import ingestion_pipeline
from tests.support import VECTOR_SIGNATURE, tenant_document, vector_body


def cli(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    env.pop("PIPELINE_OPERATOR_TOKEN", None)
    return ingestion_pipeline(*args, env=env, cwd=tmp_path, stdin=stdin)


def write_tenant(tmp_path: Path, **kwargs: str) -> Path:
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(tenant_document(**kwargs)))
    return path


def accept_vector_call(tmp_path: Path) -> None:
    settings = load_settings({"PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    container = build_container(settings)

    async def run() -> None:
        db = container.database()
        await db.open()
        try:
            await container.accept_webhook()(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE))
        finally:
            await db.close()

    asyncio.run(run())


def test_tenant_lifecycle(tmp_path: Path) -> None:
    created = cli(tmp_path, "tenants", "create", "--file", str(write_tenant(tmp_path)))
    assert created.returncode == 0, created.stderr
    shown = json.loads(created.stdout)
    assert shown["tenant_id"] == "acme"
    assert shown["config"]["webhook_secret"] == "***"

    table = cli(tmp_path, "tenants", "list")
    assert table.returncode == 0
    header, row = table.stdout.strip().splitlines()
    assert header.split() == ["TENANT_ID", "NAME", "STATUS", "COMPANY", "CRM"]
    assert row.split()[0] == "acme"
    lines = cli(tmp_path, "tenants", "list", "--json").stdout.strip().splitlines()
    assert [json.loads(line)["tenant_id"] for line in lines] == ["acme"]

    patch = tmp_path / "patch.json"
    patch.write_text(
        json.dumps(
            {"name": "Acme Renamed", "config": {"ai_config": {"lead_scoring_threshold": 55}}}
        )
    )
    updated = cli(tmp_path, "tenants", "update", "acme", "--file", str(patch))
    assert updated.returncode == 0, updated.stderr
    after = json.loads(cli(tmp_path, "tenants", "show", "acme").stdout)
    assert after["name"] == "Acme Renamed"
    assert after["config"]["ai_config"]["lead_scoring_threshold"] == 55
    assert after["config"]["ai_config"]["business_context"] == "HVAC repair in Denver"

    key = cli(tmp_path, "tenants", "api-key", "acme")
    assert key.returncode == 0
    assert key.stdout.strip().startswith("ipk_")
    assert "shown once" in key.stderr
    # Only its hash is stored.
    assert key.stdout.strip().encode() not in (tmp_path / "cli.db").read_bytes()


def test_tenant_from_stdin(tmp_path: Path) -> None:
    result = cli(
        tmp_path, "tenants", "create", "--file", "-", stdin=json.dumps(tenant_document("beta"))
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tenant_id"] == "beta"


def test_calls_list_and_show(tmp_path: Path) -> None:
    assert cli(tmp_path, "tenants", "create", "--file", str(write_tenant(tmp_path))).returncode == 0
    accept_vector_call(tmp_path)
    table = cli(tmp_path, "calls", "list", "acme")
    assert table.returncode == 0, table.stderr
    rows = table.stdout.strip().splitlines()
    assert rows[0].split()[:3] == ["CALL_ID", "STATUS", "STAGE"]
    assert rows[1].split()[:3] == ["766970532", "received", "RECEIVED"]
    assert (
        cli(tmp_path, "calls", "list", "acme", "--status", "completed").stdout.strip().count("\n")
        == 0
    )
    shown = json.loads(cli(tmp_path, "calls", "show", "acme", "766970532").stdout)
    assert shown["stage"] == "RECEIVED"
    assert shown["metadata"]["voicemail"] is True


def test_errors_are_one_line_and_non_zero(tmp_path: Path) -> None:
    cases = [
        (cli(tmp_path, "tenants", "show", "nobody"), 1, "no tenant nobody"),
        (cli(tmp_path, "calls", "show", "nobody", "CAL1"), 1, "no call CAL1"),
        (
            cli(tmp_path, "tenants", "create", "--file", str(tmp_path / "missing.json")),
            2,
            "cannot read",
        ),
        (cli(tmp_path, "calls", "list", "nobody", "--status", "bogus"), 1, "status"),
    ]
    for result, code, words in cases:
        assert result.returncode == code, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert words in result.stderr
        assert "Traceback" not in result.stderr
    (tmp_path / "bad.json").write_text(json.dumps({"tenant_id": "BAD ID", "config": {}}))
    invalid = cli(tmp_path, "tenants", "create", "--file", str(tmp_path / "bad.json"))
    assert invalid.returncode == 1
    assert invalid.stderr.count("\n") == 1
    assert "tenant_id" in invalid.stderr
    assert "config.callrail_company_id" in invalid.stderr
    write_tenant(tmp_path)
    assert (
        cli(tmp_path, "tenants", "create", "--file", str(tmp_path / "tenant.json")).returncode == 0
    )
    duplicate = cli(tmp_path, "tenants", "create", "--file", str(tmp_path / "tenant.json"))
    assert duplicate.returncode == 1
    assert "exists" in duplicate.stderr


def test_bad_configuration_names_the_setting(tmp_path: Path) -> None:
    env = {**os.environ, "PIPELINE_DATABASE_URL": "postgres://x"}
    result = ingestion_pipeline("tenants", "list", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "PIPELINE_DATABASE_URL" in result.stderr
    assert result.stderr.count("\n") == 1


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    first = cli(tmp_path, "migrate")
    second = cli(tmp_path, "migrate")
    assert first.returncode == second.returncode == 0
    assert "001_initial.sql" in first.stdout
    assert second.stdout.strip() == "applied 0 migration(s)"
