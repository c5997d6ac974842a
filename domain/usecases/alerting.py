"""The alert step, after the CRM sync: a hot lead is announced to each of the tenant's
destinations, once per call.

Once, as the CRM sync is: the destination's record is committed as pending before anything is
sent, and as sent or failed as soon as the answer is known; a redelivered job or a re-run
(reprocess, a Call Modified) skips every destination already sent to. A crash between the
receiver's answer and that commit leaves the record pending, and it is sent again, with the same
alert id for the receiver to drop. A failing destination is retried with bounded backoff, then
marked failed on the call; the call still completes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import attrs

from domain.alert_message import AlertMessage, build_alert_message
from domain.alerts import AlertDestination, AlertRecord, AlertStatus, should_alert
from domain.call import Call
from domain.errors import DomainError, TransientFailure
from domain.retry import RetryPolicy
from domain.tenant import Tenant
from domain.usecases.metering import PipelineMeter
from ports.alerts import AlertSender
from ports.metrics import Metrics
from ports.system import Clock
from ports.telemetry import NoTracing, Tracer

Save = Callable[[Call], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]
DEFAULT_RETRY = RetryPolicy(max_attempts=3, base_delay_s=1.0, max_delay_s=30.0)


class SendAlerts:
    def __init__(
        self,
        sender: AlertSender,
        clock: Clock,
        public_url: str,
        retry: RetryPolicy = DEFAULT_RETRY,
        tracer: Tracer | None = None,
        sleep: Sleep = asyncio.sleep,
        metrics: Metrics | None = None,
    ):
        """`public_url` is the service's address as its users reach it: the call's API link
        in every alert starts with it. `sleep` waits between attempts (a test may pass its
        own). Each settled destination is counted in `metrics` (pipeline.alerts)."""
        self._sender = sender
        self._clock = clock
        self._public_url = public_url
        self._retry = retry
        self._tracer = tracer or NoTracing()
        self._sleep = sleep
        self._meter = PipelineMeter(metrics)

    async def __call__(self, call: Call, tenant: Tenant, save: Save) -> str | None:
        """Sends what is due and saves each record with `save`; a note for the timeline, or
        None when the call raised no alert or every destination already has it."""
        config = tenant.config.alerts
        intent = call.analysis.intent if call.analysis else None
        if not should_alert(config, call.lead_score, intent):
            return None
        message = build_alert_message(call, self._public_url)
        known = {r.destination: r for r in call.alerts}
        outcomes: list[str] = []
        for destination in config.destinations:
            previous = known.get(destination.name)
            if previous is not None and previous.status is AlertStatus.SENT:
                continue
            record = AlertRecord(
                destination.name,
                destination.type,
                AlertStatus.PENDING,
                self._clock.now(),
                attempts=previous.attempts if previous else 0,
            )
            _keep(call, record)
            await save(call)  # committed before sending
            record = await self._deliver(destination, message, record)
            _keep(call, record)
            await save(call)
            self._meter.alert_settled(record)
            outcomes.append(f"{destination.name} {record.status.value}")
        return f"alerts: {', '.join(outcomes)}" if outcomes else None

    async def _deliver(
        self, destination: AlertDestination, message: AlertMessage, record: AlertRecord
    ) -> AlertRecord:
        attempts, error = record.attempts, "not sent"
        key = f"{message.alert_id}:{destination.name}"
        attributes = {"destination": destination.name, "type": destination.type}
        for attempt in range(1, self._retry.max_attempts + 1):
            attempts += 1
            hint: float | None = None
            try:
                with self._tracer.span("alert.send", {**attributes, "attempt": attempt}):
                    await self._sender.send(destination, message)
            except TransientFailure as exc:
                error, hint = str(exc), exc.retry_after_s
            except DomainError as exc:  # permanent, or a secret not found: no retry helps
                error = str(exc)
                break
            except Exception as exc:
                # An adapter error not mapped to a port error: its message may hold the URL.
                error = f"unexpected {type(exc).__name__}"
            else:
                return attrs.evolve(
                    record,
                    status=AlertStatus.SENT,
                    at=self._clock.now(),
                    attempts=attempts,
                    error=None,
                )
            if attempt < self._retry.max_attempts:
                await self._sleep(self._retry.delay_s(attempt, key, hint))
        return attrs.evolve(
            record, status=AlertStatus.FAILED, at=self._clock.now(), attempts=attempts, error=error
        )


def _keep(call: Call, record: AlertRecord) -> None:
    """The record in its destination's place, or added at the end."""
    if any(r.destination == record.destination for r in call.alerts):
        call.alerts = tuple(
            record if r.destination == record.destination else r for r in call.alerts
        )
    else:
        call.alerts = (*call.alerts, record)
