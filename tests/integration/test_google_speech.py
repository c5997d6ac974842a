"""GoogleSpeechTranscriber through google-cloud-speech's REST transport against the Speech-to-Text
stand-in on 127.0.0.1: speaker turns and timings, each turn's words with their offsets, the
service's errors, a never-ending operation, a per-file error, and a recording that is not in
Cloud Storage."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.speech_v2.types.cloud_speech import RecognitionFeatures

from adapters.googlespeech.transcriber import GoogleSpeechTranscriber
from domain.errors import PermanentFailure, RateLimited, TransientFailure, UnreadableAudio
from domain.results import Segment, StoredRecording, Word
from entrypoints.standins import serve
from entrypoints.standins.speech import FakeSpeech, Turn
from tests.support import assert_words_spell_their_segments

URI = "gs://acme-audio/acme/calls/CAL123/recording.mp3"
RECORDING = StoredRecording(URI, 1234, "0" * 64)
TURNS = [
    Turn("1", 0.4, 2.4, "Comfort Heating, how can I help?"),
    Turn("2", 2.8, 6.8, "Hi, my furnace stopped working."),
    Turn("2", 7.0, 8.0, "We have no heat."),
    Turn("1", 8.5, 10.5, "We can come tomorrow morning."),
]
OPERATION_TIMEOUT_S = 1.0
MultiChannelMode = RecognitionFeatures.MultiChannelMode


def timed(*words: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(*word) for word in words)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeSpeech, str]]:
    speech = FakeSpeech(polls_before_done=2)
    speech.script(URI, TURNS)
    async with serve(speech.app()) as url:
        yield speech, url


@pytest.fixture
def transcriber(fake: tuple[FakeSpeech, str]) -> Iterator[GoogleSpeechTranscriber]:
    _, url = fake
    subject = GoogleSpeechTranscriber(
        "acme-project",
        "us",
        api_endpoint=url,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        request_timeout_s=5.0,
        operation_timeout_s=OPERATION_TIMEOUT_S,
        poll_initial_s=0.05,
        poll_max_s=0.1,
    )
    yield subject
    subject.close()


async def test_speaker_turns_and_timings_are_mapped(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake

    transcript = await transcriber.transcribe(RECORDING, language="en-US")

    assert transcript.engine == "google-chirp_3"
    assert transcript.language == "en-US"
    # The stand-in spreads each turn's words evenly over it, offsets written as the service
    # writes them ("0.733s"); one speaker's two results make one turn, with all their words.
    assert transcript.segments == (
        Segment("1", 0.4, 2.4, "Comfort Heating, how can I help?", timed(
            (0.4, 0.733, "Comfort"), (0.733, 1.067, "Heating,"), (1.067, 1.4, "how"),
            (1.4, 1.733, "can"), (1.733, 2.067, "I"), (2.067, 2.4, "help?"),
        )),
        Segment("2", 2.8, 8.0, "Hi, my furnace stopped working. We have no heat.", timed(
            (2.8, 3.6, "Hi,"), (3.6, 4.4, "my"), (4.4, 5.2, "furnace"), (5.2, 6.0, "stopped"),
            (6.0, 6.8, "working."), (7.0, 7.25, "We"), (7.25, 7.5, "have"), (7.5, 7.75, "no"),
            (7.75, 8.0, "heat."),
        )),
        Segment("1", 8.5, 10.5, "We can come tomorrow morning.", timed(
            (8.5, 8.9, "We"), (8.9, 9.3, "can"), (9.3, 9.7, "come"), (9.7, 10.1, "tomorrow"),
            (10.1, 10.5, "morning."),
        )),
    )  # fmt: skip
    assert_words_spell_their_segments(transcript)
    assert {segment.channel for segment in transcript.segments} == {None}  # one signal heard
    assert transcript.text == " ".join(turn.text for turn in TURNS)
    assert transcript.audio_duration_s == 11.0
    posted = speech.requests[0]
    assert posted.path == "/v2/projects/acme-project/locations/us/recognizers/_:batchRecognize"
    assert posted.body["files"] == [{"uri": URI}]
    assert posted.body["recognitionOutputConfig"] == {"inlineResponseConfig": {}}
    config = posted.body["config"]
    assert config["model"] == "chirp_3"
    assert config["languageCodes"] == ["en-US"]
    # Each channel heard on its own, by default (the REST transport writes the enum as its
    # number, SEPARATE_RECOGNITION_PER_CHANNEL): a dual-channel caller's card is heard too.
    assert config["features"] == {
        "enableWordTimeOffsets": True,
        "enableAutomaticPunctuation": True,
        "diarizationConfig": {"minSpeakerCount": 2, "maxSpeakerCount": 2},
        "multiChannelMode": int(MultiChannelMode.SEPARATE_RECOGNITION_PER_CHANNEL),
    }
    polls = [r for r in speech.requests if r.method == "GET"]
    assert len(polls) == 3  # two "not done yet", then done
    assert all(
        r.path.startswith("/v2/projects/acme-project/locations/us/operations/") for r in polls
    )


async def test_the_first_channel_alone_is_heard_only_when_configured_so(
    fake: tuple[FakeSpeech, str],
) -> None:
    speech, url = fake
    subject = GoogleSpeechTranscriber(
        "acme-project",
        api_endpoint=url,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        poll_initial_s=0.05,
        separate_channels=False,
    )
    try:
        transcript = await subject.transcribe(RECORDING)
    finally:
        subject.close()

    features = speech.requests[0].body["config"]["features"]
    assert "multiChannelMode" not in features  # MULTI_CHANNEL_MODE_UNSPECIFIED, the default
    assert features["enableWordTimeOffsets"] is True
    assert_words_spell_their_segments(transcript)


async def test_a_configured_model_names_the_engine(fake: tuple[FakeSpeech, str]) -> None:
    speech, url = fake
    subject = GoogleSpeechTranscriber(
        "acme-project",
        "eu",
        model="chirp_2",
        api_endpoint=url,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        poll_initial_s=0.05,
    )
    try:
        transcript = await subject.transcribe(RECORDING, language="es-US")
    finally:
        subject.close()

    assert transcript.engine == "google-chirp_2"
    assert transcript.language == "es-US"
    assert speech.requests[0].path.startswith("/v2/projects/acme-project/locations/eu/")
    assert speech.requests[0].body["config"]["languageCodes"] == ["es-US"]


async def test_429_is_rate_limited(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake
    speech.throttle_next(1)

    with pytest.raises(RateLimited, match="429"):
        await transcriber.transcribe(RECORDING)


async def test_500_is_transient(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake
    speech.fail_next(1, status=500)

    with pytest.raises(TransientFailure) as raised:
        await transcriber.transcribe(RECORDING)
    assert not isinstance(raised.value, RateLimited)


async def test_an_operation_that_never_finishes_is_transient_within_the_deadline(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake
    speech.never_finish = True
    started = time.monotonic()

    with pytest.raises(TransientFailure, match="did not finish"):
        await transcriber.transcribe(RECORDING)

    assert time.monotonic() - started < OPERATION_TIMEOUT_S + 2.0
    assert speech.cancelled == list(speech.operations)  # nobody would read its result


async def test_a_per_file_error_is_unreadable_audio(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake
    speech.file_error(URI, code=3, message="Audio can not be decoded.")

    with pytest.raises(UnreadableAudio, match="can not be decoded"):
        await transcriber.transcribe(RECORDING)


async def test_a_recording_outside_cloud_storage_is_a_permanent_failure(
    fake: tuple[FakeSpeech, str], transcriber: GoogleSpeechTranscriber
) -> None:
    speech, _ = fake
    on_disk = StoredRecording("file:///data/audio/acme/calls/CAL1/recording.mp3", 12, "0" * 64)

    with pytest.raises(PermanentFailure, match="Cloud Storage audio store"):
        await transcriber.transcribe(on_disk)
    assert speech.requests == []
