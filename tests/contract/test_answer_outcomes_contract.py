"""CallRepository.outcomes carries a call's custom answers (the choice and yes/no ones stats
count) the same on every store: in memory, SQLite, and Spanner on its emulator."""

from __future__ import annotations

from domain.results import Answer, CallAnalysis, Intent, Tier
from ports.repositories import UnitOfWorkFactory
from tests.contract.test_call_outcomes_contract import outcomes, scored
from tests.contract.test_repository_contract import (
    T0,
    add_calls,
    add_tenants,
    make_call,
    make_tenant,
)


async def test_the_answers_of_a_call_reach_its_outcome(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    answered = scored(make_call("acme", "1", T0), Tier.HOT)
    answered.analysis = CallAnalysis(
        engine="openai:llama3.2",
        summary="A furnace repair",
        intent=Intent.NEW_SERVICE_REQUEST,
        answers=(
            Answer("fuel", "gas"),
            Answer("has_pets", False),
            Answer("budget", 5000.0),
            Answer("system_age", None),
        ),
    )
    plain = scored(make_call("acme", "2", T0), Tier.COLD)
    await add_calls(uow_factory, answered, plain)

    found = await outcomes(uow_factory, "acme")

    assert set(found["CAL1"].answers) == {
        Answer("fuel", "gas"),
        Answer("has_pets", False),
        Answer("system_age", None),
    }  # a number is no choice: stats do not count it
    assert found["CAL2"].answers == ()
