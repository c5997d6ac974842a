from __future__ import annotations

from typing import Protocol

from domain.crm import ActivityRef, CrmActivity, CrmContact
from domain.tenant import Tenant


class CrmGateway(Protocol):
    """One tenant's CRM. Raises TransientFailure (429, 5xx, timeouts; with retry_after_s when
    the CRM says when) or PermanentFailure (credentials refused after a refresh, a record the
    CRM rejects as invalid)."""

    crm_type: str

    @property
    def api_calls(self) -> int:
        """HTTP requests this gateway has sent so far, resends and token requests included
        (usage metering: what a sync cost the tenant's CRM API quota)."""
        ...

    async def find_activity(self, idempotency_key: str) -> ActivityRef | None:
        """The call activity created earlier under this key, if any."""
        ...

    async def upsert_contact(self, contact: CrmContact) -> str:
        """Finds the contact by phone (E.164, verified) and updates it, or creates it; its id."""
        ...

    async def create_activity(self, activity: CrmActivity, contact_id: str | None) -> str:
        """Logs the call, associated with the contact; the activity's id."""
        ...

    async def update_activity(self, activity_id: str, activity: CrmActivity) -> None:
        """Rewrites the call activity in place (a re-analysed call: new summary, score,
        reasons, answers); never creates one."""
        ...


class CrmGatewayFactory(Protocol):
    async def for_tenant(self, tenant: Tenant) -> CrmGateway | None:
        """The tenant's CRM, or None when it has none (the sync stage is skipped)."""
        ...
