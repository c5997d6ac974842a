"""Which samples to silence: the spans in seconds as merged runs of samples, per channel.

A run's channel is the one the span named, or None for every channel; the frame being muted
decides what a channel means for it (a mono frame has only one, so any span silences it).
A span's edges are rounded outwards, so the sample a digit starts on is always inside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs

from domain.results import SilencedSpan

_FAR = 2**62  # past the end of any recording
Run = tuple[int | None, int, int]  # channel (None: every channel), first sample, end sample


@attrs.frozen
class SilencePlan:
    runs: tuple[Run, ...]
    asked: tuple[tuple[int, int], ...]  # each span given, in samples, for the count

    @classmethod
    def of(cls, spans: Sequence[SilencedSpan], rate: int) -> SilencePlan:
        asked = tuple(_samples(span, rate) for span in spans)
        by_channel: dict[int | None, list[tuple[int, int]]] = {}
        for span, (first, end) in zip(spans, asked, strict=True):
            if end > first:
                by_channel.setdefault(_channel(span.channel), []).append((first, end))
        runs = [
            (channel, first, end)
            for channel, stretches in by_channel.items()
            for first, end in _merged(stretches)
        ]
        return cls(tuple(sorted(runs, key=lambda run: run[1])), asked)

    def within(self, first: int, end: int) -> Iterable[Run]:
        """The runs' parts inside samples first..end."""
        for channel, lo, hi in self.runs:
            if lo >= end:
                break
            if hi > first:
                yield channel, max(lo, first), min(hi, end)

    def spans_silenced(self, total_samples: int) -> int:
        """How many of the spans given silence some of a recording of this many samples."""
        return sum(1 for first, end in self.asked if min(end, total_samples) > first)


def _samples(span: SilencedSpan, rate: int) -> tuple[int, int]:
    # A span whose edges are not numbers silences from the start or to the end: more silence
    # is the safe way to be wrong about a card number. Reversed edges are put in order.
    start = 0.0 if math.isnan(span.start_s) else span.start_s
    end = math.inf if math.isnan(span.end_s) else span.end_s
    start, end = min(start, end), max(start, end)
    return _floor(start * rate), _ceil(end * rate)


def _floor(samples: float) -> int:
    return math.floor(samples) if math.isfinite(samples) else _FAR


def _ceil(samples: float) -> int:
    return math.ceil(samples) if math.isfinite(samples) else _FAR


def _channel(channel: int | None) -> int | None:
    return channel if channel is not None and channel >= 0 else None


def _merged(stretches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, end in sorted(stretches):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((first, end))
    return merged
