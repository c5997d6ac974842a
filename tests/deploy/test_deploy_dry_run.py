"""deploy/deploy.sh and deploy/backup.sh with DRY_RUN=true: every gcloud (and curl) command
they would run, in order, compared with the steps the runbook asks for: the backup schedule
and point-in-time window, the alert policies, SLOs and dashboard, the gradual rollout."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
POLICIES = sorted((DEPLOY / "monitoring" / "policies").glob("*.json"))
SERVICES = ("ingestion-worker", "ingestion-webhook", "ingestion-api")


def run(script: str, *args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DRY_RUN": "true",
        "PROJECT_ID": "acme-calls",
        "REGION": "europe-west1",
        "TAG": "3f2a9c1",
        "REVISION_SUFFIX": "r7",
        "RENDER_DIR": str(tmp_path / "rendered"),
    }
    (tmp_path / "rendered").mkdir(exist_ok=True)
    return subprocess.run(
        ["bash", str(DEPLOY / script), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def display_name(path: Path) -> str:
    name: str = json.loads(path.read_text())["displayName"]
    return name


def plan(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def in_order(lines: list[str], *patterns: str) -> None:
    """Each pattern matches a line after the previous pattern's."""
    at = 0
    for pattern in patterns:
        for i in range(at, len(lines)):
            if re.search(pattern, lines[i]):
                at = i + 1
                break
        else:
            raise AssertionError(f"no {pattern!r} after line {at}:\n" + "\n".join(lines[at:]))


def test_scripts_parse() -> None:
    scripts = sorted(DEPLOY.glob("*.sh"))
    assert {"deploy.sh", "backup.sh", "lib.sh"} <= {s.name for s in scripts}
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)


def test_a_redeploy_sets_backups_rolls_out_each_service_and_applies_monitoring(
    tmp_path: Path,
) -> None:
    lines = plan(run("deploy.sh", tmp_path=tmp_path))
    assert all(line.startswith(("gcloud ", "curl ")) for line in lines)
    where = "--project=acme-calls --instance=ingestion --database=pipeline"
    in_order(
        lines,
        # backups: the schedule exists, so it is updated to the runbook's numbers
        rf"^gcloud spanner backup-schedules describe daily-full {where}$",
        rf"^gcloud spanner backup-schedules update daily-full {where}"
        r" --cron=0 2 \* \* \* --retention-duration=30d$",
        r"^gcloud spanner databases ddl update pipeline .*"
        r"--ddl=ALTER DATABASE `pipeline` SET OPTIONS \(version_retention_period = '7d'\)$",
        r"^gcloud builds submit ",
        r"^gcloud run jobs deploy ingestion-migrate ",
        r"^gcloud run jobs execute ingestion-migrate .* --wait$",
    )
    for service in SERVICES:  # worker first, then webhook, then API; each the same ramp
        ready = rf"^curl .*https://candidate---{service}-dry-run\.run\.app/health/ready$"
        traffic = (
            rf"^gcloud run services update-traffic {service}"
            r" --project=acme-calls --region=europe-west1"
        )
        in_order(
            lines,
            rf"^gcloud run services describe {service} .*--flatten=status\.traffic",
            r"^gcloud run services replace .*/rendered/\w+\.yaml --project=acme-calls",
            ready,
            rf"{traffic} --to-revisions={service}-r7=10$",
            ready,
            rf"{traffic} --to-revisions={service}-r7=50$",
            ready,
            rf"{traffic} --to-latest$",
            ready,
        )
    in_order(
        lines,
        r"^gcloud run services update-traffic ingestion-worker .*--to-latest$",
        r"^gcloud run services replace .*/webhook\.yaml",
        r"^gcloud run services update-traffic ingestion-webhook .*--to-latest$",
        r"^gcloud run services replace .*/api\.yaml",
        r"^gcloud pubsub subscriptions update call-jobs-worker-push ",
        *[
            p
            for path in POLICIES
            for p in (
                r"^gcloud monitoring policies list --project=acme-calls"
                rf' --filter=displayName="{re.escape(display_name(path))}"',
                rf"^gcloud monitoring policies update \S+ --project=acme-calls"
                rf" --policy-from-file=.*/monitoring/{path.name}$",
            )
        ],
        r"^curl .* -X PATCH .*/projects/acme-calls/services/ingestion-webhook"
        r"/serviceLevelObjectives/webhook-availability\?",
        r"^curl .* -X PATCH .*/serviceLevelObjectives/webhook-latency\?",
        r"^gcloud monitoring dashboards update ingestion-pipeline --project=acme-calls"
        r" --config-from-file=",
    )
    assert not [line for line in lines if " create " in line and "monitoring" in line]
    # the rendered service: the previous revision keeps all traffic, the new one none
    worker = (tmp_path / "rendered" / "worker.yaml").read_text()
    assert "name: ingestion-worker-r7" in worker
    assert (
        "traffic: [{revisionName: ingestion-worker-previous, percent: 100},"
        " {revisionName: ingestion-worker-r7, percent: 0, tag: candidate}]"
    ) in worker
    assert "${" not in worker


