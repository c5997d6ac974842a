"""Money: what metered usage costs at a price table's list prices, in USD, as Decimal lines.

The table is data (entrypoints/prices.toml, overridable by the operator); this module reads it
from plain mappings and prices a MeteredUsage. Pure: no file, clock or environment. Figures are
list prices before free tiers, credits and committed-use discounts, so they are an upper
estimate of a bill, not the bill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

ZERO = Decimal(0)
MINUTE_S = Decimal(60)
MILLION = Decimal(1_000_000)
GIB = Decimal(2**30)
TIB = Decimal(2**40)
HOURS_A_MONTH = Decimal(730)  # Google Cloud's monthly figures count 730 hours
SPEECH_BATCH_MODES = ("standard", "dynamic_batch")


class PriceTableError(ValueError):
    """A price table that cannot be used; the message names the entry."""


@attrs.frozen
class SpeechPrice:
    """Speech-to-Text v2, per minute of audio: processed at once, or by dynamic batch."""

    standard: Decimal
    dynamic_batch: Decimal

    def per_minute(self, mode: str) -> Decimal:
        return self.dynamic_batch if mode == "dynamic_batch" else self.standard


@attrs.frozen
class TokenPrice:
    """A model's tokens, per million in and out (thinking tokens are billed as output)."""

    input: Decimal
    output: Decimal


@attrs.frozen
class FixedPrices:
    """What runs whether calls come or not: Spanner compute and Cloud Run minimum instances."""

    spanner_100_pu_hour: Decimal
    run_cpu_second: Decimal  # instance-based billing (CPU always allocated)
    run_gib_second: Decimal
    run_idle_cpu_second: Decimal  # request-based billing, an idle minimum instance
    run_idle_gib_second: Decimal


@attrs.frozen
class PriceTable:
    read_on: date
    speech: Mapping[str, SpeechPrice]
    llm: Mapping[str, TokenPrice]
    storage_gib_month: Decimal
    storage_class_a: Decimal  # per operation (writes)
    storage_class_b: Decimal  # per operation (reads)
    pubsub_tib: Decimal
    pubsub_min_bytes: int
    spanner_round_trip: Decimal  # an estimate: Spanner bills capacity, not requests
    cpu_second: Decimal  # the embedded shape's machine, at the operator's rate (default 0)
    fixed: FixedPrices


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


# --- reading a table from plain data (what tomllib gives) ----------------------------------


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`, table by table: an operator's file names only what differs."""
    result = dict(base)
    for key, value in override.items():
        below = result.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            result[key] = merged(below, value)
        else:
            result[key] = value
    return result


def price_table(raw: Mapping[str, Any]) -> PriceTable:
    """The table from its data; PriceTableError names the first entry that is wrong."""
    read = _Reader(raw)
    speech = {
        name: SpeechPrice(
            read.price("speech", name, "standard"), read.price("speech", name, "dynamic_batch")
        )
        for name in read.tables("speech")
    }
    llm = {
        name: TokenPrice(read.price("llm", name, "input"), read.price("llm", name, "output"))
        for name in read.tables("llm")
    }
    table = PriceTable(
        read_on=read.day("read_on"),
        speech=speech,
        llm=llm,
        storage_gib_month=read.price("storage", "gib_month"),
        storage_class_a=read.price("storage", "class_a_per_1000") / 1000,
        storage_class_b=read.price("storage", "class_b_per_1000") / 1000,
        pubsub_tib=read.price("pubsub", "tib"),
        pubsub_min_bytes=int(read.price("pubsub", "min_message_bytes")),
        spanner_round_trip=read.price("spanner", "round_trip"),
        cpu_second=read.price("embedded", "cpu_second"),
        fixed=FixedPrices(
            spanner_100_pu_hour=read.price("spanner", "per_100_processing_units_hour"),
            run_cpu_second=read.price("cloud_run", "cpu_second"),
            run_gib_second=read.price("cloud_run", "gib_second"),
            run_idle_cpu_second=read.price("cloud_run", "idle_cpu_second"),
            run_idle_gib_second=read.price("cloud_run", "idle_gib_second"),
        ),
    )
    read.no_strangers()
    return table


# Entries that say where a price was read: kept in the file for people, not read as prices.
_NOTES = ("source", "read", "note")


class _Reader:
    def __init__(self, raw: Mapping[str, Any]):
        self._raw = raw
        self._used: set[tuple[str, ...]] = set()

    def _get(self, parts: tuple[str, ...]) -> Any:
        node: Any = self._raw
        for part in parts:
            if not isinstance(node, Mapping) or part not in node:
                raise PriceTableError(f"{_name(parts)}: missing")
            node = node[part]
        self._used.add(parts)
        return node

    def price(self, *parts: str) -> Decimal:
        path = _name(parts)
        value = self._get(parts)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise PriceTableError(f"{path}: {value!r} is not a price")
        try:
            price = Decimal(str(value))
        except InvalidOperation:
            raise PriceTableError(f"{path}: {value!r} is not a price") from None
        if not price.is_finite() or price < 0:
            raise PriceTableError(f"{path}: {value!r} is not a price (a number, 0 or more)")
        return price

    def day(self, *parts: str) -> date:
        path = _name(parts)
        value = self._get(parts)
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise PriceTableError(f"{path}: {value!r} is not a date (YYYY-MM-DD)") from None

    def tables(self, path: str) -> list[str]:
        node = self._raw.get(path)
        if not isinstance(node, Mapping):
            raise PriceTableError(f"{path}: missing")
        names = [k for k, v in node.items() if isinstance(v, Mapping)]
        if not names:
            raise PriceTableError(f"{path}: no model priced")
        return names

    def no_strangers(self) -> None:
        """An entry the table does not know is a typo that would silently price nothing."""
        for parts in _leaves(self._raw, ()):
            if parts not in self._used and parts[-1] not in _NOTES:
                raise PriceTableError(f"{_name(parts)}: not an entry of the price table")


def _name(parts: tuple[str, ...]) -> str:
    """A dotted path as TOML writes it: a key with a dot in it (gemini-2.5-flash) quoted."""
    return ".".join(f'"{p}"' if "." in p else p for p in parts)


def _leaves(node: Mapping[str, Any], prefix: tuple[str, ...]) -> Iterable[tuple[str, ...]]:
    for key, value in node.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key)
