"""Where the sound is silenced: the redacted items' words, padded, on the channel that said them."""

from __future__ import annotations

import pytest

from domain.audio_spans import MARGIN_S, REACH_S
from domain.redaction import redact_with_audio_spans
from domain.results import Segment, SilencedSpan, Transcript, Word


def spoken(text: str, start: float, step: float = 0.5) -> tuple[Word, ...]:
    """Each word of the text said in turn, `step` seconds each, from `start`."""
    return tuple(
        Word(round(start + i * step, 3), round(start + (i + 1) * step, 3), f" {w}")
        for i, w in enumerate(text.split())
    )


def transcript(*segments: Segment) -> Transcript:
    return Transcript("whisper-tiny.en", "en-US", " ".join(s.text for s in segments), segments)


def test_a_card_is_silenced_from_its_first_digit_to_its_last_on_its_channel() -> None:
    said = "sure it's 4111 1111 1111 1111 thanks"
    caller = Segment("caller", 10.0, 13.5, said, spoken(said, 10.0), channel=1)
    redacted, spans = redact_with_audio_spans(transcript(caller))
    assert "4111" not in redacted.text
    # the digits are words 2..5: 11.0 to 13.0 seconds
    assert spans == (SilencedSpan(11.0 - MARGIN_S, 13.0 + MARGIN_S, "CARD", 1),)


def test_each_item_has_its_kind_and_the_rest_of_the_call_is_not_silenced() -> None:
    agent_said = "and the expiration"
    said = "it's 4111 1111 1111 1111 expires 04 27 and the code is 123"
    agent = Segment("agent", 0.0, 1.5, agent_said, spoken(agent_said, 0.0), channel=0)
    caller = Segment("caller", 2.0, 9.0, said, spoken(said, 2.0), channel=1)
    _, spans = redact_with_audio_spans(transcript(agent, caller))
    assert [s.kind for s in spans] == ["CARD", "EXPIRY", "CVV"]
    assert all(s.channel == 1 for s in spans)
    assert spans[0].start_s >= 2.5 - MARGIN_S  # not "it's"
    assert spans[-1].end_s <= 2.0 + 13 * 0.5 + MARGIN_S


def test_without_words_the_whole_segment_is_silenced() -> None:
    said = "my card is 4111 1111 1111 1111"
    bare = Segment("1", 3.0, 8.0, said)
    _, spans = redact_with_audio_spans(transcript(bare))
    assert spans == (SilencedSpan(3.0 - MARGIN_S, 8.0 + MARGIN_S, "CARD", None),)


def test_words_that_do_not_spell_the_text_silence_the_whole_segment() -> None:
    said = "my card is 4111 1111 1111 1111"
    odd = Segment("caller", 3.0, 8.0, said, spoken("something else entirely", 3.0), channel=1)
    _, spans = redact_with_audio_spans(transcript(odd))
    assert (spans[0].start_s, spans[0].end_s) == (3.0 - MARGIN_S, 8.0 + MARGIN_S)


def test_a_card_read_across_two_segments_is_silenced_in_both() -> None:
    first = "my card number is 4111 1111"
    second = "1111 1111"
    one = Segment("caller", 0.0, 3.0, first, spoken(first, 0.0), channel=1)
    two = Segment("caller", 5.0, 6.0, second, spoken(second, 5.0), channel=1)
    redacted, spans = redact_with_audio_spans(transcript(one, two))
    assert [s.kind for s in spans] == ["CARD", "CARD"]
    assert spans[0].start_s == pytest.approx(2.0 - MARGIN_S)
    assert spans[1].end_s == pytest.approx(6.0 + MARGIN_S)
    assert "1111" not in redacted.text


def test_a_redacted_transcript_keeps_no_words_and_nothing_is_silenced_without_pii() -> None:
    said = "hi my furnace stopped working last night"
    plain = Segment("caller", 0.0, 3.0, said, spoken(said, 0.0), channel=1)
    redacted, spans = redact_with_audio_spans(transcript(plain))
    assert spans == ()
    assert all(s.words == () for s in redacted.segments)
    assert redacted.text == said


def test_the_silence_reaches_the_words_kept_on_either_side() -> None:
    # Whisper's times are rough, and a loop's are rougher: what lies between the last word
    # kept before the card and the first kept after it is silenced, however the digits' own
    # times were heard (here the card's last words end at 9.0, the next kept word is at 11.0).
    first = "it's 4111 1111"
    second = "1111 1111"
    after = "and the expiry"
    one = Segment("1", 5.0, 7.0, first, spoken(first, 5.0, 0.6))
    two = Segment("1", 7.0, 9.0, second, spoken(second, 8.0))
    three = Segment("1", 11.0, 12.5, after, spoken(after, 11.0))
    _, spans = redact_with_audio_spans(transcript(one, two, three))
    assert min(s.start_s for s in spans) == pytest.approx(5.6 - MARGIN_S)
    assert max(s.end_s for s in spans) == pytest.approx(11.0)


def test_the_reach_is_bounded_past_a_long_unheard_stretch() -> None:
    said = "my card is 4111 1111 1111 1111"
    card = Segment("1", 0.0, 4.0, said, spoken(said, 0.0))
    later = Segment("1", 60.0, 61.0, "goodbye", spoken("goodbye", 60.0))
    _, spans = redact_with_audio_spans(transcript(card, later))
    assert spans[0].end_s == pytest.approx(3.5 + REACH_S)
