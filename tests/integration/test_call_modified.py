"""CallRail's Call Modified through the whole service on a real port (SQLite, disk audio, the
local queue, Whisper, the rules analyzer), with the recording stand-in, the HubSpot stand-in
(which counts call objects created and updated) and the Slack stand-in, all on 127.0.0.1.

A post-call body without a recording, then a Call Modified carrying one; a spam marking; an
edit; an identical repeat; a Call Modified while the call is in the middle of its CRM sync."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from aiohttp import web
from aiohttp.typedefs import Middleware

from domain.webhook import sign
from entrypoints.config import load_settings
from entrypoints.container import build_container
from entrypoints.demo.runner import audio_dir
from entrypoints.http.app import create_app
from entrypoints.http.webhook import MAX_BODY
from entrypoints.standins import start_server
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.recordings import RecordingServer
from entrypoints.standins.salesforce import FakeSalesforce
from entrypoints.standins.slack import FakeSlack
from tests.integration.openapi_check import hold_to_openapi
from tests.support import tenant_document, vector_body

OPERATOR = {"Authorization": "Bearer call-modified-operator-token"}
HUBSPOT_TOKEN = "pat-na1-call-modified-token"
TENANT, COMPANY, KEY = "acme", "COM8154748ae6bd4e278a7cddd38a662f4f", "signing-key-acme"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.define
class Service:
    http: aiohttp.ClientSession
    url: str
    recordings: RecordingServer
    recordings_url: str
    hubspot: FakeHubSpot
    slack: FakeSlack
    salesforce: FakeSalesforce

    def body(self, call_id: str, *, recorded: bool, **fields: Any) -> dict[str, Any]:
        """CallRail's call object (its published sample, another call) for an answered call,
        with its recording link when `recorded`."""
        payload: dict[str, Any] = copy.deepcopy(json.loads(vector_body()))
        for legacy in ("id", "company_id", "recording", "recording_player", "recording_duration"):
            payload.pop(legacy)
        payload.update(
            resource_id=call_id,
            company_resource_id=COMPANY,
            answered=True,
            voicemail=False,
            call_type="answered",
            duration="48",
        )
        if recorded:
            payload["recording"] = self.recordings.recording_url(self.recordings_url, call_id)
            payload["recording_duration"] = "46"
        payload.update(fields)
        return payload

    async def send(self, payload: dict[str, Any], key: str = KEY) -> tuple[int, dict[str, Any]]:
        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Signature": sign(key, raw)}
        async with self.http.post(
            f"{self.url}/v1/callrail/webhook", data=raw, headers=headers
        ) as r:
            return r.status, await r.json(content_type=None)

    async def call(self, call_id: str) -> dict[str, Any]:
        path = f"{self.url}/v1/tenants/{TENANT}/calls/{call_id}"
        async with self.http.get(path, headers=OPERATOR) as r:
            assert r.status == 200, await r.text()
            document: dict[str, Any] = await r.json()
            return document

    async def finished(self, call_id: str, runs: int = 1, timeout_s: float = 120) -> dict[str, Any]:
        """The call once it is COMPLETED for the `runs`-th time (its timeline says how often)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            document = await self.call(call_id)
            done = [e for e in document["timeline"] if e["stage"] == "COMPLETED"]
            if document["stage"] == "COMPLETED" and len(done) >= runs:
                return document
            assert document["stage"] != "FAILED", document["failure"]
            await asyncio.sleep(0.2)
        raise AssertionError(f"call {call_id} not completed {runs} times: {document['timeline']}")


