"""Cost in money, wired from the settings: which priced services this deployment runs on, and
the price table (entrypoints/prices.py). The call's `cost` and the stats' money come from here."""

from __future__ import annotations

from domain.call import Call
from domain.cost import Cost, cost_of
from domain.cost_usage import Deployment, call_usage
from domain.tenant import DEFAULT_MODEL
from domain.usecases.stats import Pricing
from entrypoints.config import Settings


def deployment_of(settings: Settings) -> Deployment:
    google_speech = settings.transcriber == "google-speech"
    vertex = settings.analyzer == "vertex"
    return Deployment(
        spanner=settings.database.backend == "spanner",
        pubsub=settings.queue.backend == "pubsub",
        cloud_storage=settings.audio.backend == "gcs",
        speech_mode=settings.cloud.speech_processing,  # the price table's names for them
        speech_model=settings.cloud.speech_model if google_speech else None,
        llm=vertex,
        llm_model=DEFAULT_MODEL if vertex else None,
    )


def pricing_of(settings: Settings) -> Pricing:
    return Pricing(settings.prices.table, deployment_of(settings))


class CallCosting:
    """A call's cost from what it was metered for, at the table's prices."""

    def __init__(self, pricing: Pricing):
        self._pricing = pricing

    def __call__(self, call: Call) -> Cost:
        p = self._pricing
        return cost_of(call_usage(call, p.deployment), p.prices)
