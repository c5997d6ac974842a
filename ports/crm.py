from __future__ import annotations

from typing import Protocol

from domain.call import Call
from domain.results import CrmSyncResult
from domain.tenant import Tenant


class CrmGateway(Protocol):
    async def sync(self, call: Call, idempotency_key: str) -> CrmSyncResult:
        """Finds or creates the contact and logs the call activity once per key."""
        ...


class CrmGatewayFactory(Protocol):
    async def for_tenant(self, tenant: Tenant) -> CrmGateway | None:
        """The tenant's CRM, or None when it has none (the sync stage is skipped)."""
        ...
