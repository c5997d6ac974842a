"""Money: what metered usage costs at a price table's list prices, in USD, as Decimal lines.

The table is data (entrypoints/prices.toml, overridable by the operator; domain.price_table
reads it); this module prices a MeteredUsage with it. Pure: no file, clock or environment.
Figures are list prices before free tiers, credits and committed-use discounts, so they are
an upper estimate of a bill, not the bill.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from domain.price_table import PriceTable

__all__ = [
    "NO_COST",
    "ZERO",
    "Cost",
    "CostLine",
    "FixedCapacity",
    "MeteredUsage",
    "PriceTable",
    "cost_of",
    "monthly_floor",
]

ZERO = Decimal(0)
MINUTE_S = Decimal(60)
MILLION = Decimal(1_000_000)
GIB = Decimal(2**30)
TIB = Decimal(2**40)
HOURS_A_MONTH = Decimal(730)  # Google Cloud's monthly figures count 730 hours


@attrs.frozen
class MeteredUsage:
    """One call's (or one day's) consumption, with what priced it: the speech model and mode,
    the LLM, and which Google Cloud services it went through."""

    audio_seconds: Decimal = ZERO
    speech_model: str | None = None  # None: transcribed on this machine (priced as CPU time)
    speech_mode: str = "standard"
    llm_model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    gcs_bytes: int = 0  # stored in Cloud Storage (a disk on this machine costs nothing extra)
    gcs_writes: int = 0
    gcs_reads: int = 0
    pubsub_messages: int = 0
    spanner_round_trips: int = 0
    cpu_seconds: Decimal = ZERO


@attrs.frozen
class CostLine:
    item: str
    units: Decimal
    unit: str
    usd: Decimal


@attrs.frozen
class Cost:
    lines: tuple[CostLine, ...] = ()
    currency: str = "USD"

    @property
    def total(self) -> Decimal:
        return sum((line.usd for line in self.lines), ZERO)

    def __add__(self, other: Cost) -> Cost:
        """Lines of the same item and unit added together, in first-seen order."""
        merged: dict[tuple[str, str], CostLine] = {}
        for line in (*self.lines, *other.lines):
            key = (line.item, line.unit)
            seen = merged.get(key)
            merged[key] = (
                line
                if seen is None
                else CostLine(line.item, seen.units + line.units, line.unit, seen.usd + line.usd)
            )
        return Cost(tuple(merged.values()))


NO_COST = Cost()


def cost_of(usage: MeteredUsage, prices: PriceTable) -> Cost:
    """The usage priced, one line per item it used; an LLM or speech model the table has no
    price for is a line of $0 whose item says so, never a guess."""
    lines: list[CostLine] = []
    if usage.audio_seconds and usage.speech_model is not None:
        minutes = usage.audio_seconds / MINUTE_S
        speech = prices.speech.get(usage.speech_model)
        item = f"speech:{usage.speech_model}:{usage.speech_mode}"
        rate = speech.per_minute(usage.speech_mode) if speech else ZERO
        lines.append(
            CostLine(item if speech else f"{item} (no price)", minutes, "minute", minutes * rate)
        )
    if usage.tokens_in or usage.tokens_out:
        model = usage.llm_model or "unknown model"
        llm = prices.llm.get(model)
        name = f"llm:{model}" if llm else f"llm:{model} (no price)"
        rate_in, rate_out = (llm.input, llm.output) if llm else (ZERO, ZERO)
        lines += [
            CostLine(
                f"{name} input",
                Decimal(usage.tokens_in),
                "token",
                usage.tokens_in * rate_in / MILLION,
            ),
            CostLine(
                f"{name} output",
                Decimal(usage.tokens_out),
                "token",
                usage.tokens_out * rate_out / MILLION,
            ),
        ]
    if usage.gcs_bytes:
        gib = Decimal(usage.gcs_bytes) / GIB
        lines.append(
            CostLine("storage (one month)", gib, "GiB-month", gib * prices.storage_gib_month)
        )
    operations = (
        usage.gcs_writes * prices.storage_class_a + usage.gcs_reads * prices.storage_class_b
    )
    if usage.gcs_writes or usage.gcs_reads:
        count = Decimal(usage.gcs_writes + usage.gcs_reads)
        lines.append(CostLine("storage operations", count, "operation", operations))
    if usage.pubsub_messages:
        billed = Decimal(usage.pubsub_messages * prices.pubsub_min_bytes)
        lines.append(CostLine("pubsub", billed, "byte", billed * prices.pubsub_tib / TIB))
    if usage.spanner_round_trips:
        trips = Decimal(usage.spanner_round_trips)
        lines.append(
            CostLine("spanner (estimate)", trips, "round trip", trips * prices.spanner_round_trip)
        )
    if usage.cpu_seconds:
        lines.append(
            CostLine("cpu", usage.cpu_seconds, "second", usage.cpu_seconds * prices.cpu_second)
        )
    return Cost(tuple(lines))


@attrs.frozen
class FixedCapacity:
    """What a deployment keeps running: Spanner processing units, and the vCPUs and GiB of its
    minimum instances, always allocated (the worker) or idle between requests (the webhook)."""

    spanner_processing_units: int = 0
    cpu: Decimal = ZERO
    gib: Decimal = ZERO
    idle_cpu: Decimal = ZERO
    idle_gib: Decimal = ZERO


def monthly_floor(capacity: FixedCapacity, prices: PriceTable) -> Cost:
    """A month (730 hours) of the fixed capacity: paid with no call at all."""
    fixed, seconds = prices.fixed, HOURS_A_MONTH * 3600
    hundreds = Decimal(capacity.spanner_processing_units) / 100
    return Cost(
        (
            CostLine(
                "spanner processing units",
                Decimal(capacity.spanner_processing_units),
                "PU-month",
                hundreds * HOURS_A_MONTH * fixed.spanner_100_pu_hour,
            ),
            CostLine(
                "cloud run min instances, cpu",
                capacity.cpu,
                "vCPU-month",
                capacity.cpu * seconds * fixed.run_cpu_second,
            ),
            CostLine(
                "cloud run min instances, memory",
                capacity.gib,
                "GiB-month",
                capacity.gib * seconds * fixed.run_gib_second,
            ),
            CostLine(
                "cloud run idle min instances, cpu",
                capacity.idle_cpu,
                "vCPU-month",
                capacity.idle_cpu * seconds * fixed.run_idle_cpu_second,
            ),
            CostLine(
                "cloud run idle min instances, memory",
                capacity.idle_gib,
                "GiB-month",
                capacity.idle_gib * seconds * fixed.run_idle_gib_second,
            ),
        )
    )
