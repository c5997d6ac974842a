"""BatchRecognize answers in the layouts the stand-in does not produce, parsed by the client
library's own types from Speech-to-Text's JSON and mapped to our Transcript: diarized words
repeated from the beginning of the audio, results without words, words without speaker
labels or without offsets, each channel recognised separately, and per-file errors by their
google.rpc code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.cloud.speech_v2.types import cloud_speech as cs

from adapters.googlespeech.turns import transcript_for_file
from domain.errors import RateLimited, TransientFailure, UnreadableAudio
from domain.results import Segment, Word

URI = "gs://acme-audio/acme/calls/CAL9/recording.mp3"


def response(file_result: dict[str, Any], key: str = URI) -> Any:
    document = {"results": {key: file_result}, "totalBilledDuration": "9s"}
    return cs.BatchRecognizeResponse.from_json(json.dumps(document))


def word(text: str, start: float, end: float, speaker: str | None = None) -> dict[str, Any]:
    """A WordInfo as the service writes it: offsets are proto3 JSON Durations ("1.500s")."""
    info: dict[str, Any] = {
        "word": text,
        "startOffset": f"{start:.3f}s",
        "endOffset": f"{end:.3f}s",
    }
    if speaker is not None:
        info["speakerLabel"] = speaker
    return info


def inline(*results: dict[str, Any]) -> dict[str, Any]:
    return {"inlineResult": {"transcript": {"results": list(results)}}}


def result(
    transcript: str, words: list[dict[str, Any]], end: str, channel: int | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "alternatives": [{"transcript": transcript, "words": words}],
        "resultEndOffset": end,
    }
    if channel is not None:
        found["channelTag"] = channel
    return found


def test_words_repeated_from_the_beginning_are_counted_once() -> None:
    first = [word("Hello,", 0.5, 0.9, "1"), word("plumbing.", 1.0, 1.6, "1")]
    everything = [*first, word("Hi,", 2.0, 2.2, "2"), word("leak.", 2.3, 2.9, "2")]
    answer = response(
        inline(result("Hello, plumbing.", first, "1.7s"), result("", everything, "3s"))
    )

    transcript = transcript_for_file(answer, URI, "google-chirp_3", "en-US")

    assert transcript.segments == (
        Segment(
            "1",
            0.5,
            1.6,
            "Hello, plumbing.",
            (Word(0.5, 0.9, "Hello,"), Word(1.0, 1.6, "plumbing.")),
        ),
        Segment("2", 2.0, 2.9, "Hi, leak.", (Word(2.0, 2.2, "Hi,"), Word(2.3, 2.9, "leak."))),
    )
    assert transcript.audio_duration_s == 9.0


def test_results_without_words_are_one_segment_each() -> None:
    answer = response(
        inline(result("Hello, plumbing.", [], "1.7s"), result("My sink leaks.", [], "4.25s"))
    )

    transcript = transcript_for_file(answer, URI, "google-chirp_3", "en-US")

    assert transcript.text == "Hello, plumbing. My sink leaks."
    assert transcript.segments == (
        Segment("1", 0.0, 1.7, "Hello, plumbing."),
        Segment("1", 1.7, 4.25, "My sink leaks."),
    )


def test_words_without_a_speaker_label_are_speaker_1() -> None:
    words = [word("Hello", 0.0, 0.4), word("there", 0.5, 0.9)]
    answer = response(inline(result("Hello there", words, "1s")))

    transcript = transcript_for_file(answer, URI, "google-chirp_3", "en-US")

    assert transcript.segments == (
        Segment("1", 0.0, 0.9, "Hello there", (Word(0.0, 0.4, "Hello"), Word(0.5, 0.9, "there"))),
    )


def test_a_turn_with_a_word_without_offsets_carries_no_words() -> None:
    """A time made up for it could leave that word unsilenced: without its words, the segment
    is silenced whole."""
    untimed = {"word": "1234", "speakerLabel": "2"}
    words = [word("My", 0.0, 0.2, "2"), word("code", 0.3, 0.6, "2"), untimed]
    answer = response(inline(result("My code 1234", words, "2s")))

    transcript = transcript_for_file(answer, URI, "google-chirp_3", "en-US")

    [segment] = transcript.segments
    assert segment.text == "My code 1234"
    assert segment.words == ()


def test_each_channel_recognised_separately_is_the_segments_channel() -> None:
    """channel_tag counts from 1; a segment's channel from 0. A turn never spans two channels,
    even when both say the same speaker label."""
    agent = [word("Card", 0.0, 0.4, "1"), word("number?", 0.5, 0.9, "1")]
    caller = [word("4111", 1.0, 1.6, "1"), word("1111.", 1.7, 2.2, "1")]
    answer = response(
        inline(
            result("Card number?", agent, "1s", channel=1),
            result("4111 1111.", caller, "2.5s", channel=2),
        )
    )

    separate = transcript_for_file(answer, URI, "google-chirp_3", "en-US", separate_channels=True)
    mixed = transcript_for_file(answer, URI, "google-chirp_3", "en-US")

    assert separate.segments == (
        Segment(
            "1", 0.0, 0.9, "Card number?", (Word(0.0, 0.4, "Card"), Word(0.5, 0.9, "number?")), 0
        ),
        Segment("1", 1.0, 2.2, "4111 1111.", (Word(1.0, 1.6, "4111"), Word(1.7, 2.2, "1111.")), 1),
    )
    # Without separate recognition the service heard one channel or a mix: no channel is known.
    assert [s.channel for s in mixed.segments] == [None]
    assert [s.text for s in mixed.segments] == ["Card number? 4111 1111."]


def test_results_without_words_carry_their_channel() -> None:
    answer = response(
        inline(
            result("Card number?", [], "1s", channel=1),
            result("4111 1111.", [], "2.5s", channel=2),
        )
    )

    transcript = transcript_for_file(answer, URI, "google-chirp_3", "en-US", separate_channels=True)

    assert transcript.segments == (
        Segment("1", 0.0, 1.0, "Card number?", channel=0),
        Segment("1", 1.0, 2.5, "4111 1111.", channel=1),
    )


def test_the_only_result_is_used_whatever_its_key() -> None:
    words = [word("Hello", 0.0, 0.4, "1")]
    answer = response(inline(result("Hello", words, "1s")), key="gs://acme-audio/other-spelling")

    assert transcript_for_file(answer, URI, "google-chirp_3", "en-US").text == "Hello"


@pytest.mark.parametrize(
    ("code", "error"),
    [(3, UnreadableAudio), (5, UnreadableAudio), (8, RateLimited), (14, TransientFailure)],
)
def test_a_per_file_error_is_mapped_by_its_code(code: int, error: type[Exception]) -> None:
    answer = response({"error": {"code": code, "message": "the service's reason"}})

    with pytest.raises(error, match="the service's reason"):
        transcript_for_file(answer, URI, "google-chirp_3", "en-US")
