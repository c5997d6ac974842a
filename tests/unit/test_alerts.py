"""Which calls raise a hot-lead alert, and what the alert may say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.alert_message import build_alert_message, clean_text, mask_number
from domain.alerts import AlertsConfig, should_alert, url_refusal
from domain.call import Call, CallMetadata
from domain.errors import ValidationFailed
from domain.results import CallAnalysis, Intent, LeadScore, ScoreReason, Tier
from domain.tenant import apply_patch, load_tenant, parse_tenant, tenant_document
from tests.support import tenant_document as tenant_doc

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HOOK = {"type": "webhook", "url": "https://leads.example.com/in", "secret_ref": "k"}


def _config(**alerts: object) -> AlertsConfig:
    return parse_tenant(tenant_doc(alerts={"destinations": [HOOK], **alerts}), NOW).config.alerts


def _score(score: int, tier: Tier) -> LeadScore:
    return LeadScore(score, tier, score >= 70, 70, "5")


@pytest.mark.parametrize(
    ("score", "tier", "intent", "alerted"),
    [
        (91, Tier.WARM, Intent.QUOTE_REQUEST, True),  # score above 90
        (90, Tier.WARM, Intent.QUOTE_REQUEST, False),
        (75, Tier.HOT, Intent.APPOINTMENT, True),  # tier hot
        (95, Tier.SPAM, Intent.SPAM, False),  # never spam
        (95, Tier.HOT, Intent.SPAM, False),
        (40, Tier.COLD, Intent.WRONG_NUMBER, False),
    ],
)
def test_the_default_rule_is_the_runbooks_high_value_lead(
    score: int, tier: Tier, intent: Intent, alerted: bool
) -> None:
    assert should_alert(_config(), _score(score, tier), intent) is alerted


def test_a_rule_holds_when_all_its_conditions_do() -> None:
    config = _config(rules=[{"min_score": 60, "tiers": ["warm"], "intents": ["quote_request"]}])
    assert should_alert(config, _score(65, Tier.WARM), Intent.QUOTE_REQUEST)
    assert not should_alert(config, _score(65, Tier.WARM), Intent.APPOINTMENT)
    assert not should_alert(config, _score(55, Tier.WARM), Intent.QUOTE_REQUEST)
    assert not should_alert(config, _score(95, Tier.HOT), Intent.QUOTE_REQUEST)


def test_no_destination_no_alert() -> None:
    assert not should_alert(AlertsConfig(), _score(99, Tier.HOT), Intent.APPOINTMENT)


@pytest.mark.parametrize(
    ("alerts", "field"),
    [
        ({"rules": [{}]}, "config.alerts.rules[0]"),
        ({"rules": [{"tiers": ["spam"]}]}, "config.alerts.rules[0].tiers"),
        ({"rules": [{"min_score": 101}]}, "config.alerts.rules[0].min_score"),
        ({"rules": [{"intents": ["lunch"]}]}, "config.alerts.rules[0].intents"),
        ({"destinations": [{"type": "pager"}]}, "config.alerts.destinations[0].type"),
        ({"destinations": [{"type": "webhook", "url": "https://a.example"}]},
         "config.alerts.destinations[0].secret"),
        ({"destinations": [{**HOOK, "name": "ops"}] * 2}, "config.alerts.destinations"),
    ],
)  # fmt: skip
def test_a_bad_alerts_section_names_its_field(alerts: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_tenant(tenant_doc(alerts=alerts), NOW)
    assert field in {f.field for f in caught.value.fields}


def test_url_refusals() -> None:
    assert url_refusal("https://hooks.slack.com/services/T/B/x", ()) is None
    assert url_refusal("http://127.0.0.1:8/x", ("127.0.0.1",)) is None
    assert "http" in (url_refusal("http://hooks.slack.com/x", ()) or "")
    assert "credentials" in (url_refusal("https://u:p@hooks.slack.com/x", ()) or "")
    assert "public" in (url_refusal("https://192.168.1.4/x", ()) or "")


def test_a_stored_tenant_loads_though_its_host_is_no_longer_listed() -> None:
    document = tenant_doc(alerts={"destinations": [{**HOOK, "url": "http://127.0.0.1:9/in"}]})
    tenant = parse_tenant(document, NOW, alert_http_hosts=("127.0.0.1",))
    stored = tenant_document(tenant, reveal_secrets=True)
    assert load_tenant(stored, NOW, NOW).config.alerts == tenant.config.alerts
    with pytest.raises(ValidationFailed):
        parse_tenant(stored, NOW)


def test_rules_change_by_patch_and_the_document_hides_secrets() -> None:
    slack = {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/cred"}
    tenant = parse_tenant(tenant_doc(alerts={"destinations": [slack]}), NOW)
    assert tenant_document(tenant)["config"]["alerts"]["destinations"][0]["webhook_url"] == "***"
    patched = apply_patch(tenant, {"config": {"alerts": {"rules": [{"min_score": 70}]}}}, NOW)
    assert patched.config.alerts.destinations == tenant.config.alerts.destinations
    assert [r.min_score for r in patched.config.alerts.rules] == [70]


def test_the_message_masks_the_number_and_drops_card_digits() -> None:
    call = Call(
        tenant_id="acme",
        call_id="CAL1",
        received_at=NOW,
        metadata=CallMetadata(caller="+13035550142", caller_name="MARIA LOPEZ"),
        analysis=CallAnalysis(
            engine="rules",
            summary="Paid with 4111-1111-1111-1111 exp 04/27; call 720 555 0187 back",
            intent=Intent.APPOINTMENT,
        ),
        lead_score=LeadScore(
            95,
            Tier.HOT,
            True,
            70,
            "5",
            (
                ScoreReason("answered_call", 20, "the call was answered"),
                ScoreReason("appointment_booked", 30, "a visit was booked on the call"),
                ScoreReason("duration", -15, "a very short call"),
                ScoreReason("urgency", 25, "high urgency"),
                ScoreReason("first_call", 5, "a first-time caller"),
            ),
        ),
    )
    message = build_alert_message(call, "https://p.example.com/")
    assert message.caller_number == "***-***-0142"
    assert message.caller_name == "MARIA LOPEZ"
    assert [r.factor for r in message.reasons] == ["appointment_booked", "urgency", "answered_call"]
    assert "4111" not in message.summary
    assert "1111" not in message.summary
    assert "555 0187" not in message.summary
    assert message.link == "https://p.example.com/v1/tenants/acme/calls/CAL1"
    assert mask_number(None) is None
    assert mask_number("12") == "***"
    assert clean_text("score 95 of 100") == "score 95 of 100"
