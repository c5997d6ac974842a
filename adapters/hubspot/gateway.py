"""HubSpot CRM v3 as the CrmGateway: contacts found by phone, calls logged as call objects.

The idempotency key lives in a custom, searchable text property of the call object (tenant
setting `idempotency_property`, default `callrail_call_key`), which the tenant's HubSpot account
must have; without it HubSpot refuses the search and the sync fails with HubSpot's message."""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import attrs

from adapters.hubspot.client import (
    HUBSPOT_ID,
    HubSpotHttp,
    Reply,
    field_of,
    first_associated,
    object_id,
    search_results,
    text_or_empty,
)
from domain.crm import ActivityRef, CrmActivity, CrmContact
from domain.errors import PermanentFailure
from domain.phone import normalize_e164
from domain.questions import answer_text
from domain.resilience import ResendPolicy
from domain.results import AnswerValue
from domain.throttle import CircuitBreaker, TokenBucket
from ports.crm import CrmGateway

DEFAULT_BASE_URL = "https://api.hubapi.com"
# HubSpot allows 100-190 requests per 10 s per app and 4-5 per second on the search endpoints,
# which every sync uses: a limiter at this rate stays below both.
SUGGESTED_RATE_PER_S = 4.0
SUGGESTED_BURST = 4
CALL_TO_CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}
_PROPERTY = re.compile(r"^[a-z0-9_]{1,100}$")
_CONTACT_FIELDS = ("firstname", "lastname", "email", "phone")
_log = logging.getLogger("adapters.hubspot")


@attrs.frozen
class HubSpotSettings:
    """The tenant's field mapping, from its crm_config settings."""

    idempotency_property: str = "callrail_call_key"
    lead_status_property: str = "hs_lead_status"
    contact_properties: Mapping[str, str] = attrs.field(
        factory=lambda: {field: field for field in _CONTACT_FIELDS}
    )
    account_timezone: str = "UTC"

    @classmethod
    def parse(cls, settings: Mapping[str, Any]) -> HubSpotSettings:
        overrides = settings.get("contact_property_map", {})
        if not isinstance(overrides, Mapping) or not set(overrides) <= set(_CONTACT_FIELDS):
            raise PermanentFailure(
                f"hubspot setting contact_property_map maps only {', '.join(_CONTACT_FIELDS)}"
            )
        mapped = {field: field for field in _CONTACT_FIELDS}
        for field, prop in overrides.items():
            mapped[field] = _property_name(f"contact_property_map.{field}", prop)
        zone = settings.get("account_timezone")
        return cls(
            idempotency_property=_property_name(
                "idempotency_property", settings.get("idempotency_property", "callrail_call_key")
            ),
            lead_status_property=_property_name(
                "lead_status_property", settings.get("lead_status_property", "hs_lead_status")
            ),
            contact_properties=mapped,
            account_timezone=zone if isinstance(zone, str) and zone else "UTC",
        )


