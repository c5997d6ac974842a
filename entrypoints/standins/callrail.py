"""A CallRail API v3 stand-in for the call list: `GET /v3/a/{account_id}/calls.json` with
CallRail's token authentication, paging (`page`, `per_page` up to 250, `total_pages`), the
`start_date`, `company_id`, `sorting`/`order` and `fields` parameters, and the list's field
names and types: ids as `CAL…`/`COM…` strings, `recording` as the API's recording.json link, and,
for calls added with `loose_types`, numbers and booleans as strings the way CallRail's payloads
sometimes carry them.

Tests steer it through `add_call`, `throttle_after` / `clear_throttle` (429 with no Retry-After,
as CallRail answers past its hourly limit), `answer_next` and `delay_s`, and read `requests`."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from entrypoints.standins import RecordedRequest, record

DEFAULT_FIELDS = (
    "answered", "business_phone_number", "customer_city", "customer_country", "customer_name",
    "customer_phone_number", "customer_state", "direction", "duration", "id", "recording",
    "recording_duration", "recording_player", "start_time", "tracking_phone_number", "voicemail",
    "agent_email",
)  # fmt: skip
EXTRA_FIELDS = (
    "company_id", "company_name", "first_call", "source", "landing_page_url", "lead_status",
    "tracker_id", "medium", "campaign", "keywords", "referrer_domain", "note", "tags",
)  # fmt: skip
MAX_PER_PAGE = 250


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _started(call: dict[str, Any]) -> datetime:
    started = _time(call["start_time"])
    assert started is not None, f"the test gave call {call['id']} a start_time of the wrong form"
    return started


class FakeCallRail:
    def __init__(self, api_key: str, account_id: str = "ACC8154748ae6bd4e278a7cddd38a662f4f"):
        self.api_key = api_key
        self.account_id = account_id
        self.calls: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self._answers_left: int | None = None  # None: no limit
        self._scripted: list[web.Response] = []
        self.delay_s = 0.0  # how long each answer takes

    # --- switches for tests ---------------------------------------------------------------

    def add_call(
        self,
        call_id: str,
        start_time: str,
        *,
        company_id: str = "COM8154748ae6bd4e278a7cddd38a662f4f",
        loose_types: bool = False,
        recorded: bool = True,
        **fields: Any,
    ) -> dict[str, Any]:
        """A call as the list shows it with every field; `fields` override the defaults."""
        call: dict[str, Any] = {
            "id": call_id,
            "answered": True,
            "business_phone_number": "+13035550100",
            "customer_city": "Denver",
            "customer_country": "US",
            "customer_name": "Jane Doe",
            "customer_phone_number": "+13035550142",
            "customer_state": "CO",
            "direction": "inbound",
            "duration": 42,
            "recording": (
                f"https://api.callrail.com/v3/a/{self.account_id}/calls/{call_id}/recording.json"
                if recorded
                else None
            ),
            "recording_duration": 40 if recorded else None,
            "recording_player": f"https://app.callrail.com/calls/{call_id}/recording?access_key=k1",
            "start_time": start_time,
            "tracking_phone_number": "+17205550111",
            "voicemail": False,
            "agent_email": "agent@example.com",
            "company_id": company_id,
            "company_name": "Acme Heating & Air",
            "first_call": True,
            "source": "Google Paid",
            "landing_page_url": "https://acme.example/furnace-repair",
            "lead_status": None,
            "tracker_id": "TRK8154748ae6bd4e278a7cddd38a662f4f",
            "medium": "cpc",
            "campaign": "Furnace",
            "keywords": "furnace repair",
            "referrer_domain": "google.com",
            "note": None,
            "tags": [],
        }
        call.update(fields)
        if loose_types:
            for key in ("duration", "recording_duration"):
                if isinstance(call[key], int):
                    call[key] = str(call[key])
            for key in ("answered", "voicemail", "first_call"):
                if isinstance(call[key], bool):
                    call[key] = str(call[key]).lower()
        self.calls.append(call)
        return call

    def throttle_after(self, answers: int) -> None:
        """After `answers` more answered requests, every request gets CallRail's 429."""
        self._answers_left = answers

    def clear_throttle(self) -> None:
        self._answers_left = None

    def answer_next(self, status: int, body: Any) -> None:
        """The next request (once authenticated) gets this JSON body, whatever it asked."""
        self._scripted.append(
            web.Response(status=status, text=json.dumps(body), content_type="application/json")
        )

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v3/a/{account_id}/calls.json", self._list)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        await record(request, self.requests)
        await asyncio.sleep(self.delay_s)
        if self._answers_left is not None:
            if self._answers_left <= 0:
                return _error(429, "Too many requests")
            self._answers_left -= 1
        if request.headers.get("Authorization") != f'Token token="{self.api_key}"':
            return _error(401, "HTTP Token: Access denied.")
        if self._scripted:
            return self._scripted.pop(0)
        response: web.StreamResponse = await handler(request)
        return response

    async def _list(self, request: web.Request) -> web.Response:
        if request.match_info["account_id"] != self.account_id:
            return _error(404, "Not found")
        q = request.query
        try:
            page = int(q.get("page", "1"))
            per_page = int(q.get("per_page", "100"))
        except ValueError:
            return _error(400, "page and per_page must be integers")
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            return _error(400, f"per_page must be between 1 and {MAX_PER_PAGE}")
        extra = [f for f in q.get("fields", "").split(",") if f]
        unknown = [f for f in extra if f not in DEFAULT_FIELDS + EXTRA_FIELDS]
        if unknown:
            return _error(400, f"Invalid field(s): {', '.join(unknown)}")
        since = _time(q["start_date"]) if "start_date" in q else None
        if "start_date" in q and since is None:
            return _error(400, "Invalid start_date")
        calls = [c for c in self.calls if since is None or _started(c) >= since]
        if "company_id" in q:
            calls = [c for c in calls if c["company_id"] == q["company_id"]]
        if q.get("sorting", "start_time") != "start_time":
            return _error(400, "Unsupported sorting")
        calls.sort(key=_started, reverse=q.get("order") != "asc")
        shown = set(DEFAULT_FIELDS) | set(extra)
        window = calls[(page - 1) * per_page : page * per_page]
        return web.json_response(
            {
                "page": page,
                "per_page": per_page,
                "total_pages": math.ceil(len(calls) / per_page),
                "total_records": len(calls),
                "calls": [{k: v for k, v in c.items() if k in shown} for c in window],
            }
        )
