"""Retention and erasure on the embedded shape (a SQLite file, recordings on disk), through the
command line's own code path (cli.main) and the sweep `serve` runs: what an operator sees, and
what a scan of the database file and the audio directory still finds afterwards."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.call import Call
from domain.results import CallAnalysis, Intent, LeadScore, ScoreReason, Tier, Transcript
from domain.stages import PIPELINE, Stage
from domain.usecases.erasure import DeleteTenantCommand
from entrypoints import cli
from entrypoints.config import load_settings
from entrypoints.container import Container, build_container
from entrypoints.migrations import migrate_database
from entrypoints.retention_sweep import RetentionSweeper
from tests.integration.retention_seed import (
    COMPANIES,
    PHONES,
    audio_bytes,
    received_call,
    store_audio,
)
from tests.support import tenant_document

NOW = datetime.now(UTC)


@pytest.fixture
def container(tmp_path: Path) -> Container:
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'pipeline.db'}",
            "PIPELINE_AUDIO_STORE_URL": f"file://{tmp_path / 'audio'}",
        }
    )
    return build_container(settings)


async def add_tenant_with_calls(
    container: Container,
    tenant_id: str,
    calls: int,
    *,
    days_ago: int = 400,
    retention: dict[str, int] | None = None,
    secret_refs: bool = False,
) -> list[str]:
    """A tenant with `calls` finished calls received `days_ago` days ago, each with a stored
    recording, a redacted copy and a quarantined original, a transcript, an analysis and a
    score; an API key and usage too."""
    document = tenant_document(tenant_id, company_id=COMPANIES[tenant_id])
    if retention is not None:
        document["config"]["retention"] = retention
    if secret_refs:
        del document["config"]["webhook_secret"]
        document["config"]["webhook_secret_ref"] = f"{tenant_id}/signing-key"
        document["config"]["callrail_api_key_ref"] = f"{tenant_id}/callrail-key"
    await container.create_tenant()(document)
    await container.issue_api_key()(tenant_id)
    audio = container.audio()
    at = NOW - timedelta(days=days_ago)
    ids = []
    async with container.uow()() as uow:
        for n in range(calls):
            call = received_call(tenant_id, n, at, customer_name=f"Caller {tenant_id} {n}")
            ids.append(call.call_id)
            call.recording = await store_audio(audio, tenant_id, call.call_id)
            call.transcript = Transcript(
                "whisper", "en-US", f"call me back on {PHONES[tenant_id]}", redacted=False
            )
            call.analysis = CallAnalysis("rules", "Wants a furnace quote", Intent.QUOTE_REQUEST)
            call.lead_score = LeadScore(
                77, Tier.WARM, True, 70, "1", (ScoreReason("quote", 20, "asked for a quote"),)
            )
            for stage in PIPELINE[1:]:
                call.advance(stage, at + timedelta(minutes=2))
            await uow.calls.add(call)
        await uow.commit()
    return ids


async def seed(container: Container, tenant_id: str, calls: int, **options: Any) -> list[str]:
    """add_tenant_with_calls on the database opened (and migrated) for it, then closed."""
    db = container.database()
    await db.open()
    try:
        await migrate_database(container)
        return await add_tenant_with_calls(container, tenant_id, calls, **options)
    finally:
        await db.close()


def run_cli(
    capsys: pytest.CaptureFixture[str], container: Container, *argv: str
) -> tuple[int, str, str]:
    code = cli.main(list(argv), container)
    out, err = capsys.readouterr()
    return code, out, err


def scan(root: Path, needles: list[bytes]) -> dict[bytes, list[str]]:
    """Which files and directories under `root` (the database, its log, every stored object)
    hold each needle, byte for byte, or in their name."""
    found: dict[bytes, list[str]] = {needle: [] for needle in needles}
    for path in root.rglob("*"):
        name = str(path.relative_to(root)).encode()
        data = path.read_bytes() if path.is_file() else b""
        for needle in needles:
            if needle in data or needle in name:
                found[needle].append(str(path.relative_to(root)))
    return found


def test_tenants_delete_leaves_none_of_its_calls_numbers_or_audio(
    container: Container, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acme = asyncio.run(seed(container, "acme", 3, secret_refs=True))
    beta = asyncio.run(seed(container, "beta", 2))
    needles = [
        *(i.encode() for i in acme + beta),
        *(p.encode() for p in PHONES.values()),
        audio_bytes("acme", acme[0], "recording"),
        audio_bytes("acme", acme[0], "original"),
        audio_bytes("beta", beta[0], "recording"),
    ]
    before = scan(tmp_path, needles)
    assert all(before.values()), "the scan must see every tenant's data before the delete"

    code, out, err = run_cli(capsys, container, "tenants", "delete", "acme", "--confirm", "acme")

    assert code == 0, err
    assert "deleted tenant acme: 1 api key(s), 3 call(s), 9 object(s), 1 tenant(s)" in out
    assert "acme/signing-key, acme/callrail-key" in out  # named, left in the secret store
    assert "tenant acme: 3 call(s) and 9 object(s) deleted" in err
    after = scan(tmp_path, needles)
    for needle in (*(i.encode() for i in acme), PHONES["acme"].encode()):
        assert after[needle] == [], f"{needle!r} still in {after[needle]}"
    assert after[audio_bytes("acme", acme[0], "recording")] == []
    assert after[audio_bytes("acme", acme[0], "original")] == []
    assert not list((tmp_path / "audio").glob("acme/**/*.mp3"))
    # The other tenant keeps everything.
    for needle in (*(i.encode() for i in beta), PHONES["beta"].encode()):
        assert after[needle], f"beta's {needle!r} was lost"

    code, out, err = run_cli(capsys, container, "tenants", "show", "acme")
    assert code == 1
    # Re-running is safe: nothing is left, and it says so.
    code, out, err = run_cli(capsys, container, "tenants", "delete", "acme", "--confirm", "acme")
    assert (code, err.strip()) == (1, "ingestion-pipeline: no tenant acme")
    code, out, err = run_cli(capsys, container, "deletions", "list", "acme", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["action"] for r in records] == ["tenant.deleted", "tenant.calls_deleted"]
    assert records[1]["counts"] == {"calls": 3, "jobs": 0, "objects": 9}
    assert all(r["actor"].startswith("cli") for r in records)


def test_tenants_delete_refuses_without_the_id_repeated(
    container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(container, "acme", 1))
    code, _, err = run_cli(capsys, container, "tenants", "delete", "acme", "--confirm", "beta")
    assert code == 1
    assert "confirm: must repeat the tenant's id" in err
    code, out, _ = run_cli(capsys, container, "calls", "list", "acme", "--json")
    assert len(out.splitlines()) == 1


class Killed(Exception):
    pass


def test_a_tenant_delete_cut_short_is_finished_by_running_it_again(
    container: Container, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed after its first page: the re-run deletes the rest, and the tenant."""
    ids = asyncio.run(seed(container, "acme", 5))

    async def first_page_then_crash() -> None:
        db = container.database()
        await db.open()
        use_case = container.delete_tenant(page_size=2)

        def crash(line: str) -> None:
            raise Killed(line)

        with pytest.raises(Killed):
            await use_case(DeleteTenantCommand("acme", "acme", "test"), crash)
        await db.close()

    asyncio.run(first_page_then_crash())
    code, out, _ = run_cli(capsys, container, "calls", "list", "acme", "--json")
    assert len(out.splitlines()) == 3  # two went with the first page
    code, out, _ = run_cli(capsys, container, "tenants", "show", "acme")
    assert json.loads(out)["status"] == "suspended"  # no new call arrives meanwhile

    code, out, err = run_cli(capsys, container, "tenants", "delete", "acme", "--confirm", "acme")
    assert code == 0, err
    assert "3 call(s)" in out
    assert scan(tmp_path, [i.encode() for i in ids]) == {i.encode(): [] for i in ids}


