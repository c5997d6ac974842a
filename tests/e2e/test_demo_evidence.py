"""`ingestion-pipeline demo`: every score reason of every sample call shows the words behind it.
A reason read from the call's analysis quotes words that occur in that call's (redacted)
transcript, with a time inside the recording; a reason read from CallRail's metadata (answered,
first call, duration, paid source) quotes nothing; and the CRM stand-in's call activity lists
the reasons with their quotes."""

from __future__ import annotations

import html
import json
from pathlib import Path

from tests.e2e.test_demo import calls

METADATA_FACTORS = {
    "answered_call", "missed_call", "first_call", "repeat_caller", "duration", "paid_source",
    "clamp", "voicemail",
}  # fmt: skip


def test_every_reason_in_the_demo_quotes_its_transcript_or_is_metadata(
    demo: tuple[Path, str],
) -> None:
    workdir, _ = demo
    quoted = 0
    for scenario, row in calls(workdir).items():
        score = json.loads(row["lead_score"])
        transcript = json.loads(row["transcript"]) if row["transcript"] else None
        text = transcript["text"] if transcript else ""
        end = max((s["end_s"] for s in transcript["segments"]), default=0.0) if transcript else 0
        assert score["reasons"], scenario
        for reason in score["reasons"]:
            where = f"{scenario}: {reason['factor']}"
            assert set(reason) == {"factor", "points", "detail", "quote", "at_s"}, where
            if reason["factor"] in METADATA_FACTORS and reason["quote"] is None:
                assert reason["at_s"] is None, where
                continue
            assert reason["quote"], where
            assert reason["quote"] in text, where
            assert reason["at_s"] is None or 0 <= reason["at_s"] <= end + 1, where
            quoted += 1
    assert quoted >= 6  # the hot and warm calls' intent, booking, urgency at least


def test_the_crm_activities_list_the_reasons_with_their_quotes(
    demo: tuple[Path, str],
) -> None:
    workdir, _ = demo
    crm = json.loads((workdir / "hubspot.json").read_text())
    bodies = [html.unescape(c["properties"]["hs_call_body"]) for c in crm["calls"]]
    for row in calls(workdir).values():
        for reason in json.loads(row["lead_score"])["reasons"]:
            if reason["quote"]:
                line = f'{reason["factor"]}: {reason["detail"]} \u2014 "{reason["quote"]}"'
                assert any(line in body for body in bodies), line
