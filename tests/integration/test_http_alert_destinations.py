"""Over HTTP, a tenant's alert destinations: a URL the SSRF guard would refuse (plain http,
a loopback or private address) is a 400 naming the field, unless its host is listed in
PIPELINE_ALERT_HTTP_HOSTS; an unknown key in `alerts` is refused by name; secrets read "***"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import AiohttpClient, Client, create_tenant, make_app, operator
from tests.support import tenant_document

SLACK_URL = "https://hooks.slack.com/services/T000/B000/slack-credential-123"


def _with_alerts(**alerts: Any) -> dict[str, Any]:
    return tenant_document(alerts=alerts)


async def _fields(client: Client, document: dict[str, Any]) -> set[str]:
    response = await client.post("/v1/tenants", json=document, headers=operator())
    assert response.status == 400, await response.text()
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert "slack-credential-123" not in str(body)
    return {e["field"] for e in body["errors"]}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/leads",
        "https://127.0.0.1:8443/leads",
        "https://10.0.0.8/leads",
        "https://[::1]/leads",
        "https://localhost/leads",
        "https://169.254.169.254/latest",
    ],
)
async def test_a_destination_the_guard_refuses_is_a_400_naming_the_field(
    client: Client, url: str
) -> None:
    document = _with_alerts(
        destinations=[{"type": "webhook", "url": url, "secret_ref": "leads-key"}]
    )
    assert await _fields(client, document) == {"config.alerts.destinations[0].url"}
    assert (await client.get("/v1/tenants/acme", headers=operator())).status == 404


async def test_an_inline_slack_url_is_checked_too(client: Client) -> None:
    document = _with_alerts(
        destinations=[{"type": "slack", "webhook_url": "http://hooks.slack.com/services/x"}]
    )
    assert await _fields(client, document) == {"config.alerts.destinations[0].webhook_url"}


async def test_unknown_keys_in_alerts_are_refused_by_name(client: Client) -> None:
    document = _with_alerts(
        destinations=[{"type": "slack", "webhook_url_ref": "slack-url", "chanel": "#sales"}],
        rules=[{"min_score": 91, "tier": "hot"}],
        sends_to="sales",
    )
    assert await _fields(client, document) == {
        "config.alerts.destinations[0].chanel",
        "config.alerts.rules[0].tier",
        "config.alerts.sends_to",
    }


async def test_a_listed_host_may_use_http_and_loopback(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(make_app(tmp_path, PIPELINE_ALERT_HTTP_HOSTS="127.0.0.1"))
    document = _with_alerts(
        destinations=[
            {"type": "slack", "webhook_url": SLACK_URL},
            {"type": "webhook", "url": "http://127.0.0.1:9/leads", "secret": "inline-key"},
        ],
        rules=[{"min_score": 80, "intents": ["appointment", "new_service_request"]}],
    )
    created = await create_tenant(client, document)
    assert created["config"]["alerts"] == {
        "destinations": [
            {"type": "slack", "name": "slack", "webhook_url": "***"},
            {
                "type": "webhook",
                "name": "webhook",
                "url": "http://127.0.0.1:9/leads",
                "secret": "***",
            },
        ],
        "rules": [{"min_score": 80, "intents": ["appointment", "new_service_request"]}],
    }
    # Another host is still https-only.
    other = _with_alerts(
        destinations=[{"type": "webhook", "url": "http://10.0.0.8/x", "secret": "k"}]
    )
    other["tenant_id"] = "beta"
    other["config"]["callrail_company_id"] = "999"
    assert await _fields(client, other) == {"config.alerts.destinations[0].url"}
