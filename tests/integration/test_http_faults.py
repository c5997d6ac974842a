"""Faults a probe of the running service found (issue 23, item 4), each answered as a client
would want: a problem+json naming what is wrong, never a 500, never a request's bytes echoed,
nothing stored. On a real aiohttp server over a real SQLite file."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

from entrypoints.http.keys import CONTAINER
from tests.integration.conftest import Client, bearer, create_tenant, operator
from tests.support import callrail_body, signed_headers, tenant_document

PROBLEM = "application/problem+json"


def stored_calls(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "pipeline.db") as conn:
        count: int = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
        return count


def nested(body: bytes, depth: int) -> bytes:
    """`body` with its "custom" field's value inside `depth` arrays and objects (as text:
    json.dumps itself stops short of 1,000 levels)."""
    opening = b"".join(b"[" if level % 2 else b'{"k":' for level in range(depth))
    closing = b"".join(b"]" if level % 2 else b"}" for level in reversed(range(depth)))
    assert b'"custom": 0' in body
    return body.replace(b'"custom": 0', b'"custom": ' + opening + b"0" + closing)


async def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    return body


# --- bodies nested deeper than every later read can follow ---------------------------------


async def test_a_signed_webhook_nested_1000_deep_is_refused_and_nothing_is_stored(
    client: Client, tmp_path: Path
) -> None:
    """orjson reads 1,000 levels and json.loads does not: such a call, once stored, could
    never be read again by the listing, the CLI or the worker."""
    await create_tenant(client, tenant_document())
    body = nested(callrail_body("6001", custom=0), 1000)
    for path in ("/v1/callrail/webhook", "/v1/callrail/webhook/acme"):
        response = await client.post(path, data=body, headers=signed_headers(body))
        problem = await assert_problem(response, 400)
        assert "64" in problem["detail"]
    assert stored_calls(tmp_path) == 0


async def test_a_webhook_nested_64_deep_is_accepted(client: Client) -> None:
    await create_tenant(client, tenant_document())
    body = nested(callrail_body("6002", custom=0), 63)  # the body's own object is the 64th
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    assert response.status == 202


async def test_a_tenant_document_nested_too_deep_is_400(client: Client) -> None:
    await create_tenant(client, tenant_document())
    document = nested(json.dumps({"name": "Acme", "custom": 0}).encode(), 2000)
    for method, path in (("POST", "/v1/tenants"), ("PATCH", "/v1/tenants/acme")):
        response = await client.request(
            method, path, data=document, headers={**operator(), "Content-Type": "application/json"}
        )
        await assert_problem(response, 400)


# --- Content-Encoding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("gzip", lambda body: body),  # says gzip, is not
        ("deflate", zlib.compress),
        ("deflate", lambda body: body),
        ("br", lambda body: body),  # aiohttp refuses it before any handler
    ],
)
async def test_an_encoded_webhook_body_is_415(
    client: Client,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    encoding: str,
    encode: Any,
) -> None:
    await create_tenant(client, tenant_document())
    body = callrail_body("6101")
    headers = {**signed_headers(body), "Content-Encoding": encoding}
    with caplog.at_level(logging.WARNING):
        response = await client.post("/v1/callrail/webhook", data=encode(body), headers=headers)
        problem = await assert_problem(response, 415)
        await asyncio.sleep(0.05)  # what the server does once the answer is sent
    assert "Content-Encoding" in problem["detail"]
    assert stored_calls(tmp_path) == 0
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


# --- text that is not text ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_name", "Bob \ud800"),
        ("source", "Google \udfff Paid"),
        ("landing_page_url", "https://example.com/\ud800"),
        ("note", "kept raw \ud800"),  # a field this service does not read
    ],
)
async def test_a_lone_surrogate_in_a_webhook_field_is_400_naming_it(
    client: Client, tmp_path: Path, field: str, value: str
) -> None:
    """json.loads reads an escape like \\ud800 as half a character, which no UTF-8 store, log
    or answer can hold."""
    await create_tenant(client, tenant_document())
    body = callrail_body("6201", **{field: value})
    assert b"\\ud8" in body or b"\\udf" in body
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    problem = await assert_problem(response, 400)
    assert {e["field"] for e in problem["errors"]} == {field}
    assert stored_calls(tmp_path) == 0


async def test_a_lone_surrogate_in_a_key_or_nested_value_is_400(
    client: Client, tmp_path: Path
) -> None:
    await create_tenant(client, tenant_document())
    odd: dict[str, Any] = {"odd\ud83d": 1}
    body = callrail_body("6202", tags=["ok", {"deep": "\udc00"}], **odd)
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    problem = await assert_problem(response, 400)
    assert sorted(e["field"] for e in problem["errors"]) == ["odd\\ud83d", "tags[1].deep"]
    assert stored_calls(tmp_path) == 0


async def test_an_emoji_written_as_a_surrogate_pair_is_text(client: Client) -> None:
    await create_tenant(client, tenant_document())
    body = callrail_body("6203", customer_name="Bob \U0001f600")
    assert b"\\ud83d\\ude00" in body
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    assert response.status == 202


async def test_invalid_utf8_in_a_webhook_is_400(client: Client, tmp_path: Path) -> None:
    await create_tenant(client, tenant_document())
    body = callrail_body("6204", customer_name="Bob XX").replace(b"XX", b"\xff\xfe")
    response = await client.post("/v1/callrail/webhook", data=body, headers=signed_headers(body))
    await assert_problem(response, 400)
    assert stored_calls(tmp_path) == 0


async def test_a_lone_surrogate_in_a_tenant_document_is_400_naming_it(client: Client) -> None:
    document = tenant_document()
    document["name"] = "Acme \ud800"
    response = await client.post(
        "/v1/tenants",
        data=json.dumps(document),
        headers={**operator(), "Content-Type": "application/json"},
    )
    problem = await assert_problem(response, 400)
    assert [e["field"] for e in problem["errors"]] == ["name"]
    assert (await client.get("/v1/tenants/acme", headers=operator())).status == 404


# --- query parameters -----------------------------------------------------------------------


OUT_OF_RANGE = [
    ("calls", "limit=%C2%B2", "limit"),  # "²": str.isdigit() says yes, int() says no
    ("calls", "limit=%D9%A3", "limit"),  # "٣", an Arabic-Indic 3, which int() reads
    ("calls", "limit=" + "9" * 5000, "limit"),  # past int()'s 4,300 digits
    ("calls", "since=9999-12-31T23:59:59-23:59", "since"),  # year 10000 in UTC
    ("calls", "since=0001-01-01T00:00:00%2B23:59", "since"),  # year 0 in UTC
    ("stats", "since=9999-12-31T23:59:59-23:59", "since"),
    ("stats", "since=0001-01-01T00:00:00%2B23:59", "since"),
]


@pytest.mark.parametrize(("route", "query", "field"), OUT_OF_RANGE)
async def test_a_query_parameter_out_of_range_is_400(
    client: Client, route: str, query: str, field: str
) -> None:
    await create_tenant(client, tenant_document())
    response = await client.get(f"/v1/tenants/acme/{route}?{query}", headers=operator())
    problem = await assert_problem(response, 400)
    assert [e["field"] for e in problem["errors"]] == [field]


@pytest.mark.parametrize(
    "raw",
    [b"[" * 3000 + b"]" * 3000, b'["9999-12-31T23:59:59-23:59", "CAL1"]'],
    ids=["nested", "overflowing"],
)
async def test_a_page_token_no_listing_issued_is_400(client: Client, raw: bytes) -> None:
    await create_tenant(client, tenant_document())
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await client.get(f"/v1/tenants/acme/calls?page_token={token}", headers=operator())
    problem = await assert_problem(response, 400)
    assert [e["field"] for e in problem["errors"]] == ["page_token"]


# --- a suspended tenant is an unknown one --------------------------------------------------


def comparable(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k != "Date"}


async def test_a_suspended_tenants_company_gets_the_unknown_company_answer(
    client: Client,
) -> None:
    """Unsigned, wrongly signed or signed: nothing tells a suspended tenant's company from one
    no tenant has, and its id never shows."""
    await create_tenant(client, tenant_document("acme-hidden-id"))
    patch = await client.patch(
        "/v1/tenants/acme-hidden-id", json={"status": "suspended"}, headers=operator()
    )
    assert patch.status == 200
    suspended = callrail_body("6401")
    unknown = callrail_body("6401", company_id="999999999")
    json_only = {"Content-Type": "application/json"}
    wrong = {**json_only, "Signature": "Zm9yZ2Vk"}
    for headers in (json_only, wrong):
        answers = []
        for path, body in (
            ("/v1/callrail/webhook", suspended),
            ("/v1/callrail/webhook", unknown),
            ("/v1/callrail/webhook/acme-hidden-id", suspended),
            ("/v1/callrail/webhook/nobody-at-all", suspended),
        ):
            response = await client.post(path, data=body, headers=headers)
            answers.append((response.status, comparable(response), await response.read()))
        assert answers[0][0] == 404
        assert answers[0] == answers[1] == answers[2] == answers[3]
        assert b"acme-hidden-id" not in answers[0][2]
    signed = await client.post(
        "/v1/callrail/webhook", data=suspended, headers=signed_headers(suspended)
    )
    assert (signed.status, comparable(signed), await signed.read()) == answers[0]


# --- the store down ------------------------------------------------------------------------


async def test_every_route_answers_503_with_retry_after_while_the_store_is_down(
    client: Client,
) -> None:
    await create_tenant(client, tenant_document())
    key = await client.post("/v1/tenants/acme/api-keys", headers=operator())
    api_key = (await key.json())["api_key"]
    body = callrail_body("6501")
    await client.app[CONTAINER].database().close()  # every read and write now fails

    requests: list[tuple[str, str, dict[str, str], bytes | None]] = [
        ("POST", "/v1/callrail/webhook", signed_headers(body), body),
        ("POST", "/v1/callrail/webhook/acme", signed_headers(body), body),
        ("GET", "/v1/tenants", operator(), None),
        ("GET", "/v1/tenants/acme", operator(), None),
        ("POST", "/v1/tenants", operator(), json.dumps(tenant_document("beta")).encode()),
        ("PATCH", "/v1/tenants/acme", operator(), b'{"name": "Acme Two"}'),
        ("POST", "/v1/tenants/acme/api-keys", operator(), None),
        ("GET", "/v1/tenants/acme/calls", operator(), None),
        ("GET", "/v1/tenants/acme/calls", bearer(api_key), None),
        ("GET", "/v1/tenants/acme/calls/CAL1", operator(), None),
        ("GET", "/v1/tenants/acme/stats", operator(), None),
        ("POST", "/v1/tenants/acme/calls/CAL1/reprocess", operator(), None),
    ]
    for method, path, headers, data in requests:
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        response = await client.request(method, path, headers=headers, data=data)
        assert (method, path, response.status) == (method, path, 503)
        assert response.content_type == PROBLEM
        assert response.headers["Retry-After"].isdigit()


@pytest.fixture
def client(idle_client: Client) -> Client:
    return idle_client
