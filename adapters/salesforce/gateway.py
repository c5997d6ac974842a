"""Salesforce REST as the CrmGateway: Contacts and Leads found by phone with SOSL, Leads upserted
by an external-id field, calls logged as Tasks of subtype Call whose CallObject is the
idempotency key (a SOQL query finds them again)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from adapters.salesforce.client import Reply, SalesforceHttp, error_code
from adapters.salesforce.token import SalesforceTokenCache
from domain.crm import ActivityRef, CrmActivity, CrmContact
from domain.errors import PermanentFailure
from domain.phone import normalize_e164
from domain.resilience import ResendPolicy
from domain.throttle import CircuitBreaker, TokenBucket
from ports.crm import CrmGateway

DEFAULT_API_VERSION = "v60.0"
# Salesforce counts API requests per org per 24 h (from 15,000 + per-licence allowances) and
# caps long concurrent requests; a limiter at this rate leaves room for the org's other users.
SUGGESTED_RATE_PER_S = 5.0
SUGGESTED_BURST = 5
_SF_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
# From 46.0 an upsert that updates answers 200 with the record's id (before: 204, no body).
_VERSION = re.compile(r"^v(4[6-9]|[5-9][0-9]|[1-9][0-9]{2})\.0$")
_log = logging.getLogger("adapters.salesforce")
_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class SalesforceCrmGateway(CrmGateway):
    crm_type = "salesforce"

    def __init__(
        self,
        *,
        instance_url: str,
        client_id: str,
        client_secret: str,
        session: aiohttp.ClientSession,
        limiter: TokenBucket,
        breaker: CircuitBreaker,
        api_version: str = DEFAULT_API_VERSION,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        settings: Mapping[str, Any] | None = None,
        tokens: SalesforceTokenCache | None = None,
    ):
        """`tokens`: the org's token cache, shared by the tenant's gateways so that each sync
        does not ask for a token of its own; a gateway on its own keeps one for itself."""
        settings = settings or {}
        if not _VERSION.match(api_version):
            raise PermanentFailure("salesforce api_version must be v46.0 or later, like v60.0")
        external = settings.get("lead_external_id_field", "CallRail_Phone__c")
        if not isinstance(external, str) or not _FIELD.match(external):
            raise PermanentFailure("salesforce setting lead_external_id_field is not a field name")
        company = settings.get("default_company")
        self._external_field = external
        self._company = (
            company.strip()[:255] if isinstance(company, str) and company.strip() else "Unknown"
        )
        self._http = SalesforceHttp(
            instance_url=instance_url,
            client_id=client_id,
            client_secret=client_secret,
            api_version=api_version,
            session=session,
            limiter=limiter,
            breaker=breaker,
            monotonic=monotonic,
            sleep=sleep,
            timeout_s=timeout_s,
            retry=ResendPolicy(max_retries, backoff_base_s, backoff_max_s),
            tokens=tokens or SalesforceTokenCache(monotonic),
        )

    @property
    def api_calls(self) -> int:
        return self._http.requests_sent

    async def find_activity(self, idempotency_key: str) -> ActivityRef | None:
        # The key is a quoted literal, escaped by soql_quote; nothing else is interpolated.
        soql = (
            "SELECT Id, WhoId, CallObject FROM Task "  # noqa: S608
            f"WHERE CallObject = '{soql_quote(idempotency_key)}' ORDER BY CreatedDate LIMIT 10"
        )
        reply = await self._http.call("GET", "/query", "the Task query", params={"q": soql})
        records = reply.body.get("records") if isinstance(reply.body, Mapping) else None
        if not isinstance(records, list):
            raise _unexpected("the Task query")
        for record in records:
            # SOQL compares text without regard to case: only an exact match is ours.
            if _get(record, "CallObject") == idempotency_key:
                who = _get(record, "WhoId")
                return ActivityRef(_sf_id(record, "the Task query"), who if _is_id(who) else None)
        return None

    async def upsert_contact(self, contact: CrmContact) -> str:
        phone = normalize_e164(contact.phone)
        if phone is None:
            raise PermanentFailure("the caller's number is not a phone number")
        digits = phone[2:] if phone.startswith("+1") else phone[1:]
        sosl = (
            f"FIND {{{digits}}} IN PHONE FIELDS RETURNING Contact(Id, Phone, MobilePhone), "
            "Lead(Id, Phone, MobilePhone WHERE IsConverted = false)"
        )
        reply = await self._http.call("GET", "/search", "the phone search", params={"q": sosl})
        found = _search_records(reply.body)
        for kind in ("Contact", "Lead"):  # a Contact is the customer; a Lead not yet
            # SOSL matches phone digits loosely: take only a record whose number is the caller's.
            ids = sorted(_sf_id(r, "the phone search") for r in found if _is(r, kind, phone))
            if ids and await self._update(kind, ids[0], _person(contact, kind)):
                return ids[0]
        return await self._upsert_lead(contact, phone)

    async def _update(self, kind: str, record_id: str, fields: dict[str, str]) -> bool:
        """Whether the record still exists (it may have been deleted since the search)."""
        path, what = f"/sobjects/{kind}/{record_id}", f"updating the {kind}"
        while fields:
            reply = await self._http.call("PATCH", path, what, fields, accept=(400, 404))
            if reply.status == 404:
                return False
            if reply.status < 300:
                break
            fields = self._without_email(fields, what, reply)
        return True

    async def _upsert_lead(self, contact: CrmContact, phone: str) -> str:
        fields = {"LastName": "Unknown caller", **_person(contact, "Lead")}
        fields.update(Phone=phone, Company=self._company)
        path = f"/sobjects/Lead/{self._external_field}/{quote(phone, safe='')}"
        while True:
            reply = await self._http.call(
                "PATCH", path, "the Lead upsert", fields, accept=(300, 400)
            )
            if reply.status == 300:
                raise PermanentFailure(
                    f"salesforce has several Leads with {self._external_field} = {phone}"
                )
            if reply.status != 400:
                return _sf_id(reply.body, "the Lead upsert")
            fields = self._without_email(fields, "the Lead upsert", reply)

    def _without_email(self, fields: dict[str, str], what: str, reply: Reply) -> dict[str, str]:
        """The email came from the call's analysis and may be malformed: the record is written
        without it rather than not at all."""
        if "Email" not in fields or error_code(reply.body) != "INVALID_EMAIL_ADDRESS":
            raise self._http.refusal(what, reply)
        _log.warning("salesforce refused the caller's email; writing without it")
        return {k: v for k, v in fields.items() if k != "Email"}

    async def create_activity(self, activity: CrmActivity, contact_id: str | None) -> str:
        task = _task(activity)
        if contact_id is not None:
            if not _SF_ID.match(contact_id):
                raise PermanentFailure("not a salesforce record id")
            task["WhoId"] = contact_id
        reply = await self._http.call(
            "POST", "/sobjects/Task", "creating the Task", task, repeatable=False
        )
        return _sf_id(reply.body, "creating the Task")

    async def update_activity(self, activity_id: str, activity: CrmActivity) -> None:
        """The Task rewritten in place (PATCH /sobjects/Task/{id}, 204): a re-analysed call
        keeps its one Task. TaskSubtype is set on create only (the field cannot be updated)."""
        if not _SF_ID.match(activity_id):
            raise PermanentFailure("not a salesforce record id")
        task = {k: v for k, v in _task(activity).items() if k != "TaskSubtype"}
        await self._http.call("PATCH", f"/sobjects/Task/{activity_id}", "updating the Task", task)


def _task(activity: CrmActivity) -> dict[str, Any]:
    occurred = activity.occurred_at
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    description = activity.body
    if activity.recording_url and urlsplit(activity.recording_url).scheme == "https":
        description += f"\nRecording: {activity.recording_url}"
    task: dict[str, Any] = {
        "Subject": activity.title[:255],
        "Status": "Completed",
        "TaskSubtype": "Call",
        "CallType": "Outbound" if activity.direction == "outbound" else "Inbound",
        "CallDurationInSeconds": max(0, activity.duration_s),
        "CallDisposition": "Answered" if activity.answered else "No answer",
        "CallObject": activity.idempotency_key[:255],
        "Description": description[:32000],
        "ActivityDate": occurred.astimezone(UTC).date().isoformat(),
    }
    for name, value in activity.answer_fields:  # the tenant's answer_property_map
        if name not in task:
            task[name] = value
    return task


def soql_quote(value: str) -> str:
    """The text of a SOQL string literal: quotes, backslashes and line breaks escaped."""
    return "".join(_SOQL_ESCAPES.get(ch, ch) for ch in value)


def _person(contact: CrmContact, kind: str) -> dict[str, str]:
    fields = {}
    parts = (contact.name or "").split()
    if parts:
        if len(parts) > 1:
            fields["FirstName"] = parts[0][:40]
        fields["LastName"] = " ".join(parts[1:] or parts)[:80]
    if contact.email:
        fields["Email"] = contact.email.strip()[:80]
    if contact.lead_status and kind == "Lead":
        fields["Status"] = contact.lead_status
    return fields


def _is(record: Any, kind: str, phone: str) -> bool:
    """Whether a search record is a `kind` with the caller's number."""
    numbers = {normalize_e164(_text(record, field)) for field in ("Phone", "MobilePhone")}
    return _get(_get(record, "attributes"), "type") == kind and phone in numbers


def _get(body: Any, key: str) -> Any:
    return body.get(key) if isinstance(body, Mapping) else None


def _text(body: Any, key: str) -> str | None:
    value = _get(body, key)
    return value if isinstance(value, str) else None


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_SF_ID.match(value))


def _unexpected(what: str) -> PermanentFailure:
    return PermanentFailure(f"salesforce returned an unexpected response to {what}")


def _sf_id(body: Any, what: str) -> str:
    value = _get(body, "id") if isinstance(_get(body, "id"), str) else _get(body, "Id")
    if not _is_id(value):
        raise _unexpected(what)
    assert isinstance(value, str)
    return value


def _search_records(body: Any) -> list[Any]:
    """SOSL answers {"searchRecords": [...]} (a bare list before API 37.0)."""
    records = body if isinstance(body, list) else _get(body, "searchRecords")
    if not isinstance(records, list):
        raise _unexpected("the phone search")
    return records
