"""The price table the cost figures use (domain.cost), read from plain data (what tomllib
gives): prices by model and service, the date they were read, and what the deployment pays
whether calls come or not. Pure; the file is entrypoints' to read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs


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