def test_a_first_deploy_creates_the_schedule_the_policies_and_the_dashboard(
    tmp_path: Path,
) -> None:
    lines = plan(run("deploy.sh", tmp_path=tmp_path, DRY_RUN_EXISTING="false"))
    in_order(
        lines,
        r"^gcloud spanner instances create ingestion ",
        r"^gcloud spanner databases create pipeline ",
        r"^gcloud spanner backup-schedules create daily-full --project=acme-calls"
        r" --instance=ingestion --database=pipeline --cron=0 2 \* \* \*"
        r" --retention-duration=30d --backup-type=full-backup$",
        r"^gcloud spanner databases ddl update pipeline ",
        r"^gcloud run services replace .*/worker\.yaml",
        r"^gcloud run services replace .*/webhook\.yaml",
        r"^gcloud run services replace .*/api\.yaml",
        r"^gcloud pubsub subscriptions create call-jobs-worker-push ",
        *[
            rf"^gcloud monitoring policies create --project=acme-calls"
            rf" --policy-from-file=.*/{p.name}$"
            for p in POLICIES
        ],
        r"^curl .* -X POST .*/projects/acme-calls/services\?serviceId=ingestion-webhook$",
        r"^curl .* -X POST .*serviceLevelObjectives\?serviceLevelObjectiveId=webhook-availability$",
        r"^curl .* -X POST .*serviceLevelObjectives\?serviceLevelObjectiveId=webhook-latency$",
        r"^gcloud monitoring dashboards create --project=acme-calls --config-from-file=",
    )
    # nothing served before: no ramp, all traffic to the new revision
    assert not [line for line in lines if "update-traffic" in line]
    worker = (tmp_path / "rendered" / "worker.yaml").read_text()
    assert "traffic: [{percent: 100, latestRevision: true}]" in worker
    dashboard = json.loads((tmp_path / "rendered" / "monitoring" / "dashboard.json").read_text())
    assert dashboard["name"] == "projects/acme-calls/dashboards/ingestion-pipeline"


def test_the_ramp_is_configurable(tmp_path: Path) -> None:
    lines = plan(run("deploy.sh", tmp_path=tmp_path, ONLY="services", ROLLOUT_STEPS="25,100"))
    steps = [line.split()[-1] for line in lines if "update-traffic ingestion-api" in line]
    assert steps == ["--to-revisions=ingestion-api-r7=25", "--to-latest"]
    assert not [line for line in lines if "backup-schedules" in line or "monitoring" in line]


@pytest.mark.parametrize("steps", ["10,50", "0,100", "10,abc,100"])
def test_a_ramp_that_does_not_end_at_100_is_refused(tmp_path: Path, steps: str) -> None:
    result = run("deploy.sh", tmp_path=tmp_path, ROLLOUT_STEPS=steps)
    assert result.returncode != 0
    assert "ROLLOUT_STEPS" in result.stderr
    assert result.stdout == ""


def test_the_worker_transcribes_at_once_unless_dynamic_batch_is_chosen(tmp_path: Path) -> None:
    def speech_processing(**env: str) -> str:
        plan(run("deploy.sh", tmp_path=tmp_path, ONLY="services", **env))
        worker = (tmp_path / "rendered" / "worker.yaml").read_text()
        found = re.search(r"PIPELINE_SPEECH_PROCESSING\n\s*value: (\S+)", worker)
        assert found is not None, worker
        return found.group(1)

    assert speech_processing() == "standard"
    assert speech_processing(SPEECH_PROCESSING="dynamic_batch") == "dynamic_batch"
    refused = run("deploy.sh", tmp_path=tmp_path, SPEECH_PROCESSING="cheap")
    assert refused.returncode != 0
    assert "SPEECH_PROCESSING must be standard or dynamic_batch" in refused.stderr


