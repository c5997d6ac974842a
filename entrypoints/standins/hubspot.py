"""A HubSpot CRM v3 stand-in: contacts and calls in memory, with HubSpot's JSON shapes, search
semantics (filter groups OR'ed, filters in a group AND'ed, EQ case-insensitive on text), the
calculated searchable phone properties, call-to-contact associations, and its errors.

Tests steer it through its attributes and methods: `throttle_next`, `fail_next`,
`clear_failures`, `drop_next_create`, `token`, and read `requests` (every request with its
monotonic arrival time)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from entrypoints.standins import RecordedRequest, drop_connection, record

CONTACT_PROPERTIES = {
    "firstname", "lastname", "email", "phone", "mobilephone", "company", "hs_lead_status",
}  # fmt: skip
CALL_PROPERTIES = {
    "hs_timestamp", "hs_call_title", "hs_call_body", "hs_call_direction", "hs_call_duration",
    "hs_call_from_number", "hs_call_to_number", "hs_call_status", "hs_call_recording_url",
}  # fmt: skip
CALCULATED = {
    "hs_searchable_calculated_phone_number": "phone",
    "hs_searchable_calculated_mobile_number": "mobilephone",
}
# Enough of the country-code table for a stand-in: HubSpot's calculated numbers drop the code.
_TWO_DIGIT_CODES = {"20", "27", "30", "31", "32", "33", "34", "39", "41", "44", "49", "52", "55"}
_OPERATORS = {"EQ", "NEQ"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _error(status: int, message: str, category: str, **extra: Any) -> web.Response:
    body = {"status": "error", "message": message, "correlationId": "fake", "category": category}
    return web.json_response({**body, **extra}, status=status)


def national_digits(phone: str | None) -> str | None:
    """What HubSpot keeps in hs_searchable_calculated_*: digits only, no country code."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return None
    if (phone or "").strip().startswith("+"):
        if digits.startswith("1"):
            digits = digits[1:]
        else:
            digits = digits[2:] if digits[:2] in _TWO_DIGIT_CODES else digits[3:]
    elif len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits.lstrip("0") or None


