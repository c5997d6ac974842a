"""The deployment guide's tenant document either works as the HubSpot configuration it means or
is refused by name; a key nothing reads is never stored unread (issue 26, item 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.memory.fakes import InMemorySecretStore
from domain.crm import CrmContact
from domain.errors import ValidationFailed
from domain.tenant import SecretRef, apply_patch, load_tenant, parse_tenant, tenant_document
from entrypoints.crm import ConfiguredCrmGatewayFactory
from entrypoints.standins import serve
from entrypoints.standins.hubspot import FakeHubSpot
from tests.support import tenant_document as tenant_json

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
HUBSPOT_TOKEN = "pat-na1-seed-0000-1111-2222-3333"


def seed_document(**crm: Any) -> dict[str, Any]:
    """The seeds' tenant document, as the deployment guide gives it."""
    document = tenant_json(
        crm_config={"hubspot_api_key_secret": "hubspot-api-key", "hubspot_portal_id": "12345678"},
        ai_config={"lead_scoring_threshold": 70, "analysis_model": "gemini-pro"},
    )
    document["config"]["crm_config"].update(crm)
    return document


def refused(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        parse_tenant(document, NOW)
    return {f.field: f.message for f in caught.value.fields}


def test_the_seed_document_is_a_hubspot_configuration_with_its_token_in_the_secret() -> None:
    tenant = parse_tenant(seed_document(), NOW)

    assert tenant.config.crm.type == "hubspot"
    assert tenant.config.crm.secret_setting("access_token") == SecretRef("hubspot-api-key")
    assert tenant_document(tenant)["config"]["crm_config"] == {
        "type": "hubspot",
        "access_token_ref": "hubspot-api-key",
        "portal_id": "12345678",
    }
    assert tenant.config.ai.analysis_model == "gemini-pro"


async def test_the_seed_documents_secret_is_the_token_hubspot_is_called_with() -> None:
    fake = FakeHubSpot(token=HUBSPOT_TOKEN)
    async with serve(fake.app()) as url:
        tenant = parse_tenant(seed_document(base_url=url), NOW)
        secrets = InMemorySecretStore({"hubspot-api-key": HUBSPOT_TOKEN})
        factory = ConfiguredCrmGatewayFactory(secrets, http_hosts=("127.0.0.1",))
        try:
            gateway = await factory.for_tenant(tenant)
            assert gateway is not None
            contact_id = await gateway.upsert_contact(
                CrmContact("+13035550142", "Jane Doe", None, None)
            )
        finally:
            await factory.close()
    assert contact_id
    assert any(c["properties"].get("phone") == "+13035550142" for c in fake.dump()["contacts"])


@pytest.mark.parametrize("crm_type", ["none", "salesforce"])
def test_seed_keys_under_another_crm_type_are_refused_by_name(crm_type: str) -> None:
    fields = refused(seed_document(type=crm_type))
    assert "config.crm_config.hubspot_api_key_secret" in fields
    assert f"not a {crm_type} setting" in fields["config.crm_config.hubspot_api_key_secret"]


def test_the_seed_secret_and_an_access_token_together_are_refused() -> None:
    fields = refused(seed_document(access_token="pat-inline"))
    assert fields == {
        "config.crm_config.hubspot_api_key_secret": (
            "give access_token_ref or hubspot_api_key_secret, not both"
        )
    }


def test_a_seed_secret_name_that_is_not_a_name_is_refused() -> None:
    fields = refused(seed_document(hubspot_api_key_secret="not a name!"))
    assert set(fields) == {"config.crm_config.hubspot_api_key_secret"}


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("crm_config", "refresh_token_ref"),
        ("crm_config", "hubspot_api_key"),
        ("ai_config", "temperature"),
        ("ai_config", "questions"),
    ],
)
def test_an_unknown_key_is_refused_with_its_name(section: str, key: str) -> None:
    document = tenant_json(crm_config={"type": "hubspot", "access_token_ref": "hubspot"})
    document["config"][section][key] = "x"
    fields = refused(document)
    assert list(fields) == [f"config.{section}.{key}"]


def test_a_crm_of_type_none_takes_no_settings() -> None:
    fields = refused(tenant_json(crm_config={"type": "none", "portal_id": "1"}))
    assert fields == {
        "config.crm_config.portal_id": "not a none setting; none takes no other setting"
    }


def test_a_stored_tenant_with_a_key_no_longer_taken_still_loads_and_an_update_names_it() -> None:
    document = tenant_json(crm_config={"type": "hubspot", "access_token": "t", "legacy": "1"})
    stored = load_tenant(document, NOW, NOW)
    assert stored.config.crm.settings["legacy"] == "1"

    with pytest.raises(ValidationFailed) as caught:
        apply_patch(stored, {"name": "Renamed"}, NOW)
    assert [f.field for f in caught.value.fields] == ["config.crm_config.legacy"]

    cleaned = apply_patch(stored, {"config": {"crm_config": {"legacy": None}}}, NOW)
    assert "legacy" not in cleaned.config.crm.settings