def test_policies_notify_the_channels_of_their_routes(tmp_path: Path) -> None:
    pager, slack, sales = (f"projects/acme-calls/notificationChannels/{n}" for n in (1, 2, 3))
    lines = plan(
        run(
            "deploy.sh",
            tmp_path=tmp_path,
            ONLY="monitoring",
            NOTIFY_PAGER=pager,
            NOTIFY_SLACK_CRITICAL=f"{slack},{pager}",  # a channel named twice is kept once
            NOTIFY_SLACK_SALES=sales,
        )
    )
    assert lines[0] == "gcloud projects describe acme-calls --format=value(projectNumber)"
    assert all("monitoring" in line or "auth print-access-token" in line for line in lines[1:])
    rendered = {
        p.name: json.loads(p.read_text())
        for p in (tmp_path / "rendered" / "monitoring").glob("*.json")
    }
    assert rendered["api-availability.json"]["notificationChannels"] == [pager, slack]
    assert rendered["high-value-lead.json"]["notificationChannels"] == [sales]
    assert rendered["processing-backlog.json"]["notificationChannels"] == []  # route unset
    for name, body in rendered.items():
        assert "${" not in json.dumps(body), name
    assert (
        'service_name = "ingestion-webhook"'
        in (
            rendered["webhook-latency.json"]["serviceLevelIndicator"]["requestBased"][
                "distributionCut"
            ]["distributionFilter"]
        )
    )


def test_backup_sh_creates_verifies_and_restores_then_switches(tmp_path: Path) -> None:
    [create] = plan(run("backup.sh", "create", "before-upgrade", tmp_path=tmp_path))
    assert create == (
        "gcloud spanner backups create before-upgrade --project=acme-calls --instance=ingestion"
        " --database=pipeline --retention-period=30d"
    )
    verify = run("backup.sh", "verify", tmp_path=tmp_path)
    assert verify.returncode == 0
    assert verify.stdout.splitlines()[-1].startswith("OK dry-run-backup")
    none = run("backup.sh", "verify", tmp_path=tmp_path, DRY_RUN_EXISTING="false")
    assert none.returncode == 1
    assert "no READY backup of pipeline" in none.stderr

    lines = plan(
        run(
            "backup.sh",
            "restore",
            "daily-full-20261201",
            "pipeline-restored",
            tmp_path=tmp_path,
            RESTORE_SUFFIX="r1",
        )
    )
    url = "PIPELINE_DATABASE_URL=spanner://projects/acme-calls/instances/ingestion/databases/pipeline-restored"
    in_order(
        lines,
        r"^gcloud pubsub subscriptions modify-push-config call-jobs-worker-push"
        r" --project=acme-calls --push-endpoint=$",
        r"^gcloud spanner databases restore --project=acme-calls --source-instance=ingestion"
        r" --source-backup=daily-full-20261201 --destination-instance=ingestion"
        r" --destination-database=pipeline-restored$",
        r"add-iam-policy-binding pipeline-restored .*ingestion-worker@.*databaseUser",
        rf"^gcloud run jobs update ingestion-migrate .*--update-env-vars={url}$",
        r"^gcloud run jobs execute ingestion-migrate .*--wait$",
        rf"^gcloud run services update ingestion-worker .*--update-env-vars={url}$",
        rf"^gcloud run services update ingestion-webhook .*--update-env-vars={url}$",
        rf"^gcloud run services update ingestion-api .*--update-env-vars={url}$",
        r"^gcloud spanner backup-schedules create daily-full .*--database=pipeline-restored",
        r"^gcloud pubsub subscriptions modify-push-config call-jobs-worker-push .*"
        r"--push-endpoint=https://ingestion-worker-dry-run\.run\.app/v1/pubsub/push"
        r" --push-auth-service-account=ingestion-push@acme-calls\.iam\.gserviceaccount\.com"
        r" --push-auth-token-audience=https://",
    )
    same = run("backup.sh", "restore", "b", "pipeline", tmp_path=tmp_path)
    assert same.returncode != 0
    assert "new database" in same.stderr
    assert same.stdout == ""
