"""A Salesforce REST stand-in: Leads, Contacts and Tasks in memory, the OAuth 2.0
client-credentials token endpoint, the SOQL query for a Task by CallObject, SOSL phone search,
Lead upsert by external id, and Salesforce's error arrays.

Only the query shapes the adapter sends are understood; anything else gets MALFORMED_QUERY, as a
query Salesforce could not parse would. Tests steer it with `expire_tokens`,
`revoke_credentials`, `fail_next`, `limit_next` and `drop_next_create`, and read `requests`."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from entrypoints.standins import RecordedRequest, drop_connection, record

TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a path, not a secret
FIELDS = {
    "Lead": {
        "FirstName", "LastName", "Email", "Phone", "MobilePhone", "Company", "Status", "Rating",
    },
    "Contact": {"FirstName", "LastName", "Email", "Phone", "MobilePhone"},
    "Task": {
        "Subject", "Status", "TaskSubtype", "CallType", "CallDurationInSeconds", "CallObject",
        "CallDisposition", "Description", "WhoId", "ActivityDate",
    },
}  # fmt: skip
PREFIX = {"Lead": "00Q", "Contact": "003", "Task": "00T"}
_SOQL = re.compile(
    r"^SELECT (?P<fields>[\w, ]+) FROM Task WHERE CallObject = '(?P<value>(?:[^'\\]|\\.)*)'"
    r"(?: ORDER BY CreatedDate)?(?: LIMIT (?P<limit>\d+))?$",
    re.IGNORECASE,
)
_SOSL = re.compile(r"^FIND \{(?P<term>[^}]*)\} IN PHONE FIELDS RETURNING (?P<objects>.+)$", re.I)
_RETURNING = re.compile(r"(?P<kind>Lead|Contact)\((?P<fields>[\w, ]+?)(?P<where> WHERE [^)]*)?\)")
_UNESCAPE = re.compile(r"\\(.)")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _errors(status: int, code: str, message: str, fields: list[str] | None = None) -> web.Response:
    return web.json_response(
        [{"message": message, "errorCode": code, "fields": fields or []}], status=status
    )


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", value) if isinstance(value, str) else ""


class FakeSalesforce:
    def __init__(
        self,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",  # noqa: S107 - the stand-in's own
        external_id_field: str = "CallRail_Phone__c",
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.external_id_field = external_id_field
        self.records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in PREFIX}
        self.requests: list[RecordedRequest] = []
        self.valid_tokens: set[str] = set()
        self.revoked = False
        self.reject_sessions = False  # every API request: 401 INVALID_SESSION_ID, fresh or not
        self._ids = itertools.count(1)
        self._scripted: list[web.Response] = []
        self._drops = 0
        self.task_updates = 0
        self.custom_task_fields: set[str] = set()  # a tenant's own Task fields (Budget__c)

    @property
    def leads(self) -> dict[str, dict[str, Any]]:
        return self.records["Lead"]

    @property
    def contacts(self) -> dict[str, dict[str, Any]]:
        return self.records["Contact"]

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.records["Task"]

    @property
    def token_requests(self) -> int:
        return sum(1 for r in self.requests if r.path == TOKEN_PATH)

    # --- switches for tests ---------------------------------------------------------------

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def revoke_credentials(self) -> None:
        self.revoked = True
        self.expire_tokens()

    def clear_failures(self) -> None:
        self._scripted.clear()

    def fail_next(self, count: int, status: int = 503) -> None:
        self._scripted += [
            _errors(status, "SERVER_UNAVAILABLE", "Service unavailable") for _ in range(count)
        ]

    def limit_next(self, count: int) -> None:
        self._scripted += [
            _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            for _ in range(count)
        ]

    def drop_next_create(self, count: int = 1) -> None:
        self._drops += count

    def add(self, kind: str, **fields: Any) -> str:
        record_id = f"{PREFIX[kind]}{next(self._ids):015d}"
        self.records[kind][record_id] = {"Id": record_id, **fields}
        return record_id

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_post(TOKEN_PATH, self._token)
        api = "/services/data/{version:v[0-9]+\\.0}"
        r.add_get(f"{api}/query", self._query)
        r.add_get(f"{api}/search", self._search)
        r.add_patch(f"{api}/sobjects/Lead/{{field:[A-Za-z0-9_]+__c}}/{{value}}", self._upsert)
        r.add_patch(f"{api}/sobjects/{{kind:Lead|Contact|Task}}/{{id}}", self._update)
        r.add_post(f"{api}/sobjects/Task", self._create_task)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        await record(request, self.requests)
        if request.path != TOKEN_PATH:
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if bearer not in self.valid_tokens or self.reject_sessions:
                return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if self._scripted:
                return self._scripted.pop(0)
        response: web.StreamResponse = await handler(request)
        return response

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        good = (
            form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
        )
        if self.revoked or not good:
            body = {"error": "invalid_client", "error_description": "invalid client credentials"}
            return web.json_response(body, status=400)
        token = f"00Dfake!token{next(self._ids)}"
        self.valid_tokens.add(token)
        base = f"{request.scheme}://{request.host}"
        return web.json_response(
            {"access_token": token, "instance_url": base, "id": f"{base}/id/00Dfake/005fake",
             "token_type": "Bearer", "issued_at": "1767225600000", "signature": "fake"}
        )  # fmt: skip

    async def _query(self, request: web.Request) -> web.Response:
        match = _SOQL.match(request.query.get("q", ""))
        if match is None:
            return _errors(400, "MALFORMED_QUERY", "unexpected token")
        wanted = [f.strip() for f in match["fields"].split(",")]
        value = _UNESCAPE.sub(
            lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), match["value"]
        )
        hits = [
            t for t in self.tasks.values() if str(t.get("CallObject", "")).lower() == value.lower()
        ]
        hits = hits[: int(match["limit"] or 2000)]
        records = [self._shaped(request, "Task", t, wanted) for t in hits]
        return web.json_response({"totalSize": len(records), "done": True, "records": records})

    async def _search(self, request: web.Request) -> web.Response:
        match = _SOSL.match(request.query.get("q", ""))
        term = _digits(match["term"]) if match else ""
        if match is None or len(term) < 2:
            return _errors(400, "MALFORMED_SEARCH", "search term must be longer than one character")
        found = []
        for part in _RETURNING.finditer(match["objects"]):
            kind, where = part["kind"], part["where"] or ""
            wanted = [f.strip() for f in part["fields"].split(",")]
            for item in self.records[kind].values():
                if "IsConverted = false" in where and item.get("IsConverted"):
                    continue
                # Phone search ignores formatting and a leading country code.
                if any(_digits(item.get(f)).endswith(term) for f in ("Phone", "MobilePhone")):
                    found.append(self._shaped(request, kind, item, wanted))
        return web.json_response({"searchRecords": found})

    async def _upsert(self, request: web.Request) -> web.StreamResponse:
        field, value = request.match_info["field"], request.match_info["value"]
        if field != self.external_id_field:
            message = f"Provided external ID field does not exist or is not accessible: {field}"
            return _errors(404, "NOT_FOUND", message)
        fields = await self._fields(request, "Lead")
        if isinstance(fields, web.Response):
            return fields
        matches = [i for i, lead in self.leads.items() if lead.get(field) == value]
        if len(matches) > 1:
            urls = [
                f"/services/data/{request.match_info['version']}/sobjects/Lead/{i}" for i in matches
            ]
            return web.json_response(urls, status=300)
        if matches:
            self.leads[matches[0]].update(fields)
            return web.json_response(
                {"id": matches[0], "success": True, "errors": [], "created": False}
            )
        missing = [f for f in ("LastName", "Company") if not fields.get(f)]
        if missing:
            return _errors(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", missing
            )
        lead_id = self.add("Lead", **fields, **{field: value})
        return self._created(
            request, {"id": lead_id, "success": True, "errors": [], "created": True}
        )

    async def _update(self, request: web.Request) -> web.StreamResponse:
        kind, record_id = request.match_info["kind"], request.match_info["id"]
        if record_id not in self.records[kind]:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        fields = await self._fields(request, kind)
        if isinstance(fields, web.Response):
            return fields
        if kind == "Task" and "TaskSubtype" in fields:  # set on create only
            message = "Unable to create/update fields: TaskSubtype."
            return _errors(400, "INVALID_FIELD_FOR_INSERT_UPDATE", message, ["TaskSubtype"])
        self.records[kind][record_id].update(fields)
        self.task_updates += kind == "Task"
        return web.Response(status=204)

    async def _create_task(self, request: web.Request) -> web.StreamResponse:
        fields = await self._fields(request, "Task")
        if isinstance(fields, web.Response):
            return fields
        who = fields.get("WhoId")
        if who is not None and who not in self.leads and who not in self.contacts:
            message = f"Who ID: id value of incorrect type: {who}"
            return _errors(400, "FIELD_INTEGRITY_EXCEPTION", message, ["WhoId"])
        task_id = self.add("Task", **fields)
        return self._created(request, {"id": task_id, "success": True, "errors": []})

    # --- helpers -------------------------------------------------------------------------

    async def _fields(self, request: web.Request, kind: str) -> dict[str, Any] | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _errors(400, "JSON_PARSER_ERROR", "The request body is not JSON")
        if not isinstance(body, dict):
            return _errors(400, "JSON_PARSER_ERROR", "Expected an object")
        for name in body:
            custom = self.custom_task_fields if kind == "Task" else set()
            if name not in FIELDS[kind] | {self.external_id_field} | custom:
                return _errors(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {kind}"
                )
        email = body.get("Email")
        if email is not None and not _EMAIL.match(str(email)):
            message = f"Email: invalid email address: {email}"
            return _errors(400, "INVALID_EMAIL_ADDRESS", message, ["Email"])
        return body

    def _created(self, request: web.Request, answer: dict[str, Any]) -> web.Response:
        if self._drops > 0:
            self._drops -= 1
            drop_connection(request)
        return web.json_response(answer, status=201)

    @staticmethod
    def _shaped(
        request: web.Request, kind: str, item: Mapping[str, Any], wanted: list[str]
    ) -> dict[str, Any]:
        version = request.match_info["version"]
        attributes = {"type": kind, "url": f"/services/data/{version}/sobjects/{kind}/{item['Id']}"}
        return {"attributes": attributes, **{f: item.get(f) for f in wanted}}
