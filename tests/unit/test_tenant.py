"""Tenant documents: validated whole, secrets write-only, updates as JSON merge patches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import ValidationFailed
from domain.tenant import (
    SecretRef,
    SecretValue,
    Tenant,
    apply_patch,
    parse_tenant,
    tenant_document,
)
from tests.support import VECTOR_COMPANY_ID, VECTOR_KEY
from tests.support import tenant_document as tenant_json

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
CRM_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


def hubspot_tenant() -> Tenant:
    return parse_tenant(
        tenant_json(
            crm_config={
                "type": "hubspot",
                "access_token": CRM_TOKEN,
                "portal_id": "4242",
                "lead_status_property": "hs_lead_status",
            }
        ),
        NOW,
    )


def fields_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {f.field for f in exc.value.fields}


# --- parse_tenant ---------------------------------------------------------------------------


def test_the_support_document_parses_with_defaults() -> None:
    document = tenant_json()
    del document["config"]["ai_config"]["lead_scoring_threshold"]
    del document["config"]["crm_config"]
    tenant = parse_tenant(document, NOW)

    assert tenant.tenant_id == "acme"
    assert tenant.name == "Acme Heating & Air"
    assert tenant.active
    assert tenant.created_at == tenant.updated_at == NOW
    c = tenant.config
    assert c.callrail_company_id == VECTOR_COMPANY_ID
    assert c.webhook_secret == SecretValue(VECTOR_KEY)
    assert c.ai.lead_scoring_threshold == 70
    assert c.ai.analysis_model == "gemini-2.5-flash"
    assert c.ai.business_context == "HVAC repair in Denver"
    assert c.redact_pii is True
    assert c.crm.type == "none"
    assert c.callrail_api_key is None


def test_a_numeric_company_id_is_kept_as_text() -> None:
    tenant = parse_tenant(tenant_json(callrail_company_id=155920786), NOW)
    assert tenant.config.callrail_company_id == "155920786"


def test_a_suspended_tenant_is_not_active() -> None:
    document = tenant_json()
    document["status"] = "suspended"
    assert not parse_tenant(document, NOW).active


def test_an_invalid_document_reports_every_bad_field_at_once() -> None:
    document = tenant_json(
        tenant_id="Not A Valid Id!",
        crm_config={"type": "zoho"},
        ai_config={"lead_scoring_threshold": 150},
    )
    del document["name"]
    del document["config"]["webhook_secret"]

    with pytest.raises(ValidationFailed) as caught:
        parse_tenant(document, NOW)

    assert fields_of(caught) == {
        "tenant_id",
        "name",
        "config.ai_config.lead_scoring_threshold",
        "config.crm_config.type",
        "config.webhook_secret",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "deleted"}, "status"),
        ({"config": None}, "config"),
        ({"config": {"webhook_secret": "s"}}, "config.callrail_company_id"),
    ],
)
def test_top_level_problems_are_named(change: dict[str, Any], field: str) -> None:
    document = {**tenant_json(), **change}
    with pytest.raises(ValidationFailed) as caught:
        parse_tenant(document, NOW)
    assert fields_of(caught) == {field}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"redact_pii": "yes"}, "config.redact_pii"),
        ({"webhook_secret": "***"}, "config.webhook_secret"),
        (
            {"ai_config": {"lead_scoring_threshold": True}},
            "config.ai_config.lead_scoring_threshold",
        ),
        ({"ai_config": {"business_context": "x" * 4001}}, "config.ai_config.business_context"),
        ({"crm_config": {"type": "hubspot", "access_token": 42}}, "config.crm_config.access_token"),
        ({"crm_config": "hubspot"}, "config.crm_config"),
        ({"callrail_account_id": 7}, "config.callrail_account_id"),
    ],
)
def test_config_problems_are_named(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_tenant(tenant_json(**config), NOW)
    assert fields_of(caught) == {field}


def test_an_unusable_secret_reference_is_named_and_leaves_no_webhook_secret() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_tenant(tenant_json(webhook_secret_ref="has spaces"), NOW)
    assert fields_of(caught) == {"config.webhook_secret_ref", "config.webhook_secret"}


def test_validation_errors_never_echo_a_secret() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_tenant(tenant_json(tenant_id="BAD ID", redact_pii="no"), NOW)
    assert VECTOR_KEY not in str(caught.value)


# --- reading: secrets are write-only --------------------------------------------------------


def test_reads_mask_inline_secrets_and_show_references() -> None:
    document = tenant_document(hubspot_tenant())
    config = document["config"]
    assert config["webhook_secret"] == "***"
    assert config["crm_config"] == {
        "type": "hubspot",
        "access_token": "***",
        "portal_id": "4242",
        "lead_status_property": "hs_lead_status",
    }
    assert VECTOR_KEY not in repr(document)
    assert CRM_TOKEN not in repr(document)


def test_a_secret_reference_is_shown_by_name() -> None:
    document = tenant_json(webhook_secret_ref="acme-webhook", callrail_api_key_ref="acme-api")
    del document["config"]["webhook_secret"]
    shown = tenant_document(parse_tenant(document, NOW))["config"]
    assert shown["webhook_secret_ref"] == "acme-webhook"
    assert shown["callrail_api_key_ref"] == "acme-api"
    assert "webhook_secret" not in shown


def test_reveal_secrets_shows_them() -> None:
    config = tenant_document(hubspot_tenant(), reveal_secrets=True)["config"]
    assert config["webhook_secret"] == VECTOR_KEY
    assert config["crm_config"]["access_token"] == CRM_TOKEN


def test_a_read_document_parses_back_to_the_same_tenant_when_revealed() -> None:
    tenant = hubspot_tenant()
    again = parse_tenant(tenant_document(tenant, reveal_secrets=True), NOW)
    assert again == tenant


def test_secret_values_never_show_in_a_repr() -> None:
    assert VECTOR_KEY not in repr(SecretValue(VECTOR_KEY))
    assert VECTOR_KEY not in str(SecretValue(VECTOR_KEY))
    tenant = hubspot_tenant()
    assert VECTOR_KEY not in repr(tenant)
    assert CRM_TOKEN not in repr(tenant)  # a logged tenant must not leak its CRM credentials


# --- apply_patch ----------------------------------------------------------------------------


def test_changing_the_name_keeps_the_secret() -> None:
    updated = apply_patch(hubspot_tenant(), {"name": "Acme HVAC"}, LATER)
    assert updated.name == "Acme HVAC"
    assert updated.config.webhook_secret == SecretValue(VECTOR_KEY)
    assert updated.config.crm.secret_setting("access_token") == SecretValue(CRM_TOKEN)
    assert updated.created_at == NOW
    assert updated.updated_at == LATER


def test_sending_the_mask_back_keeps_the_old_secret() -> None:
    tenant = hubspot_tenant()
    shown = tenant_document(tenant)
    shown["config"]["ai_config"]["lead_scoring_threshold"] = 80
    updated = apply_patch(tenant, shown, LATER)
    assert updated.config.webhook_secret == SecretValue(VECTOR_KEY)
    assert updated.config.crm.secret_setting("access_token") == SecretValue(CRM_TOKEN)
    assert updated.config.ai.lead_scoring_threshold == 80


def test_a_new_inline_secret_replaces_the_old_one() -> None:
    updated = apply_patch(hubspot_tenant(), {"config": {"webhook_secret": "rotated"}}, LATER)
    assert updated.config.webhook_secret == SecretValue("rotated")


def test_setting_a_secret_ref_replaces_the_inline_secret() -> None:
    updated = apply_patch(
        hubspot_tenant(), {"config": {"webhook_secret_ref": "acme-webhook"}}, LATER
    )
    assert updated.config.webhook_secret == SecretRef("acme-webhook")
    shown = tenant_document(updated, reveal_secrets=True)["config"]
    assert "webhook_secret" not in shown
    assert shown["webhook_secret_ref"] == "acme-webhook"


def test_setting_an_inline_secret_replaces_a_reference() -> None:
    document = tenant_json(webhook_secret_ref="acme-webhook")
    del document["config"]["webhook_secret"]
    tenant = parse_tenant(document, NOW)
    updated = apply_patch(tenant, {"config": {"webhook_secret": "inline-now"}}, LATER)
    assert updated.config.webhook_secret == SecretValue("inline-now")


def test_null_removes_an_optional_field() -> None:
    tenant = hubspot_tenant()
    assert tenant.config.callrail_account_id is not None
    updated = apply_patch(
        tenant,
        {"config": {"callrail_account_id": None, "crm_config": {"portal_id": None}}},
        LATER,
    )
    assert updated.config.callrail_account_id is None
    assert "portal_id" not in updated.config.crm.settings
    assert updated.config.crm.secret_setting("access_token") == SecretValue(CRM_TOKEN)


def test_null_on_a_required_field_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        apply_patch(hubspot_tenant(), {"config": {"callrail_company_id": None}}, LATER)
    assert fields_of(caught) == {"config.callrail_company_id"}


def test_nested_settings_merge_rather_than_replace() -> None:
    updated = apply_patch(
        hubspot_tenant(), {"config": {"ai_config": {"business_context": "Plumbing"}}}, LATER
    )
    assert updated.config.ai.business_context == "Plumbing"
    assert updated.config.ai.lead_scoring_threshold == 70


def test_changing_the_tenant_id_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        apply_patch(hubspot_tenant(), {"tenant_id": "globex"}, LATER)
    assert fields_of(caught) == {"tenant_id"}


def test_repeating_the_tenant_id_is_allowed() -> None:
    updated = apply_patch(hubspot_tenant(), {"tenant_id": "acme", "status": "suspended"}, LATER)
    assert updated.tenant_id == "acme"
    assert not updated.active


def test_an_invalid_patch_reports_its_fields() -> None:
    with pytest.raises(ValidationFailed) as caught:
        apply_patch(
            hubspot_tenant(),
            {"name": "", "config": {"ai_config": {"lead_scoring_threshold": -1}}},
            LATER,
        )
    assert fields_of(caught) == {"name", "config.ai_config.lead_scoring_threshold"}
