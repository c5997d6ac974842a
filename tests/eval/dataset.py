"""The labelled set in tests/eval/data, read into the domain's own types.

calls.jsonl: one call a line, as Whisper tiny.en transcribes 8 kHz phone audio, with the
metadata CallRail sends, the tenant's business context, and the labels a sales manager would
give. redaction.jsonl: transcript snippets, the spans that must be redacted and those that
must survive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from domain.call import CallMetadata
from domain.results import CallAnalysis, Intent, Segment, Tier, Transcript, Urgency
from domain.tenant import AiConfig

DATA = Path(__file__).parent / "data"
CALLS = DATA / "calls.jsonl"
# Sets written by other authors from the labelling rules alone (data/README.md says which).
OTHER_CALLS = tuple(sorted(p for p in DATA.glob("*_calls.jsonl")))
REDACTION_CASES = DATA / "redaction.jsonl"
OTHER_REDACTION = tuple(sorted(DATA.glob("redaction[0-9]*.jsonl")))  # by other authors
# The scorer reads price shopping from key phrases (domain/scoring.py's PRICE_SHOPPING).
PRICE_SHOPPING_PHRASE = "shopping around, comparing prices"


@attrs.frozen
class Gold:
    intent: Intent
    spam: bool
    solicitation: bool
    booked: bool
    existing_customer: bool
    price_shopper: bool
    caller_name: str | None
    email: str | None
    urgency: Urgency
    tier: Tier

    @property
    def should_qualify(self) -> bool:
        """A lead worth a salesperson's callback: what a manager rates hot or warm."""
        return self.tier in (Tier.HOT, Tier.WARM)


@attrs.frozen
class EvalCall:
    id: str
    kind: str
    business_name: str
    ai: AiConfig
    metadata: CallMetadata
    transcript: Transcript
    gold: Gold

    def gold_analysis(self) -> CallAnalysis:
        """The analysis a perfect analyzer would give: the scorer's input with no analysis error."""
        g = self.gold
        return CallAnalysis(
            engine="gold",
            summary="",
            intent=g.intent,
            urgency=g.urgency,
            appointment_booked=g.booked,
            caller_name=g.caller_name,
            caller_email=g.email,
            is_spam=g.spam or g.solicitation,
            is_existing_customer=g.existing_customer,
            key_phrases=(PRICE_SHOPPING_PHRASE,) if g.price_shopper else (),
        )


@attrs.frozen
class RedactionCase:
    id: str
    note: str
    transcript: Transcript
    redact: tuple[str, ...]
    keep: tuple[str, ...]


def _lines(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _transcript(segments: list[dict[str, Any]]) -> Transcript:
    parts = tuple(
        Segment(s["speaker"], float(s["start_s"]), float(s["end_s"]), s["text"]) for s in segments
    )
    return Transcript(
        engine="whisper-tiny.en",
        language="en",
        text=" ".join(s.text for s in parts),
        segments=parts,
        audio_duration_s=parts[-1].end_s if parts else None,
    )


def _gold(raw: dict[str, Any]) -> Gold:
    return Gold(
        intent=Intent(raw["intent"]),
        spam=raw["spam"],
        solicitation=raw["solicitation"],
        booked=raw["booked"],
        existing_customer=raw["existing_customer"],
        price_shopper=raw["price_shopper"],
        caller_name=raw["caller_name"],
        email=raw["email"],
        urgency=Urgency(raw["urgency"]),
        tier=Tier(raw["tier"]),
    )


def load_calls(path: Path = CALLS) -> list[EvalCall]:
    calls = []
    for raw in _lines(path):
        meta = raw["metadata"]
        calls.append(
            EvalCall(
                id=raw["id"],
                kind=raw["kind"],
                business_name=raw["business_name"],
                ai=AiConfig(business_context=raw["business_context"]),
                metadata=CallMetadata(
                    duration_s=meta["duration_s"],
                    answered=meta["answered"],
                    voicemail=meta["voicemail"],
                    first_call=meta["first_call"],
                    source=meta["source"],
                ),
                transcript=_transcript(raw["segments"]),
                gold=_gold(raw["gold"]),
            )
        )
    return calls


def load_redaction_cases(path: Path = REDACTION_CASES) -> list[RedactionCase]:
    return [
        RedactionCase(
            id=raw["id"],
            note=raw["note"],
            transcript=_transcript(raw["segments"]),
            redact=tuple(raw["redact"]),
            keep=tuple(raw["keep"]),
        )
        for raw in _lines(path)
    ]
