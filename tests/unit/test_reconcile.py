"""ReconcileCalls' own decisions, with the port played by pages scripted here: which calls it
takes, which it leaves (another company's, too recent, listed twice, already stored), and what
it refuses before asking CallRail anything."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.memory.fakes import FixedClock, InMemoryJobQueue, SequentialIds
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.errors import PermanentFailure, TenantInactive, TenantNotFound, ValidationFailed
from domain.tenant import Tenant
from domain.usecases.intake import AdmitCall
from domain.usecases.reconcile import ReconcileCalls, ReconcileCommand, ReconcileReport
from domain.usecases.tenants import CreateTenant, UpdateTenant
from ports.callrail import CallListPage, CallRailCalls
from tests.support import tenant_document

COMPANY = "COM8154748ae6bd4e278a7cddd38a662f4f"
SINCE = datetime(2026, 3, 4, tzinfo=UTC)


class ScriptedCallRail(CallRailCalls):
    """Pages by token: the first page under None, each naming the next."""

    def __init__(self, *pages: list[Mapping[str, Any]], tokens: list[str | None] | None = None):
        self.tokens = tokens or [
            str(n + 2) if n + 1 < len(pages) else None for n in range(len(pages))
        ]
        self.pages = dict(zip([None, *self.tokens[:-1]], pages, strict=True))
        self.asked: list[tuple[str, datetime, str | None]] = []

    async def list_calls(
        self, tenant: Tenant, since: datetime, page_token: str | None
    ) -> CallListPage:
        self.asked.append((tenant.tenant_id, since, page_token))
        index = [None, *self.tokens].index(page_token)
        return CallListPage(tuple(self.pages[page_token]), self.tokens[index])


def call(call_id: str, minutes_before: float = 90, **fields: Any) -> dict[str, Any]:
    """A call from the list, started this long before the test clock (15:30 UTC)."""
    started = datetime(2026, 3, 4, 15, 30, tzinfo=UTC) - timedelta(minutes=minutes_before)
    return {
        "id": call_id,
        "company_id": COMPANY,
        "start_time": started.isoformat(),
        "duration": 60,
        "customer_phone_number": "+13035550142",
        **fields,
    }


async def make_tenant(uow: InMemoryUnitOfWorkFactory, clock: FixedClock, **config: Any) -> None:
    defaults = {"company_id": COMPANY, "callrail_api_key": "k"}
    await CreateTenant(uow, clock)(tenant_document(**{**defaults, **config}))


async def reconcile(
    uow: InMemoryUnitOfWorkFactory,
    api: CallRailCalls,
    clock: FixedClock,
    admit_uow: InMemoryUnitOfWorkFactory | None = None,
    since: datetime = SINCE,
) -> ReconcileReport:
    admit = AdmitCall(admit_uow or uow, InMemoryJobQueue(), SequentialIds())
    return await ReconcileCalls(uow, api, admit, clock)(ReconcileCommand("acme", since))


async def test_every_page_is_read_with_the_tenant_and_the_window(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await make_tenant(memory_uow, clock)
    api = ScriptedCallRail([call("CAL1")], [], [call("CAL2"), call("CAL3")])

    report = await reconcile(memory_uow, api, clock)

    assert api.asked == [("acme", SINCE, None), ("acme", SINCE, "2"), ("acme", SINCE, "3")]
    assert (report.seen, report.ingested) == (3, ("CAL1", "CAL2", "CAL3"))
    assert (report.tenant_id, report.since) == ("acme", SINCE)


async def test_a_call_of_another_company_is_not_taken(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await make_tenant(memory_uow, clock)
    unnamed = call("CAL3")
    del unnamed["company_id"]  # no company named: CallRail's own filter is trusted
    api = ScriptedCallRail([call("CAL1", company_id="COMother"), call("CAL2"), unnamed])

    report = await reconcile(memory_uow, api, clock)

    assert (report.foreign, report.ingested) == (("CAL1",), ("CAL2", "CAL3"))


async def test_a_call_whose_webhook_may_still_come_is_left_to_it(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await make_tenant(memory_uow, clock)
    # Started 30 minutes ago and lasted one: its webhook may come until 1 minute from now.
    api = ScriptedCallRail(
        [call("CALrecent", minutes_before=30), call("CALno_time", start_time=None)]
    )

    first = await reconcile(memory_uow, api, clock)
    clock.advance(61)
    second = await reconcile(memory_uow, api, clock)

    assert (first.recent, first.ingested) == (("CALrecent",), ("CALno_time",))
    assert (second.recent, second.ingested) == ((), ("CALrecent",))


async def test_a_call_listed_twice_is_counted_once(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await make_tenant(memory_uow, clock)
    api = ScriptedCallRail([call("CAL1"), call("CAL2")], [call("CAL2"), call("CAL3")])

    report = await reconcile(memory_uow, api, clock)

    assert (report.seen, report.ingested, report.known) == (4, ("CAL1", "CAL2", "CAL3"), ())


async def test_a_call_stored_by_someone_else_meanwhile_counts_as_known(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    """The webhook may store the call between the check and the insert: the insert, which is
    idempotent, has the last word. Here the check reads a store that does not have it yet."""
    await make_tenant(memory_uow, clock)
    api = ScriptedCallRail([call("CAL1")])
    elsewhere = InMemoryUnitOfWorkFactory()
    await make_tenant(elsewhere, clock)
    await reconcile(elsewhere, api, clock)

    report = await reconcile(memory_uow, api, clock, admit_uow=elsewhere)

    assert (report.ingested, report.known) == ((), ("CAL1",))


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        ({"id": "CAL9", "direction": "sideways"}, "CAL9"),
        ({"id": 766970532, "duration": -1}, "766970532"),
        ({"id": "bad\nid", "duration": "x"}, "#2"),
        ({"customer_name": "no id at all"}, "#2"),
    ],
)
async def test_a_call_that_does_not_parse_is_reported_by_its_id_or_position(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock, payload: dict[str, Any], shown: str
) -> None:
    await make_tenant(memory_uow, clock)
    api = ScriptedCallRail([call("CAL1"), payload])

    report = await reconcile(memory_uow, api, clock)

    assert report.ingested == ("CAL1",)
    assert [failed_id for failed_id, _ in report.failed] == [shown]
    assert ":" in report.failed[0][1]  # field: message


async def test_a_page_token_seen_before_stops_the_run(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await make_tenant(memory_uow, clock)
    api = ScriptedCallRail([call("CAL1")], [call("CAL2")], tokens=["2", "2"])

    with pytest.raises(PermanentFailure, match="page already read"):
        await reconcile(memory_uow, api, clock)
    assert len(api.asked) == 2


@pytest.mark.parametrize(
    ("since", "message"),
    [
        (datetime(2026, 3, 4), "UTC offset"),  # noqa: DTZ001 - the naive time under test
        (datetime(2026, 3, 4, 16, tzinfo=UTC), "in the future"),
    ],
)
async def test_a_window_that_makes_no_sense_is_refused(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock, since: datetime, message: str
) -> None:
    await make_tenant(memory_uow, clock)
    api = ScriptedCallRail([call("CAL1")])

    with pytest.raises(ValidationFailed, match=message):
        await reconcile(memory_uow, api, clock, since=since)
    assert api.asked == []


async def test_a_tenant_that_cannot_be_reconciled_is_refused_before_calling_callrail(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    api = ScriptedCallRail([call("CAL1")])
    with pytest.raises(TenantNotFound):
        await reconcile(memory_uow, api, clock)

    for missing in ("callrail_api_key", "callrail_account_id"):
        incomplete = InMemoryUnitOfWorkFactory()
        await make_tenant(incomplete, clock, **{missing: None})
        with pytest.raises(ValidationFailed, match="callrail_account_id and callrail_api_key"):
            await reconcile(incomplete, api, clock)

    suspended = InMemoryUnitOfWorkFactory()
    await make_tenant(suspended, clock)
    await UpdateTenant(suspended, clock)("acme", {"status": "suspended"})
    with pytest.raises(TenantInactive):
        await reconcile(suspended, api, clock)
    assert api.asked == []