@asynccontextmanager
async def service(
    tmp_path: Path,
    calls: list[str],
    hubspot_gate: Middleware | None = None,
    crm: str = "hubspot",
    **env: str,
) -> AsyncIterator[Service]:
    recordings = RecordingServer({c: audio_dir() / "urgent_booking.mp3" for c in calls})
    hubspot, slack, salesforce = FakeHubSpot(token=HUBSPOT_TOKEN), FakeSlack(), FakeSalesforce()
    hubspot_app = hubspot.app()
    if hubspot_gate is not None:
        hubspot_app.middlewares.append(hubspot_gate)
    servers = [
        await start_server(recordings.app()),
        await start_server(hubspot_app),
        await start_server(slack.app()),
        await start_server(salesforce.app()),
    ]
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'pipeline.db'}",
            "PIPELINE_AUDIO_STORE_URL": f"file://{tmp_path / 'audio'}",
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
            "PIPELINE_CRM_HTTP_HOSTS": "127.0.0.1",
            "PIPELINE_ALERT_HTTP_HOSTS": "127.0.0.1",
            "PIPELINE_OPERATOR_TOKEN": OPERATOR["Authorization"].removeprefix("Bearer "),
            "PIPELINE_RETRY_BASE_SECONDS": "0.2",
            **env,
        }
    )
    app = await start_server(hold_to_openapi(create_app(build_container(settings))))
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            document = tenant_document(TENANT, company_id=COMPANY, secret=KEY)
            document["config"]["crm_config"] = {
                "type": "hubspot",
                "base_url": servers[1].url,
                "access_token": HUBSPOT_TOKEN,
            }
            if crm == "salesforce":
                document["config"]["crm_config"] = {
                    "type": "salesforce",
                    "instance_url": servers[3].url,
                    "client_id": salesforce.client_id,
                    "client_secret": salesforce.client_secret,
                }
            document["config"]["alerts"] = {
                "destinations": [
                    {"type": "slack", "webhook_url": slack.webhook_url(servers[2].url)}
                ],
                "rules": [{"min_score": 0}],  # every scored call that is not spam
            }
            async with http.post(f"{app.url}/v1/tenants", json=document, headers=OPERATOR) as r:
                assert r.status == 201, await r.text()
            yield Service(http, app.url, recordings, servers[0].url, hubspot, slack, salesforce)
    finally:
        await app.close()
        for server in servers:
            await server.close()


async def test_a_recording_that_arrives_late_reruns_the_call_and_updates_its_one_activity(
    tmp_path: Path,
) -> None:
    async with service(tmp_path, ["CALLATE1"]) as s:
        status, answer = await s.send(s.body("CALLATE1", recorded=False))
        assert (status, answer["duplicate"]) == (202, False)
        first = await s.finished("CALLATE1")
        assert first["transcript"] is None
        assert first["recording"] is None
        assert (s.hubspot.call_creates, s.hubspot.call_updates) == (1, 0)
        assert len(s.slack.messages) == 1
        assert [a["status"] for a in first["alerts"]] == ["sent"]

        modified = s.body(
            "CALLATE1", recorded=True, changes=["recording_duration", "transcription_text"]
        )
        status, answer = await s.send(modified)
        assert (status, answer["duplicate"], answer["change"]) == (202, False, "recording")

        second = await s.finished("CALLATE1", runs=2)
        assert "no heat" in second["transcript"]["text"].lower()
        assert second["recording"]["bytes"] > 0
        assert second["lead_score"]["tier"] == "hot"
        assert second["lead_score"]["score"] > first["lead_score"]["score"]
        # One activity in the CRM, rewritten with the new score; the alert was not sent again.
        assert (s.hubspot.call_creates, s.hubspot.call_updates) == (1, 1)
        (activity,) = s.hubspot.calls.values()
        assert (
            f"({second['lead_score']['tier']}, {second['lead_score']['score']})"
            in (activity["hs_call_title"])
        )
        assert second["crm_sync"]["activity_id"] == first["crm_sync"]["activity_id"]
        assert len(s.slack.messages) == 1
        assert [a["status"] for a in second["alerts"]] == ["sent"]

        # The same Call Modified again changes nothing.
        status, answer = await s.send(modified)
        assert (status, answer["duplicate"], answer["stage"]) == (200, True, "COMPLETED")
        assert "change" not in answer
        await asyncio.sleep(1.0)  # time for a job, were one queued
        assert await s.call("CALLATE1") == second
        assert (s.hubspot.call_creates, s.hubspot.call_updates) == (1, 1)
        assert len(s.slack.messages) == 1


async def test_a_spam_marking_rescores_the_call_as_spam_and_an_edit_is_stored(
    tmp_path: Path,
) -> None:
    async with service(tmp_path, []) as s:
        post_call = s.body("CALSPAM1", recorded=False)
        assert (await s.send(post_call))[0] == 202
        first = await s.finished("CALSPAM1")
        assert first["lead_score"]["tier"] != "spam"

        # A note and another name for the caller: stored, nothing runs again.
        edited = {**post_call, "note": "asked about a new AC", "customer_name": "Kay Mills"}
        status, answer = await s.send({**edited, "changes": ["note", "customer_name"]})
        assert (status, answer["duplicate"], answer["change"]) == (200, False, "metadata")
        stored = await s.call("CALSPAM1")
        assert stored["metadata"]["caller_name"] == "Kay Mills"
        assert stored["timeline"] == first["timeline"]
        assert (s.hubspot.call_creates, s.hubspot.call_updates) == (1, 0)

        status, answer = await s.send({**edited, "spam": True, "changes": ["spam"]})
        assert (status, answer["change"]) == (202, "spam")
        spam = await s.finished("CALSPAM1", runs=2)
        assert (spam["lead_score"]["tier"], spam["lead_score"]["score"]) == ("spam", 0)
        assert spam["metadata"]["marked_spam"] is True
        assert (s.hubspot.call_creates, s.hubspot.call_updates) == (1, 1)
        (activity,) = s.hubspot.calls.values()
        assert "(spam, 0)" in activity["hs_call_title"]
        assert len(s.slack.messages) == 1  # the first run's; spam raises none


