"""The Transcriber port's contract, run against every adapter of it: the scripted fake the unit
tests use and faster-whisper with the real tiny.en model. Each gets the robocall fixture (one
voice, 16 s); the fake is scripted with that call's lines."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials

from adapters.googlespeech.transcriber import GoogleSpeechTranscriber
from adapters.memory.fakes import InMemoryAudioStore, ScriptedTranscriber
from adapters.whisper.transcriber import WhisperTranscriber
from domain.results import Segment, StoredRecording, Transcript
from entrypoints.standins import serve
from entrypoints.standins.speech import FakeSpeech, Turn
from ports.speech import Transcriber

AUDIO = Path(__file__).resolve().parents[2] / "entrypoints" / "demo" / "audio"
ROBOCALL = next(
    call
    for call in json.loads((AUDIO / "calls.json").read_text())["calls"]
    if call["scenario"] == "robocall"
)


def scripted_robocall() -> Transcript:
    """What a perfect transcriber would return: the script's lines, 5 s each."""
    segments = tuple(
        Segment("1", 5.0 * n, 5.0 * n + 4.5, line["text"])
        for n, line in enumerate(ROBOCALL["lines"])
    )
    return Transcript(
        engine="scripted",
        language="en-US",
        text=" ".join(segment.text for segment in segments),
        segments=segments,
        audio_duration_s=16.0,
    )


@pytest.fixture(scope="module")
def audio_store() -> InMemoryAudioStore:
    return InMemoryAudioStore()


@pytest.fixture(scope="module")
def whisper(audio_store: InMemoryAudioStore) -> Iterator[WhisperTranscriber]:
    """One model for the module: loading it is the slow part."""
    transcriber = WhisperTranscriber(audio_store)
    yield transcriber
    transcriber.close()


@pytest.fixture(params=["scripted", "whisper", "google"])
async def subject(
    request: pytest.FixtureRequest, audio_store: InMemoryAudioStore, whisper: WhisperTranscriber
) -> AsyncIterator[tuple[Transcriber, StoredRecording]]:
    data = (AUDIO / str(ROBOCALL["file"])).read_bytes()
    if request.param == "scripted":
        recording = StoredRecording(
            "memory://acme/calls/robocall/recording.mp3",
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
        yield ScriptedTranscriber([scripted_robocall()]), recording
        return
    if request.param == "google":
        # Speech-to-Text v2 over REST against its stand-in, scripted with the call's lines as
        # the service would return them for the object in Cloud Storage.
        recording = StoredRecording(
            "gs://contract-audio/acme/calls/robocall/recording.mp3",
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
        speech = FakeSpeech()
        turns = [Turn("1", 5.0 * n + 0.5, 5.0 * n + 4.5, line["text"])
                 for n, line in enumerate(ROBOCALL["lines"])]  # fmt: skip
        speech.script(recording.uri, turns)
        async with serve(speech.app()) as url:
            google = GoogleSpeechTranscriber(
                "contract-project",
                api_endpoint=url,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                poll_initial_s=0.05,
            )
            try:
                yield google, recording
            finally:
                google.close()
        return

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    recording = await audio_store.put("acme/calls/robocall/recording.mp3", chunks(), "audio/mpeg")
    yield whisper, recording


async def test_a_transcript_names_its_engine_and_language(
    subject: tuple[Transcriber, StoredRecording],
) -> None:
    transcriber, recording = subject

    transcript = await transcriber.transcribe(recording, language="en-US")

    assert isinstance(transcript, Transcript)
    assert transcript.engine.strip()
    assert transcript.language == "en-US"
    assert not transcript.redacted


async def test_segments_are_timed_in_order_and_make_up_the_text(
    subject: tuple[Transcriber, StoredRecording],
) -> None:
    transcriber, recording = subject

    transcript = await transcriber.transcribe(recording)

    assert transcript.segments
    starts = [segment.start_s for segment in transcript.segments]
    assert starts == sorted(starts)
    for segment in transcript.segments:
        assert 0 <= segment.start_s <= segment.end_s
        if transcript.audio_duration_s is not None:
            assert segment.end_s <= transcript.audio_duration_s
        assert segment.speaker
        assert segment.text in transcript.text
    assert "warranty" in transcript.text.lower()
