"""The whole service in this process on a real port (SQLite, disk audio, local queue, Whisper,
rules), with the recording stand-in and the HubSpot fake beside it, all on 127.0.0.1: what the
metrics and stats tests drive calls through."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import attrs

from domain.webhook import sign
from entrypoints.config import load_settings
from entrypoints.container import Container, build_container
from entrypoints.demo.runner import audio_dir, load_manifest
from entrypoints.http.app import create_app
from entrypoints.standins import start_server
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.recordings import RecordingServer
from tests.integration.openapi_check import hold_to_openapi
from tests.support import tenant_document

OPERATOR = {"Authorization": "Bearer pipeline-service-operator-token"}
HUBSPOT_TOKEN = "pat-na1-pipeline-service-token"
RECORDED = "CALREC1"  # the one call id the recording stand-in has audio for
TERMINAL = ("COMPLETED", "FAILED")


@attrs.define
class PipelineService:
    http: aiohttp.ClientSession
    url: str
    recordings: RecordingServer
    recordings_url: str
    hubspot: FakeHubSpot
    hubspot_url: str
    container: Container
    keys: dict[str, str] = attrs.field(factory=dict)  # tenant id -> signing key

    async def create_tenant(self, tenant_id: str, company_id: str, crm: str = "hubspot") -> None:
        key = f"signing-key-{tenant_id}"
        document = tenant_document(tenant_id, company_id=company_id, secret=key)
        if crm == "hubspot":
            document["config"]["crm_config"] = {
                "type": "hubspot",
                "base_url": self.hubspot_url,
                "access_token": HUBSPOT_TOKEN,
            }
        elif crm == "hubspot-revoked":
            document["config"]["crm_config"] = {
                "type": "hubspot",
                "base_url": self.hubspot_url,
                "access_token": "pat-na1-revoked",
            }
        async with self.http.post(f"{self.url}/v1/tenants", json=document, headers=OPERATOR) as r:
            assert r.status == 201, await r.text()
        self.keys[tenant_id] = key

    async def api_key(self, tenant_id: str) -> str:
        async with self.http.post(
            f"{self.url}/v1/tenants/{tenant_id}/api-keys", headers=OPERATOR
        ) as r:
            assert r.status == 201
            key: str = (await r.json())["api_key"]
            return key

    async def post_call(
        self, tenant_id: str, company_id: str, call_id: str, *, recorded: bool
    ) -> None:
        """A missed call (no recording), or an answered one whose recording link is the
        stand-in's: audio for RECORDED, 404 for any other call id."""
        body: dict[str, Any] = {"resource_id": call_id, "company_id": company_id}
        if recorded:
            body.update(
                answered="true",
                duration="30",
                recording=self.recordings.recording_url(self.recordings_url, call_id),
            )
        else:
            body.update(answered="false", duration="0")
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Signature": sign(self.keys[tenant_id], raw)}
        async with self.http.post(
            f"{self.url}/v1/callrail/webhook", data=raw, headers=headers
        ) as r:
            assert r.status == 202, await r.text()

    async def wait_until_done(
        self, tenant_id: str, call_ids: list[str], timeout_s: float = 120
    ) -> dict[str, str]:
        """Each call's final stage, once every one of them is COMPLETED or FAILED."""
        deadline = time.monotonic() + timeout_s
        stages: dict[str, str] = {}
        while time.monotonic() < deadline:
            async with self.http.get(
                f"{self.url}/v1/tenants/{tenant_id}/calls?limit=200", headers=OPERATOR
            ) as r:
                stages = {c["call_id"]: c["stage"] for c in (await r.json())["calls"]}
            if all(stages.get(c) in TERMINAL for c in call_ids):
                return {c: stages[c] for c in call_ids}
            await asyncio.sleep(0.2)
        raise AssertionError(f"calls not done after {timeout_s}s: {stages}")

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        async with self.http.get(f"{self.url}{path}", headers=headers or {}) as r:
            return r.status, await r.text()


@asynccontextmanager
async def pipeline_service(tmp_path: Path, **env: str) -> AsyncIterator[PipelineService]:
    recordings = RecordingServer({RECORDED: audio_dir() / load_manifest()[0]["file"]})
    hubspot = FakeHubSpot(token=HUBSPOT_TOKEN)
    recording_server = await start_server(recordings.app())
    hubspot_server = await start_server(hubspot.app())
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'pipeline.db'}",
            "PIPELINE_AUDIO_STORE_URL": f"file://{tmp_path / 'audio'}",
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
            "PIPELINE_CRM_HTTP_HOSTS": "127.0.0.1",
            "PIPELINE_OPERATOR_TOKEN": OPERATOR["Authorization"].removeprefix("Bearer "),
            "PIPELINE_RETRY_BASE_SECONDS": "0.2",
            **env,
        }
    )
    container = build_container(settings)
    service = await start_server(hold_to_openapi(create_app(container)))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            yield PipelineService(
                http,
                service.url,
                recordings,
                recording_server.url,
                hubspot,
                hubspot_server.url,
                container,
            )
    finally:
        await service.close()
        await hubspot_server.close()
        await recording_server.close()