async def test_a_modified_body_for_a_call_never_seen_is_a_new_call(tmp_path: Path) -> None:
    async with service(tmp_path, []) as s:
        body = s.body("CALNEW1", recorded=False, spam="true", changes=["spam"])
        status, answer = await s.send(body)
        assert (status, answer["duplicate"]) == (202, False)
        assert "change" not in answer
        done = await s.finished("CALNEW1")
        assert done["lead_score"]["tier"] == "spam"
        status, answer = await s.send(body)
        assert (status, answer["duplicate"]) == (200, True)


async def test_a_call_modified_is_checked_like_any_webhook(tmp_path: Path) -> None:
    async with service(tmp_path, ["CALSIGN1"]) as s:
        assert (await s.send(s.body("CALSIGN1", recorded=False)))[0] == 202
        before = await s.finished("CALSIGN1")
        modified = s.body("CALSIGN1", recorded=True, changes=["recording_duration"])
        status, answer = await s.send(modified, key="not-the-signing-key")
        assert status == 401
        assert answer["status"] == 401
        big = {**modified, "note": "x" * MAX_BODY}
        assert (await s.send(big))[0] == 413
        deep: Any = "x"
        for _ in range(100):
            deep = [deep]
        assert (await s.send({**modified, "custom": deep}))[0] == 400
        await asyncio.sleep(0.5)
        assert await s.call("CALSIGN1") == before
        assert s.recordings.requests == []


async def test_a_call_modified_during_processing_is_not_lost(tmp_path: Path) -> None:
    """The post-call's run is held at its CRM create while a recording arrives: the call is
    put back, the held run's next save is refused, and once its lease is free the call runs
    again from the recording; the CRM keeps one activity, created once and updated."""
    arrived, release = asyncio.Event(), asyncio.Event()

    @web.middleware
    async def hold_the_first_create(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/crm/v3/objects/calls":
            arrived.set()
            await release.wait()
        return await handler(request)

    async with service(
        tmp_path, ["CALBUSY1"], hold_the_first_create, PIPELINE_LEASE_SECONDS="2"
    ) as s:
        assert (await s.send(s.body("CALBUSY1", recorded=False)))[0] == 202
        await asyncio.wait_for(arrived.wait(), 60)
        modified = s.body("CALBUSY1", recorded=True, changes=["recording_duration"])
        status, answer = await s.send(modified)
        assert (status, answer["change"]) == (202, "recording")
        assert answer["stage"] == "RECEIVED"  # put back before the recording
        release.set()

        done = await s.finished("CALBUSY1")
        assert "no heat" in done["transcript"]["text"].lower()
        assert done["lead_score"]["tier"] == "hot"
        assert (s.hubspot.call_creates, s.hubspot.call_updates) == (1, 1)
        assert len(s.hubspot.calls) == 1
        assert len(s.slack.messages) == 1
        assert [a["status"] for a in done["alerts"]] == ["sent"]


async def test_salesforce_keeps_one_task_across_a_late_recording_and_a_spam_marking(
    tmp_path: Path,
) -> None:
    async with service(tmp_path, ["CALSF1"], crm="salesforce") as s:
        assert (await s.send(s.body("CALSF1", recorded=False)))[0] == 202
        first = await s.finished("CALSF1")
        (task_id,) = s.salesforce.tasks
        assert first["crm_sync"]["activity_id"] == task_id

        modified = s.body("CALSF1", recorded=True, changes=["recording_duration"])
        assert (await s.send(modified))[1]["change"] == "recording"
        second = await s.finished("CALSF1", runs=2)
        assert second["lead_score"]["tier"] == "hot"
        assert (await s.send({**modified, "spam": "true", "changes": ["spam"]}))[0] == 202
        spam = await s.finished("CALSF1", runs=3)
        assert spam["lead_score"]["tier"] == "spam"

        assert list(s.salesforce.tasks) == [task_id]
        assert s.salesforce.task_updates == 2
        assert "(spam, 0)" in s.salesforce.tasks[task_id]["Subject"]
        assert len(s.slack.messages) == 1
