"""What a call costs in money, worked out by hand from the shipped price table: a 3-minute call
on the Google Cloud shape with the default models, the same call on one machine, a tenant's
days and months, and the monthly floor the deployment pays with no call at all."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest

from domain.call import Call, CallMetadata, StageEvent
from domain.cost import FixedCapacity, cost_of, monthly_floor
from domain.cost_stats import tenant_cost
from domain.cost_usage import Deployment, call_usage
from domain.results import (
    CallAnalysis,
    CrmSyncResult,
    Intent,
    StoredRecording,
    SyncStatus,
    Transcript,
)
from domain.stages import Stage
from domain.tenant import DEFAULT_MODEL
from domain.usage import DailyUsage, UsageDelta
from entrypoints.config import load_settings
from entrypoints.config_urls import ConfigError
from entrypoints.costing import deployment_of
from entrypoints.prices import load_prices

PRICES = load_prices().table
GCP = Deployment(
    spanner=True,
    pubsub=True,
    cloud_storage=True,
    speech_model="chirp_3",
    llm=True,
    llm_model=DEFAULT_MODEL,
)
AT = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
MP3_BYTES = 1_440_000  # 3 minutes at 64 kbit/s
SHA = "0" * 64


def three_minute_call(
    uri: str = "gs://bucket/acme/calls/CAL1/recording.mp3",
    speech: str = "google-chirp_3",
    analysis_engine: str = "vertex:gemini-2.5-flash",
    tokens: tuple[int, int] = (3000, 600),
) -> Call:
    call = Call("acme", "CAL1", AT, CallMetadata(duration_s=180))
    call.recording = StoredRecording(uri, MP3_BYTES, SHA, duration_s=180.0)
    call.transcript = Transcript(speech, "en-US", "hello", audio_duration_s=180.0)
    call.analysis = CallAnalysis(
        analysis_engine,
        "a furnace repair, booked",
        Intent.NEW_SERVICE_REQUEST,
        usage=UsageDelta(llm_tokens_in=tokens[0], llm_tokens_out=tokens[1]),
    )
    call.crm_sync = CrmSyncResult("hubspot", SyncStatus.SUCCESS)
    call.attempts = 1
    call.timeline = [
        StageEvent(Stage.RECEIVED, AT),
        StageEvent(Stage.RECORDING_STORED, AT, duration_ms=1200),
        StageEvent(Stage.TRANSCRIBED, AT, duration_ms=30_000),
        StageEvent(Stage.ANALYZED, AT, duration_ms=2_300),
    ]
    return call


def by_item(call: Call, deployment: Deployment = GCP) -> dict[str, Decimal]:
    cost = cost_of(call_usage(call, deployment), PRICES)
    return {line.item: line.usd for line in cost.lines}


def test_a_three_minute_call_on_google_cloud_with_the_default_models() -> None:
    items = by_item(three_minute_call())
    # Speech-to-Text v2 chirp_3 as the adapter asks for it (processed at once): 3 min x $0.016
    assert items["speech:chirp_3:standard"] == Decimal("0.048")
    # Gemini 2.5 Flash: 3,000 tokens in at $0.30/M, 600 out at $2.50/M
    assert items["llm:gemini-2.5-flash input"] == Decimal("0.0009")
    assert items["llm:gemini-2.5-flash output"] == Decimal("0.0015")
    # the recording kept a month: 1,440,000 B / 2^30 x $0.020; one write ($0.005/1,000) and
    # Speech-to-Text's read ($0.0004/1,000)
    assert items["storage (one month)"] == Decimal(MP3_BYTES) / 2**30 * Decimal("0.020")
    assert items["storage operations"] == Decimal("0.0000054")
    # one publish and one push, 1,000 bytes each at $40/TiB; 10 Spanner round trips (CRM synced)
    assert items["pubsub"] == Decimal(2000) * 40 / 2**40
    assert items["spanner (estimate)"] == Decimal("0.000001")
    # on Cloud Run the stages' seconds are in the fixed floor: $0 a second by default
    assert items["cpu"] == 0
    total = sum(items.values(), Decimal(0))
    assert round(total, 6) == Decimal("0.050433")
    # Speech-to-Text is 95% of it: at its standard price a 3-minute call is past $0.02
    assert items["speech:chirp_3:standard"] / total > Decimal("0.95")


def test_the_google_cloud_shape_transcribes_at_once_unless_told_otherwise() -> None:
    env = {"PIPELINE_TRANSCRIBER": "google-speech", "PIPELINE_ANALYZER": "vertex"}
    assert deployment_of(load_settings(env)).speech_mode == "standard"
    chosen = load_settings({**env, "PIPELINE_SPEECH_PROCESSING": "dynamic_batch"})
    assert deployment_of(chosen).speech_mode == "dynamic_batch"
    with pytest.raises(ConfigError, match="PIPELINE_SPEECH_PROCESSING"):
        load_settings({**env, "PIPELINE_SPEECH_PROCESSING": "cheap"})


def test_dynamic_batch_brings_the_same_call_under_two_cents() -> None:
    """The vendor's way under $0.02, PIPELINE_SPEECH_PROCESSING=dynamic_batch: DYNAMIC_BATCHING
    at $0.003 a minute. Its results come within 24 hours, past the runbook's 3-minute
    processing SLO, so it is not the default."""
    chosen = {
        "PIPELINE_TRANSCRIBER": "google-speech",
        "PIPELINE_SPEECH_PROCESSING": "dynamic_batch",
    }
    deployment = attrs.evolve(GCP, speech_mode=deployment_of(load_settings(chosen)).speech_mode)
    usage = call_usage(three_minute_call(), deployment)
    cost = cost_of(usage, PRICES)
    lines = {line.item: line.usd for line in cost.lines}
    assert lines["speech:chirp_3:dynamic_batch"] == Decimal("0.009")
    assert round(cost.total, 6) == Decimal("0.011433")
    assert cost.total <= Decimal("0.02")


def test_a_silenced_recording_is_written_twice() -> None:
    call = three_minute_call()
    assert call.recording is not None
    call.recording = attrs.evolve(call.recording, redacted=True)
    # the quarantined original and the silenced copy, and Speech-to-Text's read
    assert by_item(call)["storage operations"] == Decimal("0.0000104")


def test_the_same_call_on_one_machine_costs_its_cpu_seconds_at_the_operators_rate() -> None:
    call = three_minute_call(
        uri="file://data/audio/acme/calls/CAL1/recording.mp3",
        speech="whisper-tiny.en",
        analysis_engine="rules",
        tokens=(0, 0),
    )
    cost = cost_of(call_usage(call, Deployment()), PRICES)
    assert [(line.item, line.units, line.usd) for line in cost.lines] == [
        ("cpu", Decimal("33.5"), Decimal(0))
    ]
    priced = attrs.evolve(PRICES, cpu_second=Decimal("0.0001"))
    assert cost_of(call_usage(call, Deployment()), priced).total == Decimal("0.00335")


def test_a_model_the_table_does_not_price_is_shown_at_zero_never_guessed() -> None:
    items = by_item(three_minute_call(analysis_engine="vertex:gemini-9-ultra"))
    assert items["llm:gemini-9-ultra (no price) input"] == 0
    assert items["llm:gemini-9-ultra (no price) output"] == 0


def test_a_tenants_days_and_months() -> None:
    day = UsageDelta(
        audio_seconds=180, llm_tokens_in=3000, llm_tokens_out=600, stored_bytes=MP3_BYTES
    )
    received = [datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2026, 12, 1, 9, tzinfo=UTC)]
    days = [DailyUsage(date(2026, 11, 30), day), DailyUsage(date(2026, 12, 1), day)]
    cost = tenant_cost(days, received, PRICES, GCP, DEFAULT_MODEL)
    one_day = Decimal("0.048") + Decimal("0.0009") + Decimal("0.0015")
    one_day += Decimal(MP3_BYTES) / 2**30 * Decimal("0.020")  # a month of the recording
    one_day += Decimal("0.0000054") + Decimal(2000) * 40 / 2**40 + Decimal("0.0000009")
    assert [d.cost.total for d in cost.by_day] == [one_day, one_day]
    assert cost.by_month == {"2026-11": one_day, "2026-12": one_day}
    assert cost.total.total == 2 * one_day


def test_the_fixed_monthly_floor_of_the_deployed_shape() -> None:
    """deploy.sh: Spanner 100 processing units; the worker's 1 minimum instance (1 vCPU, 1 GiB,
    CPU always allocated); the webhook's 1 idle minimum instance (1 vCPU, 512 MiB); the API's 0."""
    capacity = FixedCapacity(
        spanner_processing_units=100,
        cpu=Decimal(1),
        gib=Decimal(1),
        idle_cpu=Decimal(1),
        idle_gib=Decimal("0.5"),
    )
    floor = monthly_floor(capacity, PRICES)
    lines = {line.item: line.usd for line in floor.lines}
    assert lines["spanner processing units"] == Decimal("65.70")  # $0.09 x 730 h
    assert lines["cloud run min instances, cpu"] == Decimal("47.304")  # 2,628,000 s x $0.000018
    assert lines["cloud run min instances, memory"] == Decimal("5.256")
    assert lines["cloud run idle min instances, cpu"] == Decimal("6.57")
    assert lines["cloud run idle min instances, memory"] == Decimal("3.285")
    assert floor.total == Decimal("128.115")
    # against the deployment guide's $1,843 a month for 1,000 calls: the floor and 1,000
    # three-minute calls come to under a tenth of it
    calls = 1000 * cost_of(call_usage(three_minute_call(), GCP), PRICES).total
    assert floor.total + calls < Decimal(1843) / 10


def test_the_shipped_table_says_when_and_where_its_prices_were_read() -> None:
    import tomllib
    from importlib import resources

    raw = tomllib.loads(resources.files("entrypoints").joinpath("prices.toml").read_text())
    assert PRICES.read_on == date(2026, 12, 6)
    for section in ("speech", "llm", "storage", "pubsub", "spanner", "cloud_run"):
        assert raw[section]["source"], section
        assert date.fromisoformat(raw[section]["read"]) == PRICES.read_on
