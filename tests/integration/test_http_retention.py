"""The operator's retention and erasure routes over HTTP, on the real app (SQLite file, audio on
disk): every answer held to the OpenAPI document by the conftest."""

from __future__ import annotations

from pathlib import Path

from entrypoints.http.keys import CONTAINER
from tests.integration.conftest import Client, bearer, create_tenant, operator
from tests.integration.retention_seed import PHONES
from tests.integration.test_retention import add_tenant_with_calls
from tests.support import tenant_document

PROBLEM = "application/problem+json"


async def test_delete_a_call(client: Client, tmp_path: Path) -> None:
    container = client.app[CONTAINER]
    first, second = await add_tenant_with_calls(container, "acme", 2)
    path = f"/v1/tenants/acme/calls/{first}"

    response = await client.delete(path, headers=operator())

    assert response.status == 200, await response.text()
    assert await response.json() == {
        "tenant_id": "acme",
        "call_id": first,
        "deleted": {"calls": 1, "jobs": 0, "objects": 3},
    }
    assert (await client.get(path, headers=operator())).status == 404
    assert not list((tmp_path / "audio").rglob(f"*{first}*"))
    assert (await client.get(f"/v1/tenants/acme/calls/{second}", headers=operator())).status == 200
    again = await client.delete(path, headers=operator())
    assert again.status == 404
    assert again.content_type == PROBLEM


async def test_a_tenants_own_key_cannot_delete(client: Client) -> None:
    container = client.app[CONTAINER]
    (call_id,) = await add_tenant_with_calls(container, "acme", 1)
    key = await container.issue_api_key()("acme")
    for response in (
        await client.delete(f"/v1/tenants/acme/calls/{call_id}", headers=bearer(key)),
        await client.delete("/v1/tenants/acme?confirm=acme", headers=bearer(key)),
        await client.post("/v1/tenants/acme/expire?dry_run=true", headers=bearer(key)),
        await client.get("/v1/deletions", headers=bearer(key)),
    ):
        assert response.status == 403
        assert response.content_type == PROBLEM
    assert (
        await client.get(f"/v1/tenants/acme/calls/{call_id}", headers=bearer(key))
    ).status == 200


async def test_delete_a_tenant_only_with_its_id_confirmed(client: Client, tmp_path: Path) -> None:
    container = client.app[CONTAINER]
    ids = await add_tenant_with_calls(container, "acme", 2, secret_refs=True)
    await create_tenant(client, tenant_document("beta", company_id="222"))

    refused = await client.delete("/v1/tenants/acme?confirm=beta", headers=operator())
    assert refused.status == 400
    assert refused.content_type == PROBLEM
    assert "confirm" in [e["field"] for e in (await refused.json())["errors"]]
    missing = await client.delete("/v1/tenants/acme", headers=operator())
    assert missing.status == 400

    response = await client.delete("/v1/tenants/acme?confirm=acme", headers=operator())

    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["deleted"] == {
        "api_keys": 1,
        "calls": 2,
        "jobs": 0,
        "objects": 6,
        "tenants": 1,
        "usage_days": 0,
    }
    assert body["secrets_left"] == ["acme/signing-key", "acme/callrail-key"]
    assert (await client.get("/v1/tenants/acme", headers=operator())).status == 404
    assert (await client.get("/v1/tenants/beta", headers=operator())).status == 200
    assert not list((tmp_path / "audio").rglob("*acme*"))
    gone = await client.delete("/v1/tenants/acme?confirm=acme", headers=operator())
    assert gone.status == 404

    records = await (await client.get("/v1/deletions?tenant_id=acme", headers=operator())).json()
    assert [r["action"] for r in records["deletions"]] == ["tenant.deleted", "tenant.calls_deleted"]
    assert {r["actor"] for r in records["deletions"]} == {"http:operator"}
    text = str(records)
    assert not any(call_id in text for call_id in ids)
    assert PHONES["acme"] not in text


async def test_expire_lists_on_a_dry_run_then_erases(client: Client, tmp_path: Path) -> None:
    container = client.app[CONTAINER]
    retention = {"recordings_days": 30, "transcripts_days": 365}
    (call_id,) = await add_tenant_with_calls(
        container, "acme", 1, days_ago=100, retention=retention
    )

    dry = await client.post("/v1/tenants/acme/expire?dry_run=true", headers=operator())

    assert dry.status == 200, await dry.text()
    assert await dry.json() == {
        "tenant_id": "acme",
        "dry_run": True,
        "calls": [{"call_id": call_id, "recording": True, "transcript": False, "objects": 0}],
        "changed_meanwhile": 0,
    }
    assert list((tmp_path / "audio").rglob("*.mp3"))

    done = await client.post("/v1/tenants/acme/expire", headers=operator())
    assert done.status == 200
    assert (await done.json())["calls"] == [
        {"call_id": call_id, "recording": True, "transcript": False, "objects": 3}
    ]
    assert not list((tmp_path / "audio").rglob("*.mp3"))
    call = await (await client.get(f"/v1/tenants/acme/calls/{call_id}", headers=operator())).json()
    assert call["recording"] is None
    assert call["transcript"] is not None  # kept 365 days
    assert call["lead_score"]["score"] == 77

    bad = await client.post("/v1/tenants/acme/expire?dry_run=maybe", headers=operator())
    assert bad.status == 400
    unknown = await client.post("/v1/tenants/nobody/expire", headers=operator())
    assert unknown.status == 404
