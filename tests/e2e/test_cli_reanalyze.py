"""`ingestion-pipeline calls reanalyze` as an operator runs it, on the database `demo --keep`
left: the tenant adds a question and drops its CRM and alerts (their stand-ins are gone), the
command re-analyses and re-scores its six completed calls without transcribing them again
(progress on stderr, a summary on stdout), the rules analyzer's answer is null and its notes
say why, and a second run does nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.process import ingestion_pipeline, run_demo

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
        f"{TENANT}: 6 call(s) reanalysed, 0 skipped (done before or not completed),"
        " 0 queued for the workers, 0 failed"
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
    assert second.stdout.startswith(f"{TENANT}: 0 call(s) reanalysed, 6 skipped")

    wrong = cli(workdir, "calls", "reanalyze", TENANT, "--from-stage", "TRANSCRIBED")
    assert wrong.returncode != 0
    assert "from_stage" in wrong.stderr