def _property_name(setting: str, value: Any) -> str:
    if not isinstance(value, str) or not _PROPERTY.match(value):
        raise PermanentFailure(f"hubspot setting {setting} must be a HubSpot property name")
    return value


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HubSpotCrmGateway(CrmGateway):
    crm_type = "hubspot"

    def __init__(
        self,
        *,
        token: str,
        session: aiohttp.ClientSession,
        limiter: TokenBucket,
        breaker: CircuitBreaker,
        base_url: str = DEFAULT_BASE_URL,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        settings: Mapping[str, Any] | None = None,
        now_utc: Callable[[], datetime] = _utc_now,
    ):
        self._settings = HubSpotSettings.parse(settings or {})
        self._http = HubSpotHttp(
            base_url=base_url,
            token=token,
            session=session,
            limiter=limiter,
            breaker=breaker,
            monotonic=monotonic,
            sleep=sleep,
            timeout_s=timeout_s,
            retry=ResendPolicy(max_retries, backoff_base_s, backoff_max_s),
            now_utc=now_utc,
            daily_reset_zone=self._settings.account_timezone,
        )

    @property
    def api_calls(self) -> int:
        return self._http.requests_sent

    async def find_activity(self, idempotency_key: str) -> ActivityRef | None:
        prop = self._settings.idempotency_property
        search = {
            "filterGroups": [_group(prop, idempotency_key)],
            "properties": [prop],
            "limit": 10,
        }
        reply = await self._http.call(
            "POST", "/crm/v3/objects/calls/search", "the call search", search
        )
        # EQ on text is case-insensitive in HubSpot: only an exact match is ours.
        found = [
            r for r in search_results(reply, "the call search") if r[1].get(prop) == idempotency_key
        ]
        if not found:
            return None
        call_id = min((r[0] for r in found), key=int)
        reply = await self._http.call(
            "GET",
            f"/crm/v3/objects/calls/{call_id}",
            "reading the call",
            params={"associations": "contacts"},
            accept=(404,),
        )
        if reply.status == 404:
            return None  # archived since the search: a new one may be made
        return ActivityRef(call_id, first_associated(reply.body))

    async def upsert_contact(self, contact: CrmContact) -> str:
        phone = normalize_e164(contact.phone)
        if phone is None:
            raise PermanentFailure("the caller's number is not a phone number")
        props = self._settings.contact_properties
        phone_props = list(dict.fromkeys(["phone", "mobilephone", props["phone"]]))
        search = {
            "filterGroups": _phone_groups(phone, phone_props),
            "properties": phone_props,
            "limit": 20,
        }
        reply = await self._http.call(
            "POST", "/crm/v3/objects/contacts/search", "the contact search", search
        )
        # HubSpot stores numbers as typed and matches loosely: take only a contact whose number
        # really is the caller's.
        matches = [
            candidate
            for candidate, values in search_results(reply, "the contact search")
            if any(normalize_e164(text_or_empty(values.get(p))) == phone for p in phone_props)
        ]
        fields = self._contact_fields(contact)
        if matches:
            contact_id = min(matches, key=int)
            if await self._update_contact(contact_id, fields):
                return contact_id
        fields[props["phone"]] = phone
        return await self._create_contact(fields)

    async def _create_contact(self, fields: dict[str, str]) -> str:
        while True:
            reply = await self._http.call(
                "POST",
                "/crm/v3/objects/contacts",
                "creating the contact",
                {"properties": fields},
                repeatable=False,
                accept=(400, 409),
            )
            if reply.status == 409:
                # Another contact has this email already: it is the same person.
                message = text_or_empty(field_of(reply.body, "message"))
                existing = re.search(r"Existing ID: ([0-9]{1,30})", message)
                if existing is None:
                    raise self._http.refusal("creating the contact", reply)
                return existing.group(1)
            if reply.status == 400:
                fields = self._without_email(fields, "creating the contact", reply)
                continue
            return object_id(reply.body, "creating the contact")

    async def _update_contact(self, contact_id: str, fields: dict[str, str]) -> bool:
        """Whether the contact still exists (it may have been deleted since the search)."""
        path = f"/crm/v3/objects/contacts/{contact_id}"
        while fields:
            reply = await self._http.call(
                "PATCH",
                path,
                "updating the contact",
                {"properties": fields},
                accept=(400, 404, 409),
            )
            if reply.status == 404:
                return False
            if reply.status < 300:
                break
            fields = self._without_email(fields, "updating the contact", reply)
        return True

    def _without_email(self, fields: dict[str, str], what: str, reply: Reply) -> dict[str, str]:
        """The email came from the call's analysis and may be malformed or someone else's
        (400, 409): the contact is written without it rather than not at all."""
        email = self._settings.contact_properties["email"]
        if email not in fields:
            raise self._http.refusal(what, reply)
        _log.warning("hubspot refused the caller's email (%d); writing without it", reply.status)
        return {k: v for k, v in fields.items() if k != email}

    def _contact_fields(self, contact: CrmContact) -> dict[str, str]:
        props, fields = self._settings.contact_properties, {}
        first, last = _split_name(contact.name)
        if first:
            fields[props["firstname"]] = first
        if last:
            fields[props["lastname"]] = last
        if contact.email:
            fields[props["email"]] = contact.email.strip()
        if contact.lead_status:
            fields[self._settings.lead_status_property] = contact.lead_status
        return fields

    async def create_activity(self, activity: CrmActivity, contact_id: str | None) -> str:
        body: dict[str, Any] = {"properties": self._call_properties(activity)}
        if contact_id is not None:
            if not HUBSPOT_ID.match(contact_id):
                raise PermanentFailure("not a hubspot contact id")
            body["associations"] = [{"to": {"id": contact_id}, "types": [CALL_TO_CONTACT]}]
        reply = await self._http.call(
            "POST", "/crm/v3/objects/calls", "creating the call", body, repeatable=False
        )
        return object_id(reply.body, "creating the call")

    async def update_activity(self, activity_id: str, activity: CrmActivity) -> None:
        """The call object rewritten in place (PATCH /crm/v3/objects/calls/{id}: the given
        properties overwritten): a re-analysed call keeps its one activity."""
        if not HUBSPOT_ID.match(activity_id):
            raise PermanentFailure("not a hubspot call id")
        body = {"properties": self._call_properties(activity)}
        await self._http.call(
            "PATCH", f"/crm/v3/objects/calls/{activity_id}", "updating the call", body
        )

    def _call_properties(self, activity: CrmActivity) -> dict[str, str]:
        occurred = activity.occurred_at
        occurred = occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)
        stamp = occurred.astimezone(UTC).isoformat(timespec="milliseconds")
        properties = {
            "hs_timestamp": stamp.replace("+00:00", "Z"),
            "hs_call_title": activity.title,
            "hs_call_body": "<br>".join(html.escape(line) for line in activity.body.split("\n")),
            "hs_call_direction": "OUTBOUND" if activity.direction == "outbound" else "INBOUND",
            "hs_call_duration": str(max(0, activity.duration_s) * 1000),
            "hs_call_status": "COMPLETED" if activity.answered else "NO_ANSWER",
            self._settings.idempotency_property: activity.idempotency_key,
        }
        if activity.from_number:
            properties["hs_call_from_number"] = activity.from_number
        if activity.to_number:
            properties["hs_call_to_number"] = activity.to_number
        if activity.recording_url and urlsplit(activity.recording_url).scheme == "https":
            properties["hs_call_recording_url"] = activity.recording_url
        for name, value in activity.answer_fields:  # the tenant's answer_property_map
            if _PROPERTY.match(name) and name not in properties:
                properties[name] = _property_value(value)
        return properties


def _property_value(value: AnswerValue) -> str:
    """HubSpot's property values are strings; a checkbox is "true"/"false"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return answer_text(value)


def _group(prop: str, value: str) -> dict[str, Any]:
    return {"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}


def _phone_groups(phone: str, phone_props: list[str]) -> list[dict[str, Any]]:
    """Filter groups are OR'ed. The typed properties are tried with the E.164 form; HubSpot's
    calculated searchable numbers hold digits only, without the country code for North
    American numbers."""
    digits = phone[1:]
    national = digits[1:] if phone.startswith("+1") else digits
    groups = [_group(p, phone) for p in phone_props]
    groups += [
        _group("hs_searchable_calculated_phone_number", national),
        _group("hs_searchable_calculated_mobile_number", national),
    ]
    return groups[:5]  # HubSpot's maximum of filter groups


def _split_name(name: str | None) -> tuple[str | None, str | None]:
    parts = (name or "").split()
    return (parts[0] if parts else None), " ".join(parts[1:]) or None
