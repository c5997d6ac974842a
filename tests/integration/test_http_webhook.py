"""The CallRail webhook over HTTP, on a real server and a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.conftest import AiohttpClient, Client, create_tenant, make_app, operator
from tests.support import (
    VECTOR_CALL_ID,
    VECTOR_KEY,
    VECTOR_SIGNATURE,
    callrail_body,
    signed_headers,
    tenant_document,
    vector_body,
    with_secret_ref,
)

JSON = {"Content-Type": "application/json"}


def rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "pipeline.db") as conn:
        return conn.execute(sql).fetchall()


async def test_callrail_published_vector_is_accepted(client: Client) -> None:
    await create_tenant(client, tenant_document())
    response = await client.post(
        "/v1/callrail/webhook", data=vector_body(), headers={**JSON, "Signature": VECTOR_SIGNATURE}
    )
    assert response.status == 202
    body = await response.json()
    assert body == {
        "tenant_id": "acme",
        "call_id": VECTOR_CALL_ID,
        "status": "received",
        "stage": "RECEIVED",
        "duplicate": False,
    }
    call = await (
        await client.get(f"/v1/tenants/acme/calls/{VECTOR_CALL_ID}", headers=operator())
    ).json()
    assert call["stage"] == "RECEIVED"
    assert call["metadata"]["caller"] == "+12148654559"
    assert call["metadata"]["duration_s"] == 13


async def test_one_changed_byte_is_refused(client: Client) -> None:
    await create_tenant(client, tenant_document())
    body = bytearray(vector_body())
    position = body.index(b"Kaylah")
    body[position] = ord("k")
    response = await client.post(
        "/v1/callrail/webhook", data=bytes(body), headers={**JSON, "Signature": VECTOR_SIGNATURE}
    )
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert (await response.json())["status"] == 401


async def test_missing_signature_is_refused(client: Client, tmp_path: Path) -> None:
    await create_tenant(client, tenant_document())
    response = await client.post("/v1/callrail/webhook", data=vector_body(), headers=JSON)
    assert response.status == 401
    assert rows(tmp_path, "SELECT count(*) FROM calls") == [(0,)]


async def test_unknown_company_is_404(client: Client) -> None:
    await create_tenant(client, tenant_document(company_id="999"))
    response = await client.post(
        "/v1/callrail/webhook", data=vector_body(), headers={**JSON, "Signature": VECTOR_SIGNATURE}
    )
    assert response.status == 404
    assert response.content_type == "application/problem+json"


async def test_unknown_tenant_in_path_is_404(client: Client) -> None:
    body = vector_body()
    response = await client.post(
        "/v1/callrail/webhook/nobody", data=body, headers=signed_headers(body)
    )
    assert response.status == 404


async def test_tenant_from_path(client: Client) -> None:
    await create_tenant(client, tenant_document(company_id="COM123"))
    body = json.dumps({"call_id": "load-1", "duration": "30", "answered": "true"}).encode()
    response = await client.post(
        "/v1/callrail/webhook/acme", data=body, headers=signed_headers(body)
    )
    assert response.status == 202


async def test_malformed_body_names_the_fields(client: Client) -> None:
    await create_tenant(client, tenant_document())
    body = callrail_body("1", duration="about a minute", answered="perhaps")
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    assert response.status == 400
    problem = await response.json()
    assert response.content_type == "application/problem+json"
    assert {e["field"] for e in problem["errors"]} == {"duration", "answered"}


async def test_body_that_is_not_json_is_400(client: Client) -> None:
    await create_tenant(client, tenant_document())
    body = b"{not json"
    response = await client.post(
        "/v1/callrail/webhook/acme", data=body, headers=signed_headers(body)
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"


async def test_two_mebibyte_body_is_413(client: Client) -> None:
    await create_tenant(client, tenant_document())
    body = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/v1/callrail/webhook/acme", data=body, headers=signed_headers(body)
    )
    assert response.status == 413
    assert response.content_type == "application/problem+json"


async def test_chunked_body_over_the_cap_is_413(client: Client) -> None:
    await create_tenant(client, tenant_document())

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post(
        "/v1/callrail/webhook/acme", data=chunks(), headers={**JSON, "Signature": "AAAA"}
    )
    assert response.status == 413


async def test_text_plain_is_415(client: Client) -> None:
    await create_tenant(client, tenant_document())
    body = vector_body()
    headers = {**signed_headers(body), "Content-Type": "text/plain"}
    response = await client.post("/v1/callrail/webhook", data=body, headers=headers)
    assert response.status == 415
    assert response.content_type == "application/problem+json"


async def test_string_typed_numbers_are_accepted(client: Client) -> None:
    await create_tenant(client, tenant_document())
    body = callrail_body(
        "2001", duration="95", answered="true", first_call="false", recording_duration="90"
    )
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    assert response.status == 202
    call = await (await client.get("/v1/tenants/acme/calls/CAL2001", headers=operator())).json()
    assert call["metadata"]["duration_s"] == 95
    assert call["metadata"]["answered"] is True
    assert call["metadata"]["first_call"] is False


async def test_a_legacy_numeric_id_beyond_64_bits_is_kept_exactly(
    client: Client, tmp_path: Path
) -> None:
    """The body is read faster than json.loads reads it, but never differently: orjson alone
    would make this id a float (1.8446744073709552e+19)."""
    await create_tenant(client, tenant_document())
    big = 2**64 + 1
    body = callrail_body("5001", resource_id=None, id=big)
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    assert response.status == 202
    assert (await response.json())["call_id"] == str(big)
    [(call_id, raw)] = rows(tmp_path, "SELECT call_id, raw_payload FROM calls")
    assert call_id == str(big)
    assert json.loads(str(raw))["id"] == big


async def test_the_body_is_stored_as_callrail_sent_it(client: Client, tmp_path: Path) -> None:
    """Byte for byte: its spacing, its escapes, and what JSON itself cannot write again (a NaN
    json.loads accepts, written out afresh, became null)."""
    await create_tenant(client, tenant_document())
    payload = json.loads(callrail_body("5002", note="café"))
    body = json.dumps({**payload, "value": float("nan")}, indent=1).encode()
    assert b"NaN" in body
    assert b"\\u00e9" in body
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    assert response.status == 202
    [(raw,)] = rows(tmp_path, "SELECT raw_payload FROM calls")
    assert raw == body.decode()


async def test_same_webhook_twice_is_one_call_and_one_job(client: Client, tmp_path: Path) -> None:
    await create_tenant(client, tenant_document())
    headers = {**JSON, "Signature": VECTOR_SIGNATURE}
    first = await client.post("/v1/callrail/webhook", data=vector_body(), headers=headers)
    second = await client.post("/v1/callrail/webhook", data=vector_body(), headers=headers)
    assert first.status == 202
    assert second.status == 200
    body = await second.json()
    assert body["duplicate"] is True
    assert body["stage"] == "RECEIVED"
    assert rows(tmp_path, "SELECT count(*) FROM calls") == [(1,)]
    assert rows(tmp_path, "SELECT count(*) FROM jobs") == [(1,)]


async def test_accepted_call_and_job_are_on_disk_before_the_answer(
    client: Client, tmp_path: Path
) -> None:
    await create_tenant(client, tenant_document())
    body = callrail_body("3001")
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    assert response.status == 202
    # Another connection, as another process would see it: committed, not just cached.
    assert rows(tmp_path, "SELECT tenant_id, call_id, stage FROM calls") == [
        ("acme", "CAL3001", "RECEIVED")
    ]
    assert rows(tmp_path, "SELECT tenant_id, call_id FROM jobs") == [("acme", "CAL3001")]


async def test_suspended_tenant_gets_no_calls(client: Client) -> None:
    await create_tenant(client, tenant_document())
    patch = await client.patch("/v1/tenants/acme", json={"status": "suspended"}, headers=operator())
    assert patch.status == 200
    body = callrail_body("4001")
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    assert response.status == 404


async def test_a_signing_key_kept_in_a_secrets_file_verifies_webhooks(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """PIPELINE_SECRETS_URL=file://...: the tenant's webhook_secret_ref is read from the file
    (looked at again at most once a second, so every webhook does not stat it on a thread)."""
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"acme-signing": VECTOR_KEY}), encoding="utf-8")
    client = await aiohttp_client(
        make_app(
            tmp_path,
            PIPELINE_WORKER_CONCURRENCY="0",
            PIPELINE_SECRETS_URL=f"file://{secrets}",
        )
    )
    await create_tenant(client, with_secret_ref("acme-signing"))

    signed = {**JSON, "Signature": VECTOR_SIGNATURE}
    first = await client.post("/v1/callrail/webhook", data=vector_body(), headers=signed)
    again = await client.post("/v1/callrail/webhook", data=vector_body(), headers=signed)
    forged = await client.post(
        "/v1/callrail/webhook", data=vector_body(), headers={**JSON, "Signature": "Zm9yZ2Vk"}
    )

    assert (first.status, again.status, forged.status) == (202, 200, 401)


@pytest.fixture
def client(idle_client: Client) -> Client:
    """Intake alone: no in-process workers, so an accepted call stays RECEIVED to be looked at."""
    return idle_client
