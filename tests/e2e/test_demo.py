"""`ingestion-pipeline demo` as a newcomer runs it: every sample call completes, the leads
come out as a person would judge them, and the card number read out on the billing call is
nowhere: not in the database, the logs, anything sent to the CRM, or the stored recording."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

# The billing call reads out 4111 1111 1111 1111, expiry 04/27 and code 123 (calls.json).
CARD_FORMS = re.compile(r"4\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1")


def calls(workdir: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(workdir / "pipeline.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM calls").fetchall()
    manifest = json.loads(
        (Path(__file__).parents[2] / "entrypoints/demo/audio/calls.json").read_text()
    )
    by_index = {f"CALDEMO{i + 1:04d}": c["scenario"] for i, c in enumerate(manifest["calls"])}
    return {by_index[r["call_id"]]: dict(r) for r in rows}


def test_every_sample_call_completes(demo: tuple[Path, str]) -> None:
    workdir, stdout = demo
    found = calls(workdir)
    assert len(found) == 6
    assert {name: row["stage"] for name, row in found.items()} == dict.fromkeys(found, "COMPLETED")
    # The table a person reads ends the output, one row per call.
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("CALL "))
    table = lines[header : header + 7]
    assert table[0].split()[:3] == ["CALL", "SCENARIO", "STAGE"]
    assert all("COMPLETED" in row for row in table[1:])


def test_the_leads_are_judged_as_a_person_would(demo: tuple[Path, str]) -> None:
    found = calls(demo[0])
    scores = {name: json.loads(row["lead_score"]) for name, row in found.items()}
    analyses = {name: json.loads(row["analysis"]) for name, row in found.items()}
    assert scores["urgent_booking"]["tier"] == "hot"
    assert scores["urgent_booking"]["qualified"] is True
    assert analyses["urgent_booking"]["appointment_booked"] is True
    assert scores["robocall"]["tier"] == "spam"
    assert scores["robocall"]["qualified"] is False
    assert scores["wrong_number"]["tier"] == "cold"
    assert analyses["wrong_number"]["intent"] == "wrong_number"
    for score in scores.values():
        assert sum(r["points"] for r in score["reasons"]) == score["score"]


def test_every_lead_reached_the_crm_once(demo: tuple[Path, str]) -> None:
    workdir = demo[0]
    hubspot = json.loads((workdir / "hubspot.json").read_text())
    assert len(hubspot["calls"]) == 6
    keys = [c["properties"]["callrail_call_key"] for c in hubspot["calls"]]
    assert len(set(keys)) == 6
    crm = {name: json.loads(row["crm_sync"]) for name, row in calls(workdir).items()}
    assert {c["status"] for c in crm.values()} == {"success"}


def test_the_card_number_is_nowhere(demo: tuple[Path, str]) -> None:
    workdir = demo[0]
    billing = calls(workdir)["billing_card"]
    transcript = json.loads(billing["transcript"])
    assert transcript["redacted"] is True
    assert "[REDACTED CARD]" in transcript["text"]
    stored = "\n".join(str(v) for row in calls(workdir).values() for v in row.values())
    sent_to_crm = (workdir / "hubspot_requests.json").read_text()
    in_crm = (workdir / "hubspot.json").read_text()
    logs = (workdir / "demo.log").read_text()
    for where, text in [
        ("database", stored),
        ("CRM requests", sent_to_crm),
        ("CRM", in_crm),
        ("logs", logs),
    ]:
        assert not CARD_FORMS.search(text), f"the card number appears in the {where}"
    # The logs carry no phone numbers or transcript text either.
    assert "+1303555" not in logs
    assert "furnace" not in logs.lower()


def test_the_billing_calls_recording_is_stored_silenced_and_the_demo_says_so(
    demo: tuple[Path, str],
) -> None:
    workdir, stdout = demo
    billing = calls(workdir)["billing_card"]
    recording = json.loads(billing["recording"])
    original = (Path(__file__).parents[2] / "entrypoints/demo/audio/billing_card.mp3").read_bytes()
    assert recording["sha256"] != hashlib.sha256(original).hexdigest()
    said = [line for line in stdout.splitlines() if line.startswith("billing_card: ")]
    assert len(said) == 1
    assert re.fullmatch(
        r"billing_card: redacted recording stored: \d+ spans? silenced \(.*CARD \d+.*\)", said[0]
    )


def test_the_table_shows_what_each_call_cost(demo: tuple[Path, str]) -> None:
    """The COST column: each call's cost at the shipped prices ($0 a CPU-second on one machine)
    and the seconds its stages ran, which an operator's price file can put a rate on."""
    lines = demo[1].splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("CALL "))
    assert lines[header].split()[-1] == "COST"
    for row in lines[header + 1 : header + 7]:
        cost = re.search(r"\$(\d+\.\d{4}) \((\d+\.\d) cpu-s\)\s*$", row)
        assert cost is not None, row
        assert cost.group(1) == "0.0000"
        assert float(cost.group(2)) > 0
