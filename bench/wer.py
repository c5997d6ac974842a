"""Word error rate of the Whisper transcriber on the demo's six sample calls, against the lines
their recordings were synthesised from (entrypoints/demo/audio/calls.json).

    .venv/bin/python -m bench.wer              # as the pipeline runs it, with the tenant's hint
    .venv/bin/python -m bench.wer --no-hint    # without the hint (the loop handling stays)
    .venv/bin/python -m bench.wer --show       # and each call's transcript

WER = (substituted + deleted + inserted words) / words in the script, summed over the calls.
Both sides are normalised first, so that only words count: lower case, no punctuation, "&" is
"and", and numbers are read as words ("4-1-1" is "four one one", "15" is "fifteen", "$1,200" is
"twelve hundred dollars", "10am" is "ten am"). A repetition loop counts as the inserted words it
is. The figures are for six synthetic voices: they compare versions of the transcriber, they are
not what a real phone line gives.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from adapters.filesystem.audio_store import FileAudioStore
from adapters.whisper.transcriber import WhisperTranscriber
from domain.results import StoredRecording, Transcript
from domain.tenant import parse_tenant
from domain.transcript_loops import has_loop
from domain.transcription_hint import TranscriptionHint, transcription_hint
from entrypoints.demo.runner import audio_dir, load_manifest

# The demo's tenant (entrypoints/demo/runner.py): its hint is what the pipeline gives Whisper.
DEMO_TENANT = {
    "tenant_id": "demo-tenant-001",
    "name": "Acme Heating & Air (demo)",
    "config": {
        "callrail_company_id": "12345",
        "webhook_secret": "unused",
        "ai_config": {
            "business_context": "Acme Heating & Air: furnace and AC repair, installation and "
            "maintenance in Denver. A good lead needs a repair or a new system."
        },
    },
}
_ONES = str.split(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    " fifteen sixteen seventeen eighteen nineteen"
)
_TENS = str.split("_ _ twenty thirty forty fifty sixty seventy eighty ninety")


def spoken(n: int) -> list[str]:
    """A number as it is said: 15 "fifteen", 1200 "twelve hundred", 2000 "two thousand"."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (spoken(n % 100) if n % 100 else [])
    if n < 10_000 and n % 100 == 0 and n % 1000:
        return [*spoken(n // 100), "hundred"]
    if n < 1_000_000:
        return [*spoken(n // 1000), "thousand"] + (spoken(n % 1000) if n % 1000 else [])
    return [_ONES[int(digit)] for digit in str(n)]


def normalise(text: str) -> list[str]:
    text = text.lower().replace("&", " and ")
    text = re.sub(r"\$(\d[\d,]*)", lambda m: m.group(1).replace(",", "") + " dollars", text)
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)
    text = re.sub(r"(\d)\s*([ap])\.?m\b\.?", r"\1 \2m", text)
    text = re.sub(r"(\w)\.(com|net|org)\b", r"\1 dot \2", text)
    words: list[str] = []
    for token in re.findall(r"[a-z']+|\d+(?:-\d+)*", text):
        if not token[0].isdigit():
            words.append(token.strip("'"))
        elif "-" in token or len(token) > 4:  # digit by digit: "4-1-1-1", "4111111"
            words += [_ONES[int(d)] for d in token if d.isdigit()]
        else:
            words += spoken(int(token))
    return [word for word in words if word]


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp))
        previous = current
    return previous[-1]


def demo_hint() -> TranscriptionHint:
    return transcription_hint(parse_tenant(DEMO_TENANT, datetime(2026, 1, 1, tzinfo=UTC)))


async def transcripts(hint: TranscriptionHint | None) -> dict[str, Transcript]:
    transcriber = WhisperTranscriber(FileAudioStore(audio_dir()))
    found = {}
    try:
        for entry in load_manifest():
            path = audio_dir() / entry["file"]
            data = path.read_bytes()
            recording = StoredRecording(
                f"file://{path}", len(data), hashlib.sha256(data).hexdigest(), "audio/mpeg"
            )
            if hint is None:  # also how a transcriber from before the hint is called
                found[entry["scenario"]] = await transcriber.transcribe(recording)
            else:
                found[entry["scenario"]] = await transcriber.transcribe(recording, hint=hint)
    finally:
        transcriber.close()
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-hint", action="store_true", help="transcribe without the hint")
    parser.add_argument("--show", action="store_true", help="print each call's transcript")
    args = parser.parse_args(argv)
    hint = None if args.no_hint else demo_hint()
    print(f"hint: {hint.prompt() if hint else '(none)'}")
    heard = asyncio.run(transcripts(hint))
    errors = words = 0
    print(f"{'call':16} {'words':>5} {'errors':>6} {'WER':>6}  loop")
    for entry in load_manifest():
        reference = normalise(" ".join(line["text"] for line in entry["lines"]))
        text = heard[entry["scenario"]].text
        wrong = edit_distance(reference, normalise(text))
        errors, words = errors + wrong, words + len(reference)
        loop = "LOOP" if has_loop(text) else "-"
        rate = wrong / len(reference)
        print(f"{entry['scenario']:16} {len(reference):5} {wrong:6} {rate:6.1%}  {loop}")
        if args.show:
            print(f"    {text}")
    print(f"{'all':16} {words:5} {errors:6} {errors / words:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
