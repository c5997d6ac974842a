"""`ingestion-pipeline calls reanalyze` as an operator runs it, on the database `demo --keep`
left: the tenant adds a question and drops its CRM and alerts (their stand-ins are gone), the
command re-analyses and re-scores its six completed calls without transcribing them again
(progress on stderr, a summary on stdout), the rules analyzer's answer is null and its notes
say why, and a second run does nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dependency_injector import providers

from adapters.rules.analyzer import RulesCallAnalyzer
from domain.call import Call, CallMetadata
from domain.errors import PermanentFailure
from domain.results import CallAnalysis, Transcript
from domain.stages import PIPELINE
from domain.tenant import AiConfig
from domain.webhook import parse_incoming_call
from entrypoints.cli import main as cli_main
from entrypoints.config import load_settings
from entrypoints.container import Container, build_container
from entrypoints.migrations import migrate_database
from tests.e2e.process import ingestion_pipeline, run_demo
from tests.support import callrail_body, tenant_document

TENANT = "demo-tenant-001"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo run of this module's own: reanalyze changes the database the others read."""
    return run_demo(tmp_path_factory.mktemp("demo-reanalyze"))


def cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PIPELINE_DATABASE_URL": f"sqlite:///{workdir / 'pipeline.db'}",
        "PIPELINE_AUDIO_STORE_URL": f"file://{workdir / 'audio'}",
    }
    return ingestion_pipeline(*args, env=env, cwd=workdir, timeout=120)


def test_reanalyze_reruns_the_analysis_of_every_completed_call_once(
    demo: tuple[Path, str],
) -> None:
    workdir, _ = demo
    patch = workdir / "patch.json"
    question = {"key": "has_pets", "question": "Did the caller mention pets?", "type": "boolean"}
    patch.write_text(
        json.dumps(
            {
                "config": {
                    "crm_config": None,  # the demo's CRM and alert stand-ins are gone
                    "alerts": None,
                    "ai_config": {"questions": [question]},
                }
            }
        )
    )
    updated = cli(workdir, "tenants", "update", TENANT, "--file", str(patch))
    assert updated.returncode == 0, updated.stderr[-2000:]

    first = cli(workdir, "calls", "reanalyze", TENANT)

    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.strip() == (
        f"{TENANT}: 6 call(s) reanalysed, 0 already reanalysed with these settings,"
        " 0 skipped (not completed), 0 queued for the workers, 0 failed"
    )
    progress = [line for line in first.stderr.splitlines() if line.startswith(("1/6", "6/6"))]
    assert [line.split(":", 1)[1].strip() for line in progress] == ["done", "done"]
    shown = json.loads(cli(workdir, "calls", "show", TENANT, "CALDEMO0001").stdout)
    assert shown["stage"] == "COMPLETED"
    assert shown["analysis"]["answers"] == {"has_pets": None}
    assert any("cannot answer custom questions" in n for n in shown["analysis"]["notes"])
    assert shown["crm_sync"]["status"] == "skipped"
    notes = [e.get("note") or "" for e in shown["timeline"]]
    rerun = next(i for i, n in enumerate(notes) if n.startswith("reanalyze "))
    redone = [e["stage"] for e in shown["timeline"][rerun + 1 :]]
    assert "ANALYZED" in redone
    assert "COMPLETED" in redone
    assert "TRANSCRIBED" not in redone  # nothing heard again
    assert "RECORDING_STORED" not in redone

    second = cli(workdir, "calls", "reanalyze", TENANT, "--from-stage", "analyzed")

    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.startswith(
        f"{TENANT}: 0 call(s) reanalysed, 6 already reanalysed with these settings, 0 skipped"
    )

    wrong = cli(workdir, "calls", "reanalyze", TENANT, "--from-stage", "TRANSCRIBED")
    assert wrong.returncode != 0
    assert "from_stage" in wrong.stderr


class RefusingAnalyzer(RulesCallAnalyzer):
    """The rules analyzer, but a model's permanent refusal for the callers in `refused`."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[str] = set()

    async def analyze(
        self, transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
    ) -> CallAnalysis:
        if metadata.caller in self.refused:
            raise PermanentFailure("the model refused to answer")
        return await super().analyze(transcript, metadata, ai)


async def seed_calls(container: Container) -> dict[str, str]:
    """A tenant with two completed calls and one received, never processed: caller by call id."""
    db = container.database()
    await db.open()
    try:
        await migrate_database(container)
        await container.create_tenant()(tenant_document("acme"))
        at = datetime.now(UTC) - timedelta(hours=3)
        callers = {}
        async with container.uow()() as uow:
            for n in range(1, 4):
                body = callrail_body(f"cli{n}", customer_phone_number=f"+1303555010{n}")
                call = Call.receive("acme", parse_incoming_call(json.loads(body)), at)
                callers[call.call_id] = call.metadata.caller or ""
                if n < 3:
                    call.transcript = Transcript("whisper", "en-US", "my furnace stopped working")
                    for stage in PIPELINE[1:]:
                        call.advance(stage, at + timedelta(minutes=n))
                await uow.calls.add(call)
                at += timedelta(minutes=10)
            await uow.commit()
        return callers
    finally:
        await db.close()


def run_cli(
    capsys: pytest.CaptureFixture[str], container: Container, *argv: str
) -> tuple[int, str, str]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # main sets up logging for a process
    try:
        code = cli_main(list(argv), container)
    except SystemExit as exit_:  # a command's exit code past main, as a process ends with it
        code = int(exit_.code or 0)
    finally:
        root.handlers[:], root.level = handlers, level
    out, err = capsys.readouterr()
    return code, out, err


def test_reanalyze_says_apart_what_was_done_before_and_what_never_completed_and_retries_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings({"PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    container = build_container(settings)
    analyzer = RefusingAnalyzer()
    container.analyzer.override(providers.Object(analyzer))
    callers = asyncio.run(seed_calls(container))
    first_call, second_call, waiting = callers
    analyzer.refused = {callers[second_call]}

    code, out, err = run_cli(capsys, container, "calls", "reanalyze", "acme")

    assert code == 1, err
    assert out.strip() == (
        "acme: 1 call(s) reanalysed, 0 already reanalysed with these settings, 1 skipped"
        " (not completed), 0 queued for the workers, 1 failed"
    )
    assert f"{second_call}: failed: ANALYZED: the model refused to answer" in err
    assert f"3/3 {waiting}: skipped, RECEIVED (not completed)" in err

    analyzer.refused = set()  # the cause fixed: the same run again retries the failed call
    code, out, err = run_cli(capsys, container, "calls", "reanalyze", "acme")

    assert code == 0, err
    assert out.strip() == (
        "acme: 1 call(s) reanalysed, 1 already reanalysed with these settings, 1 skipped"
        " (not completed), 0 queued for the workers, 0 failed"
    )
    assert f"1/3 {first_call}: already reanalysed with these settings" in err
    assert f"2/3 {second_call}: done" in err
    code, out, err = run_cli(capsys, container, "calls", "show", "acme", second_call)
    assert code == 0, err
    assert json.loads(out)["stage"] == "COMPLETED"
