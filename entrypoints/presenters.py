"""What the HTTP API and the CLI print: the shapes of api.md."""

from __future__ import annotations

from typing import Any

from domain.call import Call
from domain.codec import iso
from domain.tenant import Tenant, tenant_document


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    document = tenant_document(tenant)  # secrets masked
    document["created_at"] = iso(tenant.created_at)
    document["updated_at"] = iso(tenant.updated_at)
    return document


def call_summary(call: Call) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "status": call.status,
        "stage": call.stage.value,
        "received_at": iso(call.received_at),
        "completed_at": iso(call.completed_at),
        "duration_s": call.metadata.duration_s,
        "source": call.metadata.source,
        "intent": call.analysis.intent.value if call.analysis else None,
        "score": call.lead_score.score if call.lead_score else None,
        "tier": call.lead_score.tier.value if call.lead_score else None,
    }
