"""What the retention tests of both shapes (embedded, Google Cloud) seed: two tenants' calls,
each with every object a call can leave in the audio store, their bytes telling whose it is."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from domain.call import Call, quarantine_object_name, recording_object_name, redacted_object_name
from domain.results import StoredRecording
from domain.webhook import parse_incoming_call
from ports.audio import AudioStore
from tests.support import callrail_body, stream

PHONES = {"acme": "+15557770001", "beta": "+15558880002"}
COMPANIES = {"acme": "111", "beta": "222"}


def audio_bytes(tenant_id: str, call_id: str, kind: str) -> bytes:
    return f"ID3 {kind} of {tenant_id}/{call_id} ".encode() * 40


def received_call(tenant_id: str, n: int, at: datetime, **fields: Any) -> Call:
    """The tenant's n-th call, from its company and its caller's phone."""
    body = callrail_body(
        f"{tenant_id}{n:04d}",
        COMPANIES[tenant_id],
        customer_phone_number=PHONES[tenant_id],
        **fields,
    )
    return Call.receive(tenant_id, parse_incoming_call(json.loads(body)), at)


async def store_audio(audio: AudioStore, tenant_id: str, call_id: str) -> StoredRecording:
    """A redacted copy, a quarantined original, and the recording, which is returned."""
    for name, kind in (
        (redacted_object_name(tenant_id, call_id, "mp3"), "redacted"),
        (quarantine_object_name(tenant_id, call_id), "original"),
    ):
        await audio.put(name, stream(audio_bytes(tenant_id, call_id, kind)), "audio/mpeg")
    return await audio.put(
        recording_object_name(tenant_id, call_id, "mp3"),
        stream(audio_bytes(tenant_id, call_id, "recording")),
        "audio/mpeg",
    )
