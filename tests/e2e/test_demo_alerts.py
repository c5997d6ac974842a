"""`ingestion-pipeline demo`'s hot call announces itself: one message on the Slack stand-in and
one signed webhook the receiver verified, and no other call sends anything; the call shows
both as sent. No full phone number or card digits leave in an alert."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.e2e.test_demo import CARD_FORMS


def test_the_hot_call_posts_one_slack_message_and_one_signed_webhook(
    demo: tuple[Path, str],
) -> None:
    workdir, stdout = demo
    slack = json.loads((workdir / "slack_messages.json").read_text())
    hooks = json.loads((workdir / "alert_webhooks.json").read_text())
    assert len(slack) == 1
    assert len(hooks) == 1
    assert "Alert webhook: 1 signed alert(s), signature verified" in stdout
    assert hooks[0]["call_id"] == "CALDEMO0001"
    assert hooks[0]["tier"] == "hot"
    with sqlite3.connect(workdir / "pipeline.db") as conn:
        rows = dict(conn.execute("SELECT call_id, alerts FROM calls").fetchall())
    assert {c for c, alerts in rows.items() if alerts} == {"CALDEMO0001"}
    statuses = [(a["destination"], a["status"]) for a in json.loads(rows["CALDEMO0001"])]
    assert statuses == [("slack", "sent"), ("webhook", "sent")]
    sent = json.dumps([slack, hooks])
    assert "3035550142" not in sent
    assert "***-***-0142" in sent
    assert not CARD_FORMS.search(sent)
