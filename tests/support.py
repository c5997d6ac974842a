"""Shared test helpers: tenant documents, signing, fixture bodies, audio streams, a transcriber
that hears a card number read out, what every transcript's word timings must satisfy."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from adapters.memory.fakes import ScriptedTranscriber
from domain.errors import UnreadableAudio
from domain.results import Segment, StoredRecording, Transcript, Word
from domain.transcription_hint import TranscriptionHint
from domain.webhook import sign

FIXTURES = Path(__file__).parent / "fixtures"

# CallRail's published test vector (facts.md): this key over the byte-exact body in
# fixtures/callrail_post_call_vector.json gives this signature.
VECTOR_KEY = "072e77e426f92738a72fe23c4d1953b4"
VECTOR_SIGNATURE = "UZAHbUdfm3GqL7qzilGozGzWV64="
VECTOR_COMPANY_ID = "155920786"
VECTOR_CALL_ID = "766970532"


def vector_body() -> bytes:
    return (FIXTURES / "callrail_post_call_vector.json").read_bytes()


def tenant_document(
    tenant_id: str = "acme",
    company_id: str = VECTOR_COMPANY_ID,
    secret: str = VECTOR_KEY,
    **config: Any,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "name": f"{tenant_id.title()} Heating & Air",
        "status": "active",
        "config": {
            "callrail_company_id": company_id,
            "callrail_account_id": "ACC8154748ae6bd4e278a7cddd38a662f4f",
            "webhook_secret": secret,
            "crm_config": {"type": "none"},
            "ai_config": {
                "lead_scoring_threshold": 70,
                "business_context": "HVAC repair in Denver",
            },
            **config,
        },
    }


def with_secret_ref(name: str) -> dict[str, Any]:
    """tenant_document() whose webhook signing key is a reference into the secret store."""
    document = tenant_document()
    del document["config"]["webhook_secret"]
    document["config"]["webhook_secret_ref"] = name
    return document


def callrail_body(call_id: str, company_id: str = VECTOR_COMPANY_ID, **fields: Any) -> bytes:
    """A CallRail post-call body (from the vector, re-serialised) with another call id."""
    payload: dict[str, Any] = copy.deepcopy(json.loads(vector_body()))
    payload.update({"id": call_id, "resource_id": f"CAL{call_id}", "company_id": company_id})
    payload.update(fields)
    return json.dumps(payload).encode()


def signed_headers(body: bytes, secret: str = VECTOR_KEY) -> dict[str, str]:
    return {"Content-Type": "application/json", "Signature": sign(secret, body)}


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    """Bytes as the async stream AudioStore.put reads, a chunk each."""
    for chunk in chunks:
        yield chunk


CARD_SAID = "it's 4111 1111 1111 1111 thanks"


class CardReadingTranscriber(ScriptedTranscriber):
    """Hears a caller read a card number, a word each half second, on `channel`; notes every
    recording it is asked for, and finds no audio in those whose URI names a call in
    `unreadable`."""

    def __init__(self, unreadable: Iterable[str] = (), channel: int | None = None) -> None:
        super().__init__()
        self.unreadable = set(unreadable)
        self.channel = channel
        self.heard: list[str] = []

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        self.heard.append(recording.uri)
        if any(call_id in recording.uri for call_id in self.unreadable):
            raise UnreadableAudio("not decodable audio")
        words = tuple(Word(i * 0.5, i * 0.5 + 0.5, w) for i, w in enumerate(CARD_SAID.split()))
        segment = Segment("caller", 0.0, 3.0, CARD_SAID, words, self.channel)
        return Transcript("test", language, CARD_SAID, (segment,))


def letters(text: str) -> str:
    return "".join(char for char in text.lower() if char.isalnum())


def assert_words_spell_their_segments(transcript: Transcript) -> None:
    """Every segment carries its words, in order, timed inside it and inside the recording,
    and they spell its text (spacing and punctuation aside)."""
    assert transcript.audio_duration_s is not None
    for segment in transcript.segments:
        assert segment.words, segment
        times = [time for word in segment.words for time in (word.start_s, word.end_s)]
        assert times == sorted(times), segment  # each word after the one before it
        for word in segment.words:
            assert segment.start_s - 0.5 <= word.start_s <= word.end_s <= segment.end_s + 0.5
            assert 0 <= word.start_s <= word.end_s <= transcript.audio_duration_s
        assert letters("".join(word.text for word in segment.words)) == letters(segment.text)
