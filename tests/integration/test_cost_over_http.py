"""Cost in money over HTTP, through the whole service: a call's `cost` by item, priced with the
operator's price file, and a tenant's money per day and month in its stats."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
from dependency_injector import providers

from domain.cost_usage import Deployment
from domain.usage import UsageDelta
from tests.integration.pipeline_service import OPERATOR, RECORDED, pipeline_service

CPU_SECOND = Decimal("0.001")


async def test_a_call_shows_its_cost_by_item_at_the_operators_prices(tmp_path: Path) -> None:
    """On one machine a call is priced by the seconds its stages ran, at the rate the operator's
    price file sets (the shipped one says $0)."""
    prices = tmp_path / "prices.toml"
    prices.write_text(f'[embedded]\ncpu_second = "{CPU_SECOND}"\n')
    async with pipeline_service(tmp_path, PIPELINE_PRICES_FILE=str(prices)) as service:
        await service.create_tenant("acme", "111")
        await service.post_call("acme", "111", RECORDED, recorded=True)
        assert await service.wait_until_done("acme", [RECORDED]) == {RECORDED: "COMPLETED"}
        status, text = await service.get(f"/v1/tenants/acme/calls/{RECORDED}", OPERATOR)
        key = await service.api_key("acme")
        own_status, own = await service.get(
            f"/v1/tenants/acme/calls/{RECORDED}", {"Authorization": f"Bearer {key}"}
        )

    assert status == 200
    call = json.loads(text)
    seconds = sum((Decimal(e["duration_ms"] or 0) for e in call["timeline"]), Decimal(0)) / 1000
    assert seconds > 0
    assert call["cost"] == {
        "total_usd": float(round(seconds * CPU_SECOND, 6)),
        "currency": "USD",
        "items": [
            {
                "item": "cpu",
                "units": float(round(seconds, 6)),
                "unit": "second",
                "usd": float(round(seconds * CPU_SECOND, 6)),
            }
        ],
    }
    assert own_status == 200
    assert json.loads(own)["cost"] == call["cost"]  # the tenant's own key sees it too


async def test_stats_show_a_tenants_money_per_day_and_month(tmp_path: Path) -> None:
    """A day's metered usage priced as the Google Cloud shape prices it (Speech-to-Text chirp_3,
    the tenant's Gemini model, Cloud Storage), two days in two months."""
    async with pipeline_service(tmp_path, PIPELINE_WORKER_CONCURRENCY="0") as service:
        container = service.container
        gcp = Deployment(cloud_storage=True, speech_model="chirp_3", llm=True)
        container.pricing.override(
            providers.Object(attrs.evolve(container.pricing(), deployment=gcp))
        )
        await service.create_tenant("acme", "111", crm="none")
        await service.create_tenant("beta", "222", crm="none")
        day = UsageDelta(
            audio_seconds=180, llm_tokens_in=3000, llm_tokens_out=600, stored_bytes=1_440_000
        )
        async with container.uow()() as uow:
            for tenant, when in [
                ("acme", date(2026, 11, 30)),
                ("acme", date(2026, 12, 1)),
                ("beta", date(2026, 12, 1)),
            ]:
                await uow.usage.add(tenant, when, day)
            await uow.commit()
        since = "?since=2026-11-30T00:00:00Z"
        status, text = await service.get(f"/v1/tenants/acme/stats{since}", OPERATOR)
        container.pricing.reset_override()

    assert status == 200
    cost = json.loads(text)["cost"]
    # 3 min x $0.016 + 3,000 x $0.30/M + 600 x $2.50/M + 1,440,000 B / 2^30 x $0.020 a month
    one_day = (
        Decimal("0.048")
        + Decimal("0.0009")
        + Decimal("0.0015")
        + Decimal(1_440_000) / 2**30 * Decimal("0.020")
    )
    assert cost["by_day"] == [
        {"day": "2026-11-30", "usd": float(round(one_day, 6))},
        {"day": "2026-12-01", "usd": float(round(one_day, 6))},
    ]
    assert cost["by_month"] == [
        {"month": "2026-11", "usd": float(round(one_day, 6))},
        {"month": "2026-12", "usd": float(round(one_day, 6))},
    ]
    assert cost["total_usd"] == float(round(2 * one_day, 6)) == 0.100854  # beta's day not in it
    assert cost["currency"] == "USD"
    speech = next(i for i in cost["items"] if i["item"] == "speech:chirp_3:standard")
    assert (speech["units"], speech["usd"]) == (6.0, 0.096)
