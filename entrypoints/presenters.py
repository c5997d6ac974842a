"""What the HTTP API and the CLI print: the shapes of api.md."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from domain.call import Call
from domain.codec import call_document, iso
from domain.cost import Cost
from domain.results import SyncStatus
from domain.retention import DeletionRecord
from domain.stats import TenantStatistics
from domain.tenant import Tenant, tenant_document
from domain.usage import UsageDelta


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    document = tenant_document(tenant)  # secrets masked
    document["created_at"] = iso(tenant.created_at)
    document["updated_at"] = iso(tenant.updated_at)
    return document


def usd(amount: Decimal) -> float:
    """Money as a JSON number, to a millionth of a dollar (a call's items are fractions of a
    cent; the exact Decimal stays in the domain)."""
    return float(round(amount, 6))


def cost_view(cost: Cost) -> dict[str, Any]:
    return {
        "total_usd": usd(cost.total),
        "currency": cost.currency,
        "items": [
            {
                "item": line.item,
                "units": float(round(line.units, 6)),
                "unit": line.unit,
                "usd": usd(line.usd),
            }
            for line in cost.lines
        ],
    }


def call_view(call: Call, cost: Cost) -> dict[str, Any]:
    """The call as api.md shows it, with what it cost at the price table's list prices."""
    return {**call_document(call), "cost": cost_view(cost)}


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


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _usage_view(usage: UsageDelta) -> dict[str, Any]:
    return {
        "audio_seconds": usage.audio_seconds,
        "llm_tokens_in": usage.llm_tokens_in,
        "llm_tokens_out": usage.llm_tokens_out,
        "crm_api_calls": usage.crm_api_calls,
        "stored_bytes": usage.stored_bytes,
    }


def stats_view(stats: TenantStatistics) -> dict[str, Any]:
    """api.md's stats: requests, success rate, processing time, CRM syncs by type, lead tiers,
    failures by stage and usage."""
    return {
        "tenant_id": stats.tenant_id,
        "since": iso(stats.since),
        "until": iso(stats.until),
        "requests": stats.requests,
        "completed": stats.completed,
        "failed": stats.failed,
        "in_progress": stats.in_progress,
        "success_rate": _rate(stats.success_rate),
        "processing_time_ms": {
            "count": stats.processing.count,
            "mean": stats.processing.mean_ms,
            "p95": stats.processing.p95_ms,
        },
        "crm_sync": {
            crm.crm_type: {
                **{status.value: crm.counts.get(status, 0) for status in SyncStatus},
                "success_rate": _rate(crm.success_rate),
            }
            for crm in stats.crm
        },
        "lead_tiers": {tier.value: n for tier, n in stats.lead_tiers.items()},
        "failures_by_stage": {stage.value: n for stage, n in stats.failures_by_stage.items()},
        "answers": {key: dict(counts) for key, counts in stats.answers.items()},
        "usage": {
            **_usage_view(stats.usage),
            "by_day": [
                {"day": d.day.isoformat(), **_usage_view(d.totals)} for d in stats.usage_by_day
            ],
        },
        "cost": {
            **cost_view(stats.cost.total),
            "by_day": [
                {"day": d.day.isoformat(), "usd": usd(d.cost.total)} for d in stats.cost.by_day
            ],
            "by_month": [
                {"month": month, "usd": usd(amount)}
                for month, amount in stats.cost.by_month.items()
            ],
        },
    }


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _pairs(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def stats_lines(view: dict[str, Any]) -> list[str]:
    """The stats view as a few aligned lines, for the CLI."""
    timing, usage = view["processing_time_ms"], view["usage"]
    lines = [
        f"{view['tenant_id']}: calls received from {view['since']} to {view['until']}",
        f"requests        {view['requests']}",
        f"completed       {view['completed']}",
        f"failed          {view['failed']}",
        f"in progress     {view['in_progress']}",
        f"success rate    {_percent(view['success_rate'])}",
        f"processing      mean {timing['mean'] or '-'} ms, p95 {timing['p95'] or '-'} ms"
        f" ({timing['count']} completed)",
    ]
    for crm_type, counts in view["crm_sync"].items():
        by_status = {k: v for k, v in counts.items() if k != "success_rate"}  # view left whole
        rate = _percent(counts["success_rate"])
        lines.append(f"crm {crm_type:<11} {_pairs(by_status)} (success {rate})")
    lines += [
        f"lead tiers      {_pairs(view['lead_tiers'])}",
        f"failures        {_pairs(view['failures_by_stage'])}",
        *(f"answer {key:<8} {_pairs(counts)}" for key, counts in view["answers"].items()),
        f"usage           audio {usage['audio_seconds']} s, LLM tokens {usage['llm_tokens_in']}"
        f" in / {usage['llm_tokens_out']} out, CRM requests {usage['crm_api_calls']},"
        f" stored {usage['stored_bytes']} bytes",
    ]
    cost = view["cost"]
    months = ", ".join(f"{m['month']} ${m['usd']:.4f}" for m in cost["by_month"]) or "none"
    lines.append(f"cost            ${cost['total_usd']:.4f} {cost['currency']} ({months})")
    return lines


def counts_line(counts: Mapping[str, int]) -> str:
    """`1 call(s), 2 job(s), 3 object(s)`: what went, the kinds with none left out."""
    shown = [
        f"{n} {kind.rstrip('s').replace('_', ' ')}(s)" for kind, n in sorted(counts.items()) if n
    ]
    return ", ".join(shown) or "nothing was left"


def deletion_view(record: DeletionRecord) -> dict[str, Any]:
    return {
        "record_id": record.record_id,
        "at": record.at.isoformat(),
        "actor": record.actor,
        "action": record.action,
        "tenant_id": record.tenant_id,
        "subject": record.subject,
        "counts": dict(record.counts),
    }
