"""A call's hot-lead alerts, as every store keeps them (in-memory, SQLite, Spanner on its
emulator): what a redelivered job reads back decides whether a destination is sent to again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from domain.alerts import AlertRecord, AlertStatus
from domain.call import Call
from domain.codec import call_document
from domain.tenant import parse_tenant
from domain.webhook import parse_incoming_call
from ports.repositories import UnitOfWorkFactory
from tests.support import callrail_body, tenant_document

T0 = datetime(2026, 3, 4, 15, 30, 0, 123456, tzinfo=UTC)


async def _stored_call(uow_factory: UnitOfWorkFactory) -> Call:
    incoming = parse_incoming_call(json.loads(callrail_body("a1")))
    call = Call.receive("acme", incoming, T0)
    async with uow_factory() as uow:
        await uow.tenants.add(parse_tenant(tenant_document("acme"), T0))
        await uow.calls.add(call)
        await uow.commit()
    return call


async def _read(uow_factory: UnitOfWorkFactory, call_id: str) -> Call:
    async with uow_factory(read_only=True) as uow:
        call = await uow.calls.get("acme", call_id)
    assert call is not None
    return call


async def test_a_call_without_alerts_reads_back_with_none(uow_factory: UnitOfWorkFactory) -> None:
    call = await _stored_call(uow_factory)
    found = await _read(uow_factory, call.call_id)
    assert found.alerts == ()
    assert call_document(found)["alerts"] == []


async def test_alert_records_are_kept_as_written_and_replaced_by_an_update(
    uow_factory: UnitOfWorkFactory,
) -> None:
    call = await _stored_call(uow_factory)
    pending = AlertRecord("slack", "slack", AlertStatus.PENDING, T0, attempts=0)
    failed = AlertRecord(
        "ops-hook", "webhook", AlertStatus.FAILED, T0, attempts=3, error="https://x answered 503"
    )
    call.alerts = (pending, failed)
    async with uow_factory() as uow:
        await uow.calls.update(call)
        await uow.commit()
    found = await _read(uow_factory, call.call_id)
    assert found.alerts == (pending, failed)

    sent = AlertRecord("slack", "slack", AlertStatus.SENT, T0 + timedelta(seconds=2), attempts=1)
    found.alerts = (sent, failed)
    async with uow_factory() as uow:
        await uow.calls.update(found)
        await uow.commit()
    again = await _read(uow_factory, call.call_id)
    assert again.alerts == (sent, failed)
    assert call_document(again)["alerts"][0] == {
        "destination": "slack",
        "type": "slack",
        "status": "sent",
        "at": "2026-03-04T15:30:02.123456+00:00",
        "attempts": 1,
        "error": None,
    }
