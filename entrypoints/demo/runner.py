"""The demo: a throwaway service on loopback, a stand-in for CallRail's recording links and one
for the CRM, signed webhooks for the sample calls in audio/calls.json, and a table of what the
pipeline made of each call."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from domain.webhook import sign
from entrypoints.config import load_settings
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.logs import JsonFormatter
from entrypoints.standins import start_server
from entrypoints.standins.alert_webhook import AlertWebhookReceiver
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.recordings import RecordingServer
from entrypoints.standins.slack import FakeSlack

TENANT_ID = "demo-tenant-001"
COMPANY_ID = "12345"
SIGNING_KEY = "demo-signing-key-0001"
# Throwaway credentials for loopback stand-ins that live only as long as the demo.
OPERATOR_TOKEN = "demo-operator-token"  # noqa: S105
HUBSPOT_TOKEN = "demo-hubspot-token"  # noqa: S105
ALERT_WEBHOOK_KEY = "demo-alert-signing-key"
CALLERS = [
    "+13035550142",
    "+17205550187",
    "+13035550119",
    "+19705550163",
    "+18885550100",
    "+13035550171",
]


def audio_dir() -> Path:
    return Path(str(resources.files("entrypoints.demo").joinpath("audio")))


def load_manifest() -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = json.loads((audio_dir() / "calls.json").read_text())["calls"]
    return calls


def _webhook_body(index: int, entry: Mapping[str, Any], recording_url: str) -> dict[str, Any]:
    call_id = f"CALDEMO{index + 1:04d}"
    return {
        "resource_id": call_id,
        "company_id": COMPANY_ID,
        "customer_phone_number": CALLERS[index % len(CALLERS)],
        "customer_name": "",
        "tracking_phone_number": "+13035550100",
        "direction": "inbound",
        "answered": "true",
        "first_call": "false" if entry["expected"]["intent"] == "existing_customer" else "true",
        "voicemail": "false",
        "duration": str(entry.get("duration_s", 30)),
        "source": "Google Paid" if index % 3 == 0 else "Direct",
        "start_time": f"2026-11-20T15:{index:02d}:00-07:00",
        "recording": recording_url,
    }


async def run_demo(workdir: Path, out: TextIO, timeout_s: float = 180) -> list[dict[str, Any]]:
    """Runs the demo in `workdir` (which must exist); logs go to workdir/demo.log."""
    log_handler = logging.FileHandler(workdir / "demo.log")
    log_handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [log_handler]
    root.setLevel(logging.INFO)

    manifest = load_manifest()
    recordings = RecordingServer(
        {f"CALDEMO{i + 1:04d}": audio_dir() / e["file"] for i, e in enumerate(manifest)}
    )
    hubspot = FakeHubSpot(token=HUBSPOT_TOKEN)
    recording_server = await start_server(recordings.app())
    crm_server = await start_server(hubspot.app())
    rec_url, crm_url = recording_server.url, crm_server.url
    # Hot-lead alerts: a Slack stand-in and a receiver that verifies the webhook's signature.
    slack, alert_receiver = FakeSlack(), AlertWebhookReceiver(ALERT_WEBHOOK_KEY)
    slack_server = await start_server(slack.app())
    alert_server = await start_server(alert_receiver.app())
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{workdir / 'pipeline.db'}",
            "PIPELINE_AUDIO_STORE_URL": f"file://{workdir / 'audio'}",
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
            "PIPELINE_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "PIPELINE_CRM_HTTP_HOSTS": "127.0.0.1",
            "PIPELINE_RETRY_BASE_SECONDS": "0.5",
            "PIPELINE_ALERT_HTTP_HOSTS": "127.0.0.1",
        }
    )
    service = await start_server(create_app(build_container(settings)))
    base = service.url
    auth = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            tenant = {
                "tenant_id": TENANT_ID,
                "name": "Acme Heating & Air (demo)",
                "config": {
                    "callrail_company_id": COMPANY_ID,
                    "webhook_secret": SIGNING_KEY,
                    "crm_config": {
                        "type": "hubspot",
                        "base_url": crm_url,
                        "access_token": HUBSPOT_TOKEN,
                    },
                    "ai_config": {
                        "lead_scoring_threshold": 70,
                        "business_context": "Acme Heating & Air: furnace and AC repair, "
                        "installation and maintenance in Denver. A good lead needs a repair "
                        "or a new system.",
                    },
                    "alerts": {
                        "destinations": [
                            {"type": "slack", "webhook_url": slack.webhook_url(slack_server.url)},
                            {
                                "type": "webhook",
                                "url": alert_receiver.url(alert_server.url),
                                "secret": ALERT_WEBHOOK_KEY,
                            },
                        ]
                    },
                },
            }
            async with http.post(f"{base}/v1/tenants", json=tenant, headers=auth) as r:
                r.raise_for_status()
            print(f"service on {base}; {len(manifest)} sample calls", file=out)
            call_ids = []
            for index, entry in enumerate(manifest):
                call_id = f"CALDEMO{index + 1:04d}"
                body = json.dumps(
                    _webhook_body(index, entry, recordings.recording_url(rec_url, call_id))
                ).encode()
                headers = {"Content-Type": "application/json", "Signature": sign(SIGNING_KEY, body)}
                async with http.post(
                    f"{base}/v1/callrail/webhook", data=body, headers=headers
                ) as r:
                    print(f"  webhook {call_id} ({entry['scenario']}): {r.status}", file=out)
                    r.raise_for_status()
                call_ids.append(call_id)
            documents = await _wait_for_all(http, base, auth, call_ids, timeout_s, out)
    finally:
        await service.close()
        await recording_server.close()
        await crm_server.close()
        await slack_server.close()
        await alert_server.close()
        log_handler.close()
    _print_table(documents, manifest, out)
    _print_alerts(slack, alert_receiver, out)
    (workdir / "slack_messages.json").write_text(json.dumps(slack.messages, indent=2))
    (workdir / "alert_webhooks.json").write_text(json.dumps(alert_receiver.received, indent=2))
    # What the CRM holds, and every request it received: the demo's evidence of what left us.
    (workdir / "hubspot.json").write_text(json.dumps(hubspot.dump(), indent=2))
    sent = [{"method": r.method, "path": r.path, "body": r.body} for r in hubspot.requests]
    (workdir / "hubspot_requests.json").write_text(json.dumps(sent, indent=2))
    return documents


async def _wait_for_all(
    http: aiohttp.ClientSession,
    base: str,
    auth: dict[str, str],
    call_ids: list[str],
    timeout_s: float,
    out: TextIO,
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(call_ids):
        if time.monotonic() > deadline:
            missing = ", ".join(c for c in call_ids if c not in done)
            raise TimeoutError(f"calls not finished after {timeout_s:.0f}s: {missing}")
        for call_id in call_ids:
            if call_id in done:
                continue
            async with http.get(
                f"{base}/v1/tenants/{TENANT_ID}/calls/{call_id}", headers=auth
            ) as r:
                document = await r.json()
            if document["stage"] in ("COMPLETED", "FAILED"):
                done[call_id] = document
                print(f"  {call_id}: {document['stage']} ({len(done)}/{len(call_ids)})", file=out)
        await asyncio.sleep(0.25)
    return [done[c] for c in call_ids]


def _print_table(
    documents: list[dict[str, Any]], manifest: list[dict[str, Any]], out: TextIO
) -> None:
    rows = []
    for document, entry in zip(documents, manifest, strict=True):
        transcript = (document.get("transcript") or {}).get("text") or ""
        analysis = document.get("analysis") or {}
        score = document.get("lead_score") or {}
        crm = document.get("crm_sync") or {}
        rows.append(
            [
                document["call_id"],
                entry["scenario"],
                document["stage"],
                (transcript[:46] + "...") if len(transcript) > 46 else transcript,
                analysis.get("intent", ""),
                str(score.get("score", "")),
                score.get("tier", ""),
                crm.get("status", "")
                + (f" #{crm['activity_id']}" if crm.get("activity_id") else ""),
                ", ".join(f"{a['destination']} {a['status']}" for a in document.get("alerts", [])),
                _cost(document),
            ]
        )
    header = [
        "CALL", "SCENARIO", "STAGE", "TRANSCRIPT", "INTENT", "SCORE", "TIER", "CRM", "ALERTS",
        "COST",
    ]  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("", file=out)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)), file=out)
    # What audio redaction did to each recording that held a card number, an expiry, a code:
    # "billing_card: redacted recording stored: 4 spans silenced (CARD 2, CVV 1, EXPIRY 1)".
    for document, entry in zip(documents, manifest, strict=True):
        for event in document.get("timeline") or ():
            note = event.get("note") or ""
            if event.get("stage") == "RECORDING_STORED" and "silenced" in note:
                print(f"{entry['scenario']}: {note}", file=out)


def _cost(document: Mapping[str, Any]) -> str:
    """The call's cost at the price table's prices, and the CPU time it is priced by on one
    machine (at $0 a second unless the operator's price file sets a rate)."""
    cost = document.get("cost") or {}
    cpu = next((i["units"] for i in cost.get("items", ()) if i["item"] == "cpu"), None)
    seconds = f" ({cpu:.1f} cpu-s)" if cpu is not None else ""
    return f"${cost.get('total_usd', 0):.4f}{seconds}"


def _print_alerts(slack: FakeSlack, receiver: AlertWebhookReceiver, out: TextIO) -> None:
    """What the hot leads sent: the Slack stand-in's messages and the signed webhooks."""
    print("", file=out)
    print(f"Slack stand-in: {len(slack.messages)} message(s)", file=out)
    for message in slack.messages:
        print(f"  {message.get('text', '')}", file=out)
    verified = "signature verified" if receiver.rejected == 0 else f"{receiver.rejected} refused"
    print(f"Alert webhook: {len(receiver.received)} signed alert(s), {verified}", file=out)