def test_calls_delete_removes_one_call_and_its_audio(
    container: Container, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = asyncio.run(seed(container, "acme", 2))
    code, out, err = run_cli(capsys, container, "calls", "delete", "acme", first)
    assert code == 0, err
    assert out.strip() == f"deleted acme {first}: 1 call(s), 3 object(s)"
    assert not (tmp_path / "audio" / "acme" / "calls" / first).exists()
    assert not (tmp_path / "audio" / "quarantine" / "acme" / "calls" / first).exists()
    assert (tmp_path / "audio" / "acme" / "calls" / second / "recording.mp3").exists()
    code, _, err = run_cli(capsys, container, "calls", "show", "acme", first)
    assert code == 1
    code, _, err = run_cli(capsys, container, "calls", "delete", "acme", first)
    assert (code, err.strip()) == (1, f"ingestion-pipeline: no call {first}")


def test_calls_expire_dry_run_lists_and_changes_nothing(
    container: Container, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = asyncio.run(
        seed(container, "acme", 2, retention={"recordings_days": 90, "transcripts_days": 365})
    )
    asyncio.run(seed(container, "beta", 1, days_ago=10, retention={"recordings_days": 90}))
    files_before = sorted(p for p in (tmp_path / "audio").rglob("*") if p.is_file())

    code, out, err = run_cli(capsys, container, "calls", "expire", "--dry-run")

    assert code == 0, err
    assert out.splitlines() == [f"acme  {call_id}  recording transcript" for call_id in old]
    assert f"acme {old[0]}: would expire recording and transcript and analysis" in err
    assert "would expire: 2 recording(s), 2 transcript(s) and analyses" in err
    assert sorted(p for p in (tmp_path / "audio").rglob("*") if p.is_file()) == files_before
    code, out, _ = run_cli(capsys, container, "calls", "show", "acme", old[0])
    shown = json.loads(out)
    assert shown["transcript"] is not None
    assert shown["recording"] is not None

    code, out, err = run_cli(capsys, container, "calls", "expire", "acme")
    assert code == 0, err
    assert out == ""
    assert "expired: 2 recording(s), 2 transcript(s) and analyses" in err
    assert not list((tmp_path / "audio").glob("acme/**/*.mp3"))
    assert list((tmp_path / "audio").glob("beta/**/*.mp3"))  # 10 days old: kept


def test_the_sweep_erases_an_expired_calls_transcript_and_audio_and_keeps_its_score(
    container: Container, tmp_path: Path
) -> None:
    retention = {"recordings_days": 30, "transcripts_days": 90}
    (old,) = asyncio.run(seed(container, "acme", 1, days_ago=120, retention=retention))
    (audio_only,) = asyncio.run(seed(container, "beta", 1, days_ago=60, retention=retention))

    async def sweep() -> tuple[Call | None, Call | None]:
        db = container.database()
        await db.open()
        sweeper = RetentionSweeper(container.expire_calls(), first_after_s=0.05, every_s=3600)
        sweeper.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                async with container.uow()(read_only=True) as uow:
                    erased = await uow.calls.get("acme", old)
                    kept = await uow.calls.get("beta", audio_only)
                if erased and erased.transcript is None and kept and kept.recording is None:
                    return erased, kept
                await asyncio.sleep(0.05)
            return None, None
        finally:
            await sweeper.stop()
            await db.close()

    erased, kept = asyncio.run(sweep())
    assert erased is not None, "the sweep did not run"
    assert kept is not None
    assert (erased.recording, erased.transcript, erased.analysis) == (None, None, None)
    assert dict(erased.raw_payload) == {}
    assert erased.lead_score is not None
    assert (erased.lead_score.score, erased.lead_score.tier) == (77, Tier.WARM)
    assert erased.metadata.caller == PHONES["acme"]
    assert erased.metadata.duration_s is not None
    assert erased.stage is Stage.COMPLETED
    # 60 days old: its audio is past 30 days, its transcript not past 90.
    assert kept.transcript is not None
    assert kept.analysis is not None
    assert not list((tmp_path / "audio").rglob("*.mp3"))
    assert not list((tmp_path / "audio").rglob("original"))
