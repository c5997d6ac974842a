"""Tenant administration and call reads over HTTP: who may see what, and that secrets never
leave the service."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.integration.conftest import (
    AiohttpClient,
    Client,
    bearer,
    create_tenant,
    make_app,
    operator,
)
from tests.support import callrail_body, signed_headers, tenant_document

SECRETS = (
    "072e77e426f92738a72fe23c4d1953b4",
    "hubspot-token-secret-value",
    "other-tenant-signing-key",
)


def two_tenants() -> tuple[dict[str, Any], dict[str, Any]]:
    a = tenant_document("tenant-a", company_id="111")
    a["config"]["crm_config"] = {"type": "hubspot", "access_token": "hubspot-token-secret-value"}
    b = tenant_document("tenant-b", company_id="222", secret="other-tenant-signing-key")
    return a, b


async def post_call(client: Client, call_id: str, company_id: str, secret: str) -> None:
    body = callrail_body(call_id, company_id=company_id, recording=None)
    response = await client.post(
        "/v1/callrail/webhook", data=body, headers=signed_headers(body, secret)
    )
    assert response.status == 202, await response.text()


async def api_key(client: Client, tenant_id: str) -> str:
    response = await client.post(f"/v1/tenants/{tenant_id}/api-keys", headers=operator())
    assert response.status == 201
    key: str = (await response.json())["api_key"]
    return key


async def test_a_tenants_key_cannot_read_another_tenants_calls(client: Client) -> None:
    a, b = two_tenants()
    await create_tenant(client, a)
    await create_tenant(client, b)
    await post_call(client, "A1", "111", "072e77e426f92738a72fe23c4d1953b4")
    await post_call(client, "B1", "222", "other-tenant-signing-key")
    key_a = await api_key(client, "tenant-a")

    own = await client.get("/v1/tenants/tenant-a/calls/CALA1", headers=bearer(key_a))
    assert own.status == 200
    other = await client.get("/v1/tenants/tenant-b/calls/CALB1", headers=bearer(key_a))
    assert other.status == 404
    listing = await client.get("/v1/tenants/tenant-b/calls", headers=bearer(key_a))
    assert listing.status == 404
    # Asking for B's call under A's own path finds nothing either.
    crossed = await client.get("/v1/tenants/tenant-a/calls/CALB1", headers=bearer(key_a))
    assert crossed.status == 404
    own_list = await (await client.get("/v1/tenants/tenant-a/calls", headers=bearer(key_a))).json()
    assert [c["call_id"] for c in own_list["calls"]] == ["CALA1"]


async def test_a_tenant_key_cannot_administer(client: Client) -> None:
    a, _ = two_tenants()
    await create_tenant(client, a)
    key_a = await api_key(client, "tenant-a")
    assert (await client.get("/v1/tenants/tenant-a", headers=bearer(key_a))).status == 403
    assert (await client.get("/v1/tenants", headers=bearer(key_a))).status == 403
    assert (await client.post("/v1/tenants", json=a, headers=bearer(key_a))).status == 403


async def test_requests_without_credentials_are_401(client: Client) -> None:
    a, _ = two_tenants()
    await create_tenant(client, a)
    for path in ("/v1/tenants", "/v1/tenants/tenant-a", "/v1/tenants/tenant-a/calls"):
        response = await client.get(path)
        assert response.status == 401, path
        assert response.content_type == "application/problem+json"
    wrong = await client.get("/v1/tenants/tenant-a/calls", headers=bearer("ipk_not-a-real-key"))
    assert wrong.status == 401


async def test_secrets_never_appear_in_any_get_response(client: Client) -> None:
    a, b = two_tenants()
    await create_tenant(client, a)
    await create_tenant(client, b)
    await post_call(client, "A1", "111", "072e77e426f92738a72fe23c4d1953b4")
    key_a = await api_key(client, "tenant-a")
    bodies = []
    for path, headers in [
        ("/v1/tenants", operator()),
        ("/v1/tenants/tenant-a", operator()),
        ("/v1/tenants/tenant-b", operator()),
        ("/v1/tenants/tenant-a/calls", operator()),
        ("/v1/tenants/tenant-a/calls/CALA1", operator()),
        ("/v1/tenants/tenant-a/calls/CALA1", bearer(key_a)),
        ("/v1/health", {}),
    ]:
        response = await client.get(path, headers=headers)
        assert response.status == 200, path
        bodies.append(await response.text())
    for text in bodies:
        for secret in (*SECRETS, key_a):
            assert secret not in text
    tenant = await (await client.get("/v1/tenants/tenant-a", headers=operator())).json()
    assert tenant["config"]["webhook_secret"] == "***"
    assert tenant["config"]["crm_config"]["access_token"] == "***"


async def test_created_tenant_answer_masks_secrets(client: Client) -> None:
    a, _ = two_tenants()
    response = await client.post("/v1/tenants", json=a, headers=operator())
    assert response.status == 201
    assert response.headers["Location"] == "/v1/tenants/tenant-a"
    text = await response.text()
    assert all(secret not in text for secret in SECRETS)


async def test_invalid_tenant_document_lists_fields(client: Client) -> None:
    document = tenant_document("Bad Id!")
    document["config"]["ai_config"] = {"lead_scoring_threshold": 150}
    response = await client.post("/v1/tenants", json=document, headers=operator())
    assert response.status == 400
    fields = {e["field"] for e in (await response.json())["errors"]}
    assert fields == {"tenant_id", "config.ai_config.lead_scoring_threshold"}


async def test_duplicate_tenant_is_409(client: Client) -> None:
    a, _ = two_tenants()
    await create_tenant(client, a)
    response = await client.post("/v1/tenants", json=a, headers=operator())
    assert response.status == 409


async def test_patch_keeps_masked_secrets_and_the_webhook_still_verifies(client: Client) -> None:
    a, _ = two_tenants()
    await create_tenant(client, a)
    shown = await (await client.get("/v1/tenants/tenant-a", headers=operator())).json()
    shown["name"] = "Renamed Heating"
    response = await client.patch("/v1/tenants/tenant-a", json=shown, headers=operator())
    assert response.status == 200
    assert (await response.json())["name"] == "Renamed Heating"
    # The "***" sent back did not overwrite the signing key.
    await post_call(client, "A9", "111", "072e77e426f92738a72fe23c4d1953b4")


async def test_call_listing_pages_and_filters(idle_client: Client) -> None:
    client = idle_client
    a, _ = two_tenants()
    await create_tenant(client, a)
    for n in range(5):
        await post_call(client, f"P{n}", "111", "072e77e426f92738a72fe23c4d1953b4")
    seen: list[str] = []
    token = None
    while True:
        query = "?limit=2" + (f"&page_token={token}" if token else "")
        page = await (
            await client.get(f"/v1/tenants/tenant-a/calls{query}", headers=operator())
        ).json()
        seen.extend(c["call_id"] for c in page["calls"])
        token = page["next_page_token"]
        if token is None:
            break
    assert sorted(seen) == [f"CALP{n}" for n in range(5)]
    assert len(seen) == 5
    received = await client.get("/v1/tenants/tenant-a/calls?status=received", headers=operator())
    assert len((await received.json())["calls"]) == 5
    done = await client.get("/v1/tenants/tenant-a/calls?status=completed", headers=operator())
    assert (await done.json())["calls"] == []
    bad = await client.get("/v1/tenants/tenant-a/calls?status=nonsense", headers=operator())
    assert bad.status == 400
    bad_token = await client.get("/v1/tenants/tenant-a/calls?page_token=zzz", headers=operator())
    assert bad_token.status == 400


async def test_admin_api_is_closed_without_an_operator_token(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    app = make_app(tmp_path, PIPELINE_OPERATOR_TOKEN="")
    client = await aiohttp_client(app)
    response = await client.get("/v1/tenants", headers=bearer("anything"))
    assert response.status == 403
    assert "PIPELINE_OPERATOR_TOKEN" in (await response.json())["detail"]


async def test_health_endpoints(client: Client) -> None:
    health = await client.get("/v1/health")
    assert health.status == 200
    body = await health.json()
    assert body["status"] == "healthy"
    assert set(body["services"]) == {"database", "storage", "speech_api", "vertex_ai", "queue"}
    assert body["services"]["database"]["status"] == "healthy"
    assert body["services"]["queue"]["depth"] == 0
    assert (await client.get("/health/live")).status == 200
    ready = await client.get("/health/ready")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_queue_depth_counts_accepted_calls(idle_client: Client) -> None:
    client = idle_client
    a, _ = two_tenants()
    await create_tenant(client, a)
    await post_call(client, "Q1", "111", "072e77e426f92738a72fe23c4d1953b4")
    await post_call(client, "Q2", "111", "072e77e426f92738a72fe23c4d1953b4")
    body = await (await client.get("/v1/health")).json()
    assert body["services"]["queue"]["depth"] == 2


async def test_unknown_route_and_method_are_problems(client: Client) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status == 404
    assert missing.content_type == "application/problem+json"
    wrong_method = await client.get("/v1/callrail/webhook")
    assert wrong_method.status == 405
    assert wrong_method.content_type == "application/problem+json"


async def wait_for(client: Client, path: str, stage: str) -> dict[str, Any]:
    for _ in range(200):
        call: dict[str, Any] = await (await client.get(path, headers=operator())).json()
        if call["stage"] == stage:
            return call
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never reached {stage}: {call['stage']}")


async def test_reprocess_reruns_a_finished_call_from_a_stage(client: Client) -> None:
    a, _ = two_tenants()
    a["config"]["crm_config"] = {"type": "none"}
    await create_tenant(client, a)
    await post_call(client, "R1", "111", "072e77e426f92738a72fe23c4d1953b4")
    path = "/v1/tenants/tenant-a/calls/CALR1"
    done = await wait_for(client, path, "COMPLETED")
    key = await api_key(client, "tenant-a")
    denied = await client.post(
        f"{path}/reprocess", json={"from_stage": "SCORED"}, headers=bearer(key)
    )
    assert denied.status == 403
    bad = await client.post(f"{path}/reprocess", json={"from_stage": "DONE"}, headers=operator())
    assert bad.status == 400
    response = await client.post(
        f"{path}/reprocess", json={"from_stage": "SCORED"}, headers=operator()
    )
    assert response.status == 202
    assert (await response.json())["stage"] == "ANALYZED"
    again = await wait_for(client, path, "COMPLETED")
    assert len(again["timeline"]) > len(done["timeline"])
    assert any(e.get("note") == "reprocess from SCORED" for e in again["timeline"])
