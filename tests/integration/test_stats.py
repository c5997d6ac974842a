"""GET /v1/tenants/{id}/stats over HTTP after real calls went through the service: completed and
failed calls, failures by stage, CRM outcomes by type, usage; and who may read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from entrypoints.demo.runner import audio_dir, load_manifest
from tests.integration.pipeline_service import (
    OPERATOR,
    RECORDED,
    PipelineService,
    pipeline_service,
)


async def stats(
    service: PipelineService, tenant_id: str, headers: dict[str, str], query: str = ""
) -> tuple[int, Any]:
    status, text = await service.get(f"/v1/tenants/{tenant_id}/stats{query}", headers)
    return status, json.loads(text)


def sizes(root: Path) -> tuple[int, int]:
    """The stored recording's size (there is one), and the downloaded one's."""
    [stored] = list(root.rglob("recording.*"))
    return stored.stat().st_size, (audio_dir() / load_manifest()[0]["file"]).stat().st_size


async def test_stats_count_completed_and_failed_calls_and_the_usage(tmp_path: Path) -> None:
    async with pipeline_service(tmp_path) as service:
        await service.create_tenant("acme", "111")
        await service.create_tenant("beta", "222", crm="none")
        # HubSpot refuses the first sync outright (400): FAILED at SYNCED.
        service.hubspot.fail_next(1, status=400)
        await service.post_call("acme", "111", "CALREFUSED", recorded=False)
        assert await service.wait_until_done("acme", ["CALREFUSED"]) == {"CALREFUSED": "FAILED"}
        await service.post_call("acme", "111", RECORDED, recorded=True)
        await service.post_call("acme", "111", "CALMISSED", recorded=False)
        await service.post_call("acme", "111", "CALGONE", recorded=True)  # its link is a 404
        await service.post_call("beta", "222", "CALBETA", recorded=False)
        done = await service.wait_until_done("acme", [RECORDED, "CALMISSED", "CALGONE"])
        assert done == {RECORDED: "COMPLETED", "CALMISSED": "COMPLETED", "CALGONE": "FAILED"}
        await service.wait_until_done("beta", ["CALBETA"])

        status, acme = await stats(service, "acme", OPERATOR)
        hubspot_requests = len(service.hubspot.requests)

    assert status == 200
    assert (acme["requests"], acme["completed"], acme["failed"], acme["in_progress"]) == (
        4,
        2,
        2,
        0,
    )
    assert acme["success_rate"] == 0.5
    assert acme["failures_by_stage"] == {"SYNCED": 1, "RECORDING_STORED": 1}
    timing = acme["processing_time_ms"]
    assert timing["count"] == 2
    assert 0 < timing["mean"] <= timing["p95"]
    hubspot = acme["crm_sync"]["hubspot"]
    assert (hubspot["success"], hubspot["failed"], hubspot["pending"]) == (2, 1, 0)
    assert hubspot["success_rate"] == round(2 / 3, 4)
    assert set(acme["crm_sync"]) == {"hubspot"}, "beta's calls are not acme's"
    assert sum(acme["lead_tiers"].values()) == 3  # all but the call whose recording is gone
    assert set(acme["lead_tiers"]) == {"hot", "warm", "cold", "spam"}

    usage = acme["usage"]
    # what is stored is the one recorded call's recording, its card numbers silenced (the
    # same length, re-encoded at the same bit rate: within a few per cent of the download)
    stored, downloaded = sizes(tmp_path)
    assert usage["stored_bytes"] == stored
    assert abs(stored - downloaded) < downloaded * 0.05
    assert 10 < usage["audio_seconds"] < 120
    assert usage["crm_api_calls"] == hubspot_requests  # every request the fake received
    assert (usage["llm_tokens_in"], usage["llm_tokens_out"]) == (0, 0)  # the rules analyzer
    [day] = usage["by_day"]
    assert day["stored_bytes"] == usage["stored_bytes"]


async def test_a_tenant_reads_only_its_own_stats(tmp_path: Path) -> None:
    async with pipeline_service(tmp_path, PIPELINE_WORKER_CONCURRENCY="0") as service:
        await service.create_tenant("acme", "111", crm="none")
        await service.create_tenant("beta", "222", crm="none")
        await service.post_call("acme", "111", "CALA1", recorded=False)
        await service.post_call("acme", "111", "CALA2", recorded=False)
        await service.post_call("beta", "222", "CALB1", recorded=False)
        acme_key = {"Authorization": f"Bearer {await service.api_key('acme')}"}
        beta_key = {"Authorization": f"Bearer {await service.api_key('beta')}"}

        own_status, own = await stats(service, "acme", acme_key)
        crossed_status, crossed = await stats(service, "acme", beta_key)
        beta_status, beta = await stats(service, "beta", beta_key)
        anonymous_status, _ = await stats(service, "acme", {})
        unknown_status, _ = await stats(service, "nobody", OPERATOR)
        bad_since_status, bad_since = await stats(service, "acme", acme_key, "?since=yesterday")
        since_status, later = await stats(service, "acme", acme_key, "?since=2099-01-01T00:00:00Z")

    assert own_status == 200
    assert (own["requests"], own["in_progress"], own["success_rate"]) == (2, 2, None)
    assert crossed_status == 404
    assert crossed["status"] == 404
    assert "requests" not in crossed
    assert beta_status == 200
    assert beta["requests"] == 1
    assert anonymous_status == 401
    assert unknown_status == 404
    assert bad_since_status == 400
    assert bad_since["errors"] == [
        {"field": "since", "message": "an ISO 8601 time with a UTC offset"}
    ]
    assert since_status == 400  # a window that starts in the future
    assert later["errors"][0]["field"] == "since"
