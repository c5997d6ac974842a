"""`ingestion-pipeline stats TENANT [--since ISO] [--json]` as an operator runs it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from domain.usage import UsageDelta
from entrypoints.config import load_settings
from entrypoints.container import build_container
from tests.e2e.test_cli import accept_vector_call, cli, write_tenant


def record_usage(tmp_path: Path, delta: UsageDelta) -> None:
    settings = load_settings({"PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    container = build_container(settings)

    async def run() -> None:
        db = container.database()
        await db.open()
        try:
            async with container.uow()() as uow:
                await uow.usage.add("acme", datetime.now(UTC).date(), delta)
                await uow.commit()
        finally:
            await db.close()

    asyncio.run(run())


def test_stats_as_json_and_as_text(tmp_path: Path) -> None:
    assert cli(tmp_path, "tenants", "create", "--file", str(write_tenant(tmp_path))).returncode == 0
    accept_vector_call(tmp_path)
    record_usage(tmp_path, UsageDelta(audio_seconds=61.5, crm_api_calls=3, stored_bytes=2048))

    as_json = cli(tmp_path, "stats", "acme", "--json")
    assert as_json.returncode == 0, as_json.stderr
    view = json.loads(as_json.stdout)
    assert (view["requests"], view["in_progress"], view["success_rate"]) == (1, 1, None)
    assert view["usage"]["audio_seconds"] == 61.5
    assert view["usage"]["crm_api_calls"] == 3

    text = cli(tmp_path, "stats", "acme", "--since", "2000-01-01T00:00:00Z")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("acme: calls received from 2000-01-01T00:00:00+00:00 to ")
    assert "requests        1" in lines
    assert "success rate    -" in lines
    assert any(line.startswith("usage ") and "audio 61.5 s" in line for line in lines)

    windowed = cli(tmp_path, "stats", "acme", "--since", "2000-01-01T00:00:00Z", "--json")
    assert json.loads(windowed.stdout)["since"] == "2000-01-01T00:00:00+00:00"


def test_stats_errors_are_one_line(tmp_path: Path) -> None:
    assert cli(tmp_path, "tenants", "create", "--file", str(write_tenant(tmp_path))).returncode == 0

    unknown = cli(tmp_path, "stats", "nobody")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "ingestion-pipeline: no tenant nobody"

    bad = cli(tmp_path, "stats", "acme", "--since", "last week")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "--since" in bad.stderr
