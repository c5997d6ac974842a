"""The tenant's hint reaches Speech-to-Text v2 as an inline phrase set (model adaptation), and a
call without one sends no adaptation at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.auth.credentials import AnonymousCredentials

from adapters.googlespeech.transcriber import PHRASE_BOOST, GoogleSpeechTranscriber
from domain.results import StoredRecording
from domain.transcription_hint import TranscriptionHint
from entrypoints.standins import serve
from entrypoints.standins.speech import FakeSpeech, Turn

URI = "gs://acme-audio/acme/calls/CAL123/recording.mp3"
RECORDING = StoredRecording(URI, 1234, "0" * 64)


@pytest.fixture
async def speech() -> AsyncIterator[tuple[FakeSpeech, GoogleSpeechTranscriber]]:
    fake = FakeSpeech()
    fake.script(URI, [Turn("1", 0.4, 2.4, "Peak Comfort Heating and Air, how can I help?")])
    async with serve(fake.app()) as url:
        subject = GoogleSpeechTranscriber(
            "acme-project",
            api_endpoint=url,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            poll_initial_s=0.05,
        )
        try:
            yield fake, subject
        finally:
            subject.close()


async def test_the_hint_is_an_inline_phrase_set(
    speech: tuple[FakeSpeech, GoogleSpeechTranscriber],
) -> None:
    fake, transcriber = speech
    hint = TranscriptionHint("Peak Comfort Heating and Air", ("furnace", "HVAC"))

    transcript = await transcriber.transcribe(RECORDING, hint=hint)

    assert transcript.text.startswith("Peak Comfort")
    adaptation = fake.requests[0].body["config"]["adaptation"]
    assert adaptation == {
        "phraseSets": [
            {
                "inlinePhraseSet": {
                    "phrases": [
                        {"value": phrase, "boost": PHRASE_BOOST}
                        for phrase in ("Peak Comfort Heating and Air", "furnace", "HVAC")
                    ]
                }
            }
        ]
    }


@pytest.mark.parametrize("hint", [None, TranscriptionHint()])
async def test_without_a_hint_there_is_no_adaptation(
    speech: tuple[FakeSpeech, GoogleSpeechTranscriber], hint: TranscriptionHint | None
) -> None:
    fake, transcriber = speech

    await transcriber.transcribe(RECORDING, hint=hint)

    assert "adaptation" not in fake.requests[0].body["config"]
