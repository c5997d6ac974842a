"""Hot-lead alerts through ProcessCall: the real Slack and signed-webhook senders, the guarded
transport and the recordings' SSRF guard, against the Slack stand-in and a receiver that
verifies the signature as a tenant's endpoint would. The call's outcome is read back from the
repository, as the API shows it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryCrmGatewayFactory,
    InMemoryRecordingSource,
    InMemorySecretStore,
    ScriptedCallAnalyzer,
    ScriptedTranscriber,
)
from adapters.memory.metrics import RecordedMetrics
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.memory.tracer import RecordingTracer
from adapters.slack.alerts import SlackAlertSender
from adapters.webhookalerts.sender import SignedWebhookAlertSender
from adapters.webhookalerts.transport import GuardedPoster
from domain.alerts import AlertStatus
from domain.call import Call
from domain.codec import call_document
from domain.results import CallAnalysis, Intent, Sentiment, Urgency
from domain.retry import RetryPolicy
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.usecases.alerting import SendAlerts
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from entrypoints.alerts import AlertSenders, GuardedAlertUrls
from entrypoints.standins import serve
from entrypoints.standins.alert_webhook import AlertWebhookReceiver
from entrypoints.standins.slack import DEMO_WEBHOOK_PATH, FakeSlack
from tests.support import callrail_body, tenant_document

WEBHOOK_KEY = "whsec-alerts-test-key-0001"
SLACK_SECRET = DEMO_WEBHOOK_PATH.rsplit("/", 1)[1]
CALLER = "+13035550142"
CARD = "4111 1111 1111 1111"
HOT = CallAnalysis(
    engine="scripted",
    summary=f"Maria Lopez booked a furnace repair for tomorrow; read card {CARD}, call back on"
    " 303-555-0142",
    intent=Intent.APPOINTMENT,
    urgency=Urgency.HIGH,
    sentiment=Sentiment.POSITIVE,
    appointment_booked=True,
    caller_name="Maria Lopez",
)
COLD = CallAnalysis(
    engine="scripted", summary="Dialled the wrong number", intent=Intent.WRONG_NUMBER
)
SPAM = CallAnalysis(engine="scripted", summary="A recorded offer", intent=Intent.SPAM, is_spam=True)


class Pipeline:
    def __init__(
        self,
        clock: FixedClock,
        slack_url: str,
        hook_url: str,
        analysis: CallAnalysis,
        listed: tuple[str, ...] = ("127.0.0.1",),
    ):
        self.clock = clock
        self.uow = InMemoryUnitOfWorkFactory()
        self.tracer = RecordingTracer()
        self.metrics = RecordedMetrics()
        self.slack_url, self.hook_url = slack_url, hook_url
        poster = GuardedPoster(GuardedAlertUrls(listed), timeout_s=0.5)
        self.secrets = secrets = InMemorySecretStore({"acme-alert-key": WEBHOOK_KEY})
        senders = AlertSenders(
            {
                "slack": SlackAlertSender(poster, secrets),
                "webhook": SignedWebhookAlertSender(poster, secrets),
            }
        )
        self.alerts = SendAlerts(
            senders,
            clock,
            "https://pipeline.example.com",
            RetryPolicy(max_attempts=3, base_delay_s=0.2, max_delay_s=1.0),
            self.tracer,
            metrics=self.metrics,
        )
        self.analyzer = ScriptedCallAnalyzer(analysis)
        self.process = ProcessCall(
            self.uow,
            InMemoryRecordingSource(),
            InMemoryAudioStore(),
            ScriptedTranscriber(),
            self.analyzer,
            InMemoryCrmGatewayFactory(),
            clock,
            RetryPolicy(max_attempts=4, base_delay_s=0.01),
            tracer=self.tracer,
            alerts=self.alerts,
        )

    async def add_tenant(self, **alerts: Any) -> None:
        section = {
            "destinations": [
                {"type": "slack", "webhook_url": self.slack_url},
                {"type": "webhook", "url": self.hook_url, "secret_ref": "acme-alert-key"},
            ],
            **alerts,
        }
        document = tenant_document("acme", alerts=section)
        tenant = parse_tenant(document, self.clock.now(), alert_http_hosts=("127.0.0.1",))
        async with self.uow() as uow:
            await uow.tenants.add(tenant)
            await uow.commit()

    async def add_call(self, number: str = "c1") -> str:
        body = callrail_body(
            number, recording=None, answered="true", duration="120", customer_phone_number=CALLER
        )
        call = Call.receive("acme", parse_incoming_call(json.loads(body)), self.clock.now())
        async with self.uow() as uow:
            await uow.calls.add(call)
            await uow.commit()
        return call.call_id

    async def deliver(self, call_id: str) -> Outcome:
        return (await self.process(ProcessCallCommand("acme", call_id, "worker-1"))).outcome

    async def call(self, call_id: str) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", call_id)
        assert call is not None
        return call

    async def put(self, call: Call) -> None:
        async with self.uow() as uow:
            await uow.calls.update(call)
            await uow.commit()


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlack, str]]:
    fake = FakeSlack(hold_s=2.0)
    async with serve(fake.app()) as url:
        yield fake, fake.webhook_url(url)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[AlertWebhookReceiver, str]]:
    fake = AlertWebhookReceiver(WEBHOOK_KEY, hold_s=2.0)
    async with serve(fake.app()) as url:
        yield fake, fake.url(url)


Fakes = tuple[FakeSlack, str]
Receiver = tuple[AlertWebhookReceiver, str]


async def test_a_hot_call_posts_one_slack_message_and_one_signed_webhook(
    slack: Fakes, receiver: Receiver, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pipeline = Pipeline(clock, slack[1], receiver[1], HOT)
    await pipeline.add_tenant()
    call_id = await pipeline.add_call()

    assert await pipeline.deliver(call_id) is Outcome.DONE

    [message] = slack[0].messages
    [alert] = receiver[0].received
    assert receiver[0].rejected == 0  # the receiver verified the signature
    assert receiver[0].alert_ids == [f"acme:{call_id}"]
    assert alert["score"] == 100
    assert alert["tier"] == "hot"
    assert alert["caller"] == {"name": "Maria Lopez", "number": "***-***-0142"}
    assert alert["link"] == f"https://pipeline.example.com/v1/tenants/acme/calls/{call_id}"
    assert [r["factor"] for r in alert["reasons"]] == ["intent", "appointment_booked", "urgency"]
    assert "furnace repair" in alert["summary"]
    assert "Maria Lopez" in message["text"]
    assert "***-***-0142" in json.dumps(message)
    assert "[REDACTED CARD]" in alert["summary"]
    assert alert["link"] in json.dumps(message)
    call = await pipeline.call(call_id)
    assert call.stage is Stage.COMPLETED
    shown = call_document(call)["alerts"]
    assert [(a["destination"], a["status"]) for a in shown] == [
        ("slack", "sent"),
        ("webhook", "sent"),
    ]
    assert all(a["at"] for a in shown)
    # No full number, card digits or Slack credential in the messages, logs or spans.
    spans = json.dumps([(s.name, s.attributes, s.error) for s in pipeline.tracer.spans])
    for text in (json.dumps(message), json.dumps(alert), caplog.text, spans):
        for secret in ("3035550142", "555-0142", "4111", "1111 1111", SLACK_SECRET, WEBHOOK_KEY):
            assert secret not in text
    assert len(pipeline.tracer.named("alert.send")) == 2


async def test_a_redelivered_job_and_a_rerun_send_nothing_more(
    slack: Fakes, receiver: Receiver, clock: FixedClock
) -> None:
    pipeline = Pipeline(clock, slack[1], receiver[1], HOT)
    await pipeline.add_tenant()
    call_id = await pipeline.add_call()
    assert await pipeline.deliver(call_id) is Outcome.DONE

    # Pub/Sub delivers the job again.
    assert await pipeline.deliver(call_id) is Outcome.DONE
    # The worker died after the alerts went out, before the call was saved as completed.
    call = await pipeline.call(call_id)
    call.stage, call.completed_at = Stage.SYNCED, None
    await pipeline.put(call)
    assert await pipeline.deliver(call_id) is Outcome.DONE
    # An operator re-runs the call from its analysis (calls reprocess).
    call = await pipeline.call(call_id)
    call.restart_from(Stage.ANALYZED, clock.now())
    await pipeline.put(call)
    assert await pipeline.deliver(call_id) is Outcome.DONE

    assert len(slack[0].requests) == 1
    assert len(receiver[0].received) == 1
    sent = [e for e in pipeline.metrics.events if e[0] == "alert"]
    assert sent == [("alert", "slack", "sent"), ("alert", "webhook", "sent")]  # counted once
    call = await pipeline.call(call_id)
    assert call.stage is Stage.COMPLETED
    assert [(r.destination, r.status, r.attempts) for r in call.alerts] == [
        ("slack", AlertStatus.SENT, 1),
        ("webhook", AlertStatus.SENT, 1),
    ]


async def test_a_crash_while_sending_sends_again_under_the_same_alert_id(
    slack: Fakes, receiver: Receiver, clock: FixedClock
) -> None:
    """The record was committed as pending, then the worker died before the answer was saved:
    the next delivery sends again, and the receiver can tell it is the same alert."""
    pipeline = Pipeline(clock, slack[1], receiver[1], HOT)
    await pipeline.add_tenant()
    call_id = await pipeline.add_call()
    assert await pipeline.deliver(call_id) is Outcome.DONE
    call = await pipeline.call(call_id)
    call.stage, call.completed_at = Stage.SYNCED, None
    call.alerts = (call.alerts[0], attrs.evolve(call.alerts[1], status=AlertStatus.PENDING))
    await pipeline.put(call)

    assert await pipeline.deliver(call_id) is Outcome.DONE

    assert len(slack[0].requests) == 1  # sent, and known to be: never again
    assert receiver[0].alert_ids == [f"acme:{call_id}", f"acme:{call_id}"]


async def test_a_failing_destination_is_retried_with_backoff_then_failed_on_a_completed_call(
    slack: Fakes, receiver: Receiver, clock: FixedClock
) -> None:
    fake_slack, _ = slack
    fake_slack.fail_next = [500, "timeout", 503]
    pipeline = Pipeline(clock, slack[1], receiver[1], HOT)
    await pipeline.add_tenant()
    call_id = await pipeline.add_call()

    assert await pipeline.deliver(call_id) is Outcome.DONE

    arrivals = [r.at for r in fake_slack.requests]
    assert len(arrivals) == 3
    assert fake_slack.messages == []
    # Backoff from 0.2 s, doubled, with up to half of it jittered away; the timeout is 0.5 s.
    assert arrivals[1] - arrivals[0] >= 0.1
    assert arrivals[2] - arrivals[1] >= 0.5 + 0.2
    call = await pipeline.call(call_id)
    assert call.stage is Stage.COMPLETED
    slack_alert, hook_alert = call.alerts
    assert (slack_alert.status, slack_alert.attempts) == (AlertStatus.FAILED, 3)
    assert slack_alert.error is not None
    assert "503" in slack_alert.error
    assert SLACK_SECRET not in slack_alert.error
    assert "/services" not in slack_alert.error
    assert hook_alert.status is AlertStatus.SENT
    assert len(receiver[0].received) == 1
    timeline = call_document(call)["timeline"]
    assert timeline[-1]["note"] == "alerts: slack failed, webhook sent"
    # what an operator's dashboard counts (pipeline.alerts), one a destination
    alerts = [e for e in pipeline.metrics.events if e[0] == "alert"]
    assert alerts == [("alert", "slack", "failed"), ("alert", "webhook", "sent")]


@pytest.mark.parametrize("analysis", [SPAM, COLD], ids=["spam", "cold"])
async def test_a_spam_or_cold_call_sends_nothing(
    slack: Fakes, receiver: Receiver, clock: FixedClock, analysis: CallAnalysis
) -> None:
    pipeline = Pipeline(clock, slack[1], receiver[1], analysis)
    # Even a rule that matches every score must not announce spam.
    await pipeline.add_tenant(rules=[{"min_score": 0}] if analysis is SPAM else [])
    call_id = await pipeline.add_call()

    assert await pipeline.deliver(call_id) is Outcome.DONE

    assert slack[0].requests == []
    assert receiver[0].received == []
    call = await pipeline.call(call_id)
    assert call.stage is Stage.COMPLETED
    assert call.alerts == ()
    assert call_document(call)["alerts"] == []


async def test_rules_choose_by_intent_and_tier(
    slack: Fakes, receiver: Receiver, clock: FixedClock
) -> None:
    warm_quote = CallAnalysis(
        engine="scripted", summary="Wants a quote", intent=Intent.QUOTE_REQUEST
    )
    pipeline = Pipeline(clock, slack[1], receiver[1], warm_quote)
    await pipeline.add_tenant(rules=[{"intents": ["quote_request"], "tiers": ["warm", "cold"]}])
    call_id = await pipeline.add_call()

    assert await pipeline.deliver(call_id) is Outcome.DONE

    [message] = slack[0].messages
    assert "quote" in message["text"].lower()
    assert len(receiver[0].received) == 1


async def test_a_destination_that_resolves_inward_is_refused_at_send_time(
    slack: Fakes, receiver: Receiver, clock: FixedClock
) -> None:
    """A Slack URL held in the secret store is checked only when it is sent to: a loopback
    address is refused without a request, for a host not listed."""
    pipeline = Pipeline(clock, slack[1], receiver[1], HOT, listed=())
    pipeline.secrets.secrets["slack-url"] = slack[1].replace("http:", "https:")
    document = tenant_document(
        "acme", alerts={"destinations": [{"type": "slack", "webhook_url_ref": "slack-url"}]}
    )
    async with pipeline.uow() as uow:
        await uow.tenants.add(parse_tenant(document, clock.now()))
        await uow.commit()
    call_id = await pipeline.add_call()

    assert await pipeline.deliver(call_id) is Outcome.DONE

    assert slack[0].requests == []
    [record] = (await pipeline.call(call_id)).alerts
    assert record.status is AlertStatus.FAILED
    assert record.attempts == 1
    assert record.error is not None
    assert "loopback" in record.error
    assert SLACK_SECRET not in record.error
