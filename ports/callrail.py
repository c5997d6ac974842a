"""CallRail's list of calls, read back to find calls whose webhook never reached us."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from domain.tenant import Tenant


@attrs.frozen
class CallListPage:
    """One page of CallRail's call list. Each call is a payload for the intake's parser: the
    fields as CallRail's API gives them (numbers and booleans sometimes as strings), unknown
    fields kept. `next_page_token` is opaque; None on the last page. `page` and `total_pages`
    (when the API says) are for telling an operator how far a run has come."""

    calls: tuple[Mapping[str, Any], ...]
    next_page_token: str | None = None
    page: int | None = None
    total_pages: int | None = None


class CallRailCalls(Protocol):
    async def list_calls(
        self, tenant: Tenant, since: datetime, page_token: str | None
    ) -> CallListPage:
        """The tenant's calls (its company's, with its API key) that started at or after
        `since`, oldest first; `page_token` None for the first page. Raises RateLimited (the
        account's API limit), TransientFailure (timeouts, 5xx) or PermanentFailure (the key or
        the account refused, an answer of the wrong shape). The key never appears in a
        message."""
        ...