class FakeHubSpot:
    def __init__(self, token: str | None = None, call_properties: set[str] | None = None):
        self.token = token  # None: any bearer token is accepted
        self.custom_call_properties = (
            {"callrail_call_key"} if call_properties is None else set(call_properties)
        )
        self.contacts: dict[str, dict[str, str]] = {}
        self.calls: dict[str, dict[str, str]] = {}
        self.call_contacts: dict[str, list[str]] = {}
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(501)
        self._scripted: list[web.Response] = []
        self._drops = 0
        self.call_creates = 0  # call objects created, and updated in place (PATCH)
        self.call_updates = 0

    # --- switches for tests ---------------------------------------------------------------

    def throttle_next(
        self, count: int, policy: str = "TEN_SECONDLY_ROLLING", interval_ms: int = 10000
    ) -> None:
        """The next `count` requests get HubSpot's 429 for `policy` (or "DAILY")."""
        if policy == "DAILY":
            body = self._rate_body("You have reached your daily limit.", "DAILY")
            headers = {
                "X-HubSpot-RateLimit-Daily": "250000",
                "X-HubSpot-RateLimit-Daily-Remaining": "0",
            }
        else:
            body = self._rate_body(f"You have reached your {policy.lower()} limit.", policy)
            headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
                "X-HubSpot-RateLimit-Max": "100",
                "X-HubSpot-RateLimit-Remaining": "0",
            }
        self._scripted += [
            web.json_response(body, status=429, headers=headers) for _ in range(count)
        ]

    def clear_failures(self) -> None:
        self._scripted.clear()

    def fail_next(self, count: int, status: int = 502) -> None:
        body = {"status": "error", "message": "internal error", "correlationId": "fake"}
        self._scripted += [web.json_response(body, status=status) for _ in range(count)]

    def drop_next_create(self, count: int = 1) -> None:
        """The next `count` creates (contact or call) are made, but the connection is closed
        instead of answering."""
        self._drops += count

    def add_contact(self, **properties: str) -> str:
        contact_id = str(next(self._ids))
        self.contacts[contact_id] = self._stamped(contact_id, properties)
        return contact_id

    def dump(self) -> dict[str, Any]:
        return {
            "contacts": [{"id": k, "properties": v} for k, v in self.contacts.items()],
            "calls": [
                {"id": k, "properties": v, "contacts": self.call_contacts.get(k, [])}
                for k, v in self.calls.items()
            ],
        }

    @staticmethod
    def _rate_body(message: str, policy: str) -> dict[str, Any]:
        return {
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": "fake",
            "policyName": policy,
        }

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_post("/crm/v3/objects/{kind:contacts|calls}/search", self._search)
        r.add_post("/crm/v3/objects/contacts", self._create_contact)
        r.add_patch("/crm/v3/objects/contacts/{id}", self._update_contact)
        r.add_post("/crm/v3/objects/calls", self._create_call)
        r.add_patch("/crm/v3/objects/calls/{id}", self._update_call)
        r.add_get("/crm/v3/objects/{kind:contacts|calls}/{id}", self._read)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        await record(request, self.requests)
        if (
            self.token is not None
            and request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            return _error(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        if self._scripted:
            return self._scripted.pop(0)
        response: web.StreamResponse = await handler(request)
        return response

    async def _search(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        store = self.contacts if kind == "contacts" else self.calls
        known = self._known(kind) | set(CALCULATED) if kind == "contacts" else self._known(kind)
        body = await _json_body(request)
        groups = body.get("filterGroups", [])
        if not isinstance(groups, list) or len(groups) > 5:
            return _error(400, "There can be at most 5 filterGroups", "VALIDATION_ERROR")
        for group in groups:
            filters = group.get("filters") if isinstance(group, Mapping) else None
            if not isinstance(filters, list) or not 0 < len(filters) <= 10:
                return _error(400, "Each filterGroup needs 1 to 10 filters", "VALIDATION_ERROR")
            for f in filters:
                if not isinstance(f, Mapping) or f.get("operator") not in _OPERATORS:
                    return _error(400, "Unsupported filter", "VALIDATION_ERROR")
                if f.get("propertyName") not in known | {"hs_object_id"}:
                    name = f.get("propertyName")
                    return _error(400, f"Property {name!r} does not exist", "VALIDATION_ERROR")
        found = [i for i, p in sorted(store.items(), key=lambda kv: int(kv[0])) if _any(groups, p)]
        # One page only: the adapter never asks for more than a page's worth.
        page, wanted = found[: min(int(body.get("limit", 10)), 200)], body.get("properties")
        results = [self._object(i, store[i], wanted) for i in page]
        return web.json_response({"total": len(found), "results": results})

    async def _create_contact(self, request: web.Request) -> web.Response:
        properties = await self._properties(request, "contacts")
        if isinstance(properties, web.Response):
            return properties
        owner = self._email_owner(properties.get("email"), None)
        if owner is not None:
            return _error(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
        contact_id = self.add_contact(**properties)
        return self._created(request, self._object(contact_id, self.contacts[contact_id]))

    async def _update_contact(self, request: web.Request) -> web.Response:
        contact_id = request.match_info["id"]
        if contact_id not in self.contacts:
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        properties = await self._properties(request, "contacts")
        if isinstance(properties, web.Response):
            return properties
        owner = self._email_owner(properties.get("email"), contact_id)
        if owner is not None:
            return _error(409, f"Contact already exists. Existing ID: {owner}", "CONFLICT")
        merged = {**self.contacts[contact_id], **properties}
        self.contacts[contact_id] = self._stamped(contact_id, merged)
        return web.json_response(self._object(contact_id, self.contacts[contact_id]))

    async def _create_call(self, request: web.Request) -> web.Response:
        properties = await self._properties(request, "calls")
        if isinstance(properties, web.Response):
            return properties
        if not properties.get("hs_timestamp"):
            return _error(400, "Property hs_timestamp is required", "VALIDATION_ERROR")
        contacts: list[str] = []
        for association in (await _json_body(request)).get("associations") or []:
            target = str(association.get("to", {}).get("id", ""))
            types = association.get("types") or [{}]
            kinds = {(t.get("associationCategory"), t.get("associationTypeId")) for t in types}
            if target not in self.contacts or kinds != {("HUBSPOT_DEFINED", 194)}:
                return _error(400, "One or more associations are invalid", "VALIDATION_ERROR")
            contacts.append(target)
        call_id = str(next(self._ids))
        self.calls[call_id] = self._stamped(call_id, properties)
        self.call_contacts[call_id] = contacts
        self.call_creates += 1
        return self._created(request, self._object(call_id, self.calls[call_id]))

    async def _update_call(self, request: web.Request) -> web.Response:
        """A partial update: the given properties overwritten, the others kept."""
        call_id = request.match_info["id"]
        if call_id not in self.calls:
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        properties = await self._properties(request, "calls")
        if isinstance(properties, web.Response):
            return properties
        created = self.calls[call_id].get("createdate")
        merged = self._stamped(call_id, {**self.calls[call_id], **properties})
        self.calls[call_id] = {**merged, "createdate": created or merged["createdate"]}
        self.call_updates += 1
        return web.json_response(self._object(call_id, self.calls[call_id]))

    async def _read(self, request: web.Request) -> web.Response:
        kind, object_id = request.match_info["kind"], request.match_info["id"]
        store = self.contacts if kind == "contacts" else self.calls
        if object_id not in store:
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        answer = self._object(object_id, store[object_id])
        linked = self.call_contacts.get(object_id, []) if kind == "calls" else []
        if "contacts" in request.query.get("associations", "").split(",") and linked:
            results = [{"id": c, "type": "call_to_contact"} for c in linked]
            answer["associations"] = {"contacts": {"results": results}}
        return web.json_response(answer)

    # --- helpers -------------------------------------------------------------------------

    def _email_owner(self, email: str | None, other_than: str | None) -> str | None:
        """The contact that has this email already (HubSpot keeps emails unique)."""
        for contact_id, contact in self.contacts.items():
            same = email and contact.get("email", "").lower() == email.lower()
            if same and contact_id != other_than:
                return contact_id
        return None

    def _known(self, kind: str) -> set[str]:
        return (
            CONTACT_PROPERTIES
            if kind == "contacts"
            else CALL_PROPERTIES | self.custom_call_properties
        )

    async def _properties(self, request: web.Request, kind: str) -> dict[str, str] | web.Response:
        properties = (await _json_body(request)).get("properties")
        if not isinstance(properties, Mapping):
            return _error(400, "Invalid input JSON: properties is required", "VALIDATION_ERROR")
        unknown = sorted(set(properties) - self._known(kind))
        if unknown:
            errors = [{"isValid": False, "message": f'Property "{n}" does not exist',
                       "error": "PROPERTY_DOESNT_EXIST", "name": n} for n in unknown]  # fmt: skip
            return _error(
                400, f"Property values were not valid: {json.dumps(errors)}", "VALIDATION_ERROR"
            )
        email = properties.get("email")
        if kind == "contacts" and email is not None and not _EMAIL.match(str(email)):
            error = {"isValid": False, "message": f"Email address {email} is invalid",
                     "error": "INVALID_EMAIL", "name": "email"}  # fmt: skip
            message = f"Property values were not valid: {json.dumps([error])}"
            return _error(400, message, "VALIDATION_ERROR")
        return {k: str(v) for k, v in properties.items() if v is not None}

    def _created(self, request: web.Request, answer: dict[str, Any]) -> web.Response:
        if self._drops > 0:
            self._drops -= 1
            drop_connection(request)
        return web.json_response(answer, status=201)

    @staticmethod
    def _stamped(object_id: str, properties: Mapping[str, str]) -> dict[str, str]:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        stamped = {
            "hs_object_id": object_id,
            "createdate": now,
            **properties,
            "lastmodifieddate": now,
        }
        for calculated, source in CALCULATED.items():
            stamped.pop(calculated, None)
            value = national_digits(stamped.get(source))
            if value:
                stamped[calculated] = value
        return stamped

    @staticmethod
    def _object(
        object_id: str, properties: Mapping[str, str], wanted: Any = None
    ) -> dict[str, Any]:
        if isinstance(wanted, list) and wanted:
            keep = set(wanted) | {"hs_object_id", "createdate", "lastmodifieddate"}
            properties = {k: v for k, v in properties.items() if k in keep}
        return {
            "id": object_id,
            "properties": dict(properties),
            "createdAt": properties.get("createdate"),
            "updatedAt": properties.get("lastmodifieddate"),
            "archived": False,
        }


def _matches(f: Mapping[str, Any], properties: Mapping[str, str]) -> bool:
    value = properties.get(str(f.get("propertyName")))
    equal = value is not None and value.lower() == str(f.get("value", "")).lower()
    return equal if f.get("operator") == "EQ" else not equal


def _any(groups: list[Any], properties: Mapping[str, str]) -> bool:
    return any(all(_matches(f, properties) for f in g["filters"]) for g in groups)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
