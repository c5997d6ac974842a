"""What a call (or a tenant's day) used, as domain.cost prices it.

A call keeps what it was metered for: the recording's bytes and place, the transcript's engine
and audio length, the analysis's engine and tokens, its attempts and its timeline. What is not
metered per call is counted from how the pipeline works: Cloud Storage writes (one, two when the
recording is silenced from a quarantined original), one read by Speech-to-Text, one Pub/Sub
publish and one push a delivery (each billed as at least 1,000 bytes), and Spanner's round
trips from webhook to COMPLETED (9, one more when a CRM is synced).
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from domain.call import Call
from domain.cost import ZERO, MeteredUsage
from domain.results import SyncStatus
from domain.usage import UsageDelta

SPANNER_ROUND_TRIPS = 9
SPANNER_ROUND_TRIPS_CRM = 1
GOOGLE_SPEECH = "google-"  # a transcript engine "google-chirp_3": Speech-to-Text's chirp_3


@attrs.frozen
class Deployment:
    """Which priced services this deployment runs on, and the defaults a day's usage (which
    keeps no model names) is priced with."""

    spanner: bool = False
    pubsub: bool = False
    cloud_storage: bool = False
    speech_mode: str = "standard"  # what the Speech-to-Text adapter requests
    speech_model: str | None = None  # the configured Speech-to-Text model; None: local Whisper
    llm: bool = False  # the analyzer bills tokens (Vertex AI)
    llm_model: str | None = None  # when a call's analysis engine does not name its model


def call_usage(call: Call, deployment: Deployment) -> MeteredUsage:
    transcript, recording, analysis = call.transcript, call.recording, call.analysis
    speech_model = None
    if transcript is not None and transcript.engine.startswith(GOOGLE_SPEECH):
        speech_model = transcript.engine.removeprefix(GOOGLE_SPEECH)
    audio_s = 0.0
    if transcript is not None:
        audio_s = transcript.audio_duration_s or (recording.duration_s if recording else 0) or 0
    in_gcs = recording is not None and recording.uri.startswith("gs://")
    silenced = recording is not None and recording.redacted  # quarantined, then stored
    tokens = analysis.usage if analysis is not None else UsageDelta()
    llm_model = deployment.llm_model
    if analysis is not None and ":" in analysis.engine:
        llm_model = analysis.engine.split(":", 1)[1]
    synced = call.crm_sync is not None and call.crm_sync.status is not SyncStatus.SKIPPED
    deliveries = max(1, call.attempts)
    stage_ms = sum(e.duration_ms or 0 for e in call.timeline)
    return MeteredUsage(
        audio_seconds=Decimal(str(audio_s)),
        speech_model=speech_model,
        speech_mode=deployment.speech_mode,
        llm_model=llm_model,
        tokens_in=tokens.llm_tokens_in,
        tokens_out=tokens.llm_tokens_out,
        gcs_bytes=recording.bytes if in_gcs and recording else 0,
        gcs_writes=(2 if silenced else 1) if in_gcs else 0,
        gcs_reads=1 if in_gcs and speech_model else 0,
        pubsub_messages=2 * deliveries if deployment.pubsub else 0,
        spanner_round_trips=(
            SPANNER_ROUND_TRIPS + (SPANNER_ROUND_TRIPS_CRM if synced else 0)
            if deployment.spanner
            else 0
        ),
        cpu_seconds=Decimal(stage_ms) / 1000,
    )


def day_usage(
    totals: UsageDelta, calls: int, deployment: Deployment, llm_model: str | None
) -> MeteredUsage:
    """A tenant's day: the metered totals, priced with the deployment's speech model and the
    tenant's analysis model; storage and queue counted per call received that day. CPU time is
    not metered per day, so a day's figure leaves it out."""
    gcs = deployment.cloud_storage
    recorded = calls if totals.stored_bytes else 0
    return MeteredUsage(
        audio_seconds=Decimal(str(totals.audio_seconds)),
        speech_model=deployment.speech_model,
        speech_mode=deployment.speech_mode,
        llm_model=llm_model if deployment.llm else None,
        tokens_in=totals.llm_tokens_in,
        tokens_out=totals.llm_tokens_out,
        gcs_bytes=totals.stored_bytes if gcs else 0,
        gcs_writes=recorded if gcs else 0,
        gcs_reads=recorded if gcs and deployment.speech_model else 0,
        pubsub_messages=2 * calls if deployment.pubsub else 0,
        spanner_round_trips=SPANNER_ROUND_TRIPS * calls if deployment.spanner else 0,
        cpu_seconds=ZERO,
    )
