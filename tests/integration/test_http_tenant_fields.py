"""Over HTTP, a tenant document with a key nothing reads is a 400 problem naming the field, and
the deployment guide's document is taken as the HubSpot configuration it means."""

from __future__ import annotations

from tests.integration.conftest import Client, create_tenant, operator
from tests.support import tenant_document


async def test_an_unknown_crm_or_ai_key_is_a_400_problem_naming_it(client: Client) -> None:
    document = tenant_document()
    document["config"]["crm_config"] = {"type": "hubspot", "access_token_ref": "t", "tokn": "x"}
    document["config"]["ai_config"]["temprature"] = 0.2

    response = await client.post("/v1/tenants", json=document, headers=operator())

    assert response.status == 400
    assert response.content_type == "application/problem+json"
    fields = {e["field"] for e in (await response.json())["errors"]}
    assert fields == {"config.crm_config.tokn", "config.ai_config.temprature"}
    missing = await client.get("/v1/tenants/acme", headers=operator())
    assert missing.status == 404


async def test_the_seed_document_is_stored_as_hubspot(client: Client) -> None:
    document = tenant_document()
    document["config"]["crm_config"] = {
        "hubspot_api_key_secret": "hubspot-api-key",
        "hubspot_portal_id": "12345678",
    }
    created = await create_tenant(client, document)
    assert created["config"]["crm_config"] == {
        "type": "hubspot",
        "access_token_ref": "hubspot-api-key",
        "portal_id": "12345678",
    }

    patched = await client.patch(
        "/v1/tenants/acme",
        json={"config": {"crm_config": {"type": "none"}}},
        headers=operator(),
    )
    assert patched.status == 400
    fields = {e["field"] for e in (await patched.json())["errors"]}
    assert fields == {"config.crm_config.access_token_ref", "config.crm_config.portal_id"}
