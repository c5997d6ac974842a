"""The AlertSender port: every sender (Slack's incoming webhook, the signed webhook) against a
stand-in speaking its receiver's wire format. Delivered is delivered once; a 5xx, a 429 and a
timeout are worth another try; another 4xx and a refused URL are not; no error names more of
the destination than its scheme and host."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import attrs
import pytest

from adapters.memory.fakes import InMemorySecretStore
from adapters.slack.alerts import SlackAlertSender
from adapters.webhookalerts.sender import SignedWebhookAlertSender
from adapters.webhookalerts.transport import GuardedPoster
from domain.alert_message import AlertMessage, AlertReason
from domain.alerts import AlertDestination
from domain.errors import PermanentFailure, RateLimited, TransientFailure
from domain.tenant import SecretRef, SecretValue
from entrypoints.alerts import GuardedAlertUrls
from entrypoints.standins import serve
from entrypoints.standins.alert_webhook import AlertWebhookReceiver
from entrypoints.standins.slack import DEMO_WEBHOOK_PATH, FakeSlack
from ports.alerts import AlertSender

KEY = "whsec-contract-key"
MESSAGE = AlertMessage(
    alert_id="acme:CAL1",
    tenant_id="acme",
    call_id="CAL1",
    score=95,
    tier="hot",
    intent="appointment",
    summary="Booked a furnace repair <today> & paid a deposit",
    reasons=(AlertReason("appointment_booked", 30, "a visit was booked on the call"),),
    caller_name="Maria Lopez",
    caller_number="***-***-0142",
    link="https://pipeline.example.com/v1/tenants/acme/calls/CAL1",
    occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
)


@attrs.define
class Setup:
    sender: AlertSender
    destination: AlertDestination
    fail_next: list[int | str]
    delivered: Callable[[], int]
    requests: Callable[[], int]
    with_url: Callable[[str], AlertDestination]


def _poster(listed: tuple[str, ...] = ("127.0.0.1",)) -> GuardedPoster:
    return GuardedPoster(GuardedAlertUrls(listed), timeout_s=0.5)


@pytest.fixture(params=["slack", "webhook"])
async def setup(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    secrets = InMemorySecretStore({"hook-key": KEY})
    if request.param == "slack":
        slack = FakeSlack(hold_s=2.0)
        async with serve(slack.app()) as base:
            yield Setup(
                SlackAlertSender(_poster(), secrets),
                AlertDestination("slack", "slack", secret=SecretValue(slack.webhook_url(base))),
                slack.fail_next,
                lambda: len(slack.messages),
                lambda: len(slack.requests),
                lambda url: AlertDestination("slack", "slack", secret=SecretValue(url)),
            )
        return
    receiver = AlertWebhookReceiver(KEY, hold_s=2.0)
    async with serve(receiver.app()) as base:
        yield Setup(
            SignedWebhookAlertSender(_poster(), secrets),
            _webhook(receiver.url(base)),
            receiver.fail_next,
            lambda: len(receiver.received),
            lambda: receiver.requests,
            _webhook,
        )


def _webhook(url: str) -> AlertDestination:
    return AlertDestination("webhook", "webhook", url=url, secret=SecretRef("hook-key"))


async def test_an_alert_is_delivered_once(setup: Setup) -> None:
    await setup.sender.send(setup.destination, MESSAGE)
    assert setup.delivered() == 1
    assert setup.requests() == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_a_server_error_is_worth_another_try(setup: Setup, status: int) -> None:
    setup.fail_next.append(status)
    with pytest.raises(TransientFailure) as caught:
        await setup.sender.send(setup.destination, MESSAGE)
    assert str(status) in str(caught.value)
    assert setup.delivered() == 0


async def test_a_rate_limit_is_worth_another_try(setup: Setup) -> None:
    setup.fail_next.append(429)
    with pytest.raises(RateLimited):
        await setup.sender.send(setup.destination, MESSAGE)


async def test_a_timeout_is_worth_another_try(setup: Setup) -> None:
    setup.fail_next.append("timeout")
    with pytest.raises(TransientFailure, match="did not answer in time"):
        await setup.sender.send(setup.destination, MESSAGE)


@pytest.mark.parametrize("status", [400, 403, 404, 410])
async def test_a_refusal_is_permanent(setup: Setup, status: int) -> None:
    setup.fail_next.append(status)
    with pytest.raises(PermanentFailure) as caught:
        await setup.sender.send(setup.destination, MESSAGE)
    assert not isinstance(caught.value, TransientFailure)
    assert DEMO_WEBHOOK_PATH not in str(caught.value)
    assert "/hooks" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://203.0.113.9/hooks/leads", "plain http"),
        ("https://127.0.0.1:9/services/T/B/secret-path", "loopback"),
        ("https://10.1.2.3/services/T/B/secret-path", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("ftp://example.com/x", "https"),
    ],
)
async def test_a_url_the_guard_refuses_is_never_requested(
    setup: Setup, url: str, reason: str
) -> None:
    sender = (
        SlackAlertSender(_poster(()), InMemorySecretStore())
        if isinstance(setup.sender, SlackAlertSender)
        else SignedWebhookAlertSender(_poster(()), InMemorySecretStore({"hook-key": KEY}))
    )
    with pytest.raises(PermanentFailure) as caught:
        await sender.send(setup.with_url(url), MESSAGE)
    assert reason in str(caught.value)
    assert "secret-path" not in str(caught.value)
    assert "meta-data" not in str(caught.value)
    assert setup.requests() == 0


async def test_a_missing_secret_is_not_sent(setup: Setup) -> None:
    destination = attrs.evolve(setup.destination, secret=SecretRef("nowhere"))
    with pytest.raises(Exception, match="nowhere"):
        await setup.sender.send(destination, MESSAGE)
    assert setup.requests() == 0
