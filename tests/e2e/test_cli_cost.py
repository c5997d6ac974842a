"""The command line shows money as the HTTP API does: `calls show` prints the call's `cost`,
`stats` its tenant's money in JSON and as a line of text; a price file that cannot be used
stops `serve` at start with one line naming it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.e2e.process import ingestion_pipeline
from tests.e2e.test_cli import accept_vector_call, cli, write_tenant


def test_calls_show_and_stats_carry_the_money(tmp_path: Path) -> None:
    tenant = write_tenant(tmp_path)
    assert cli(tmp_path, "tenants", "create", "--file", str(tenant)).returncode == 0
    accept_vector_call(tmp_path)
    tenant_id = json.loads(tenant.read_text())["tenant_id"]
    [row] = [
        json.loads(line)
        for line in cli(tmp_path, "calls", "list", tenant_id, "--json").stdout.splitlines()
    ]
    shown = cli(tmp_path, "calls", "show", tenant_id, row["call_id"])
    assert shown.returncode == 0, shown.stderr
    # received, not processed yet: nothing consumed, nothing owed
    assert json.loads(shown.stdout)["cost"] == {"total_usd": 0.0, "currency": "USD", "items": []}
    stats = json.loads(cli(tmp_path, "stats", tenant_id, "--json").stdout)
    assert (stats["cost"]["total_usd"], stats["cost"]["currency"]) == (0.0, "USD")
    text = cli(tmp_path, "stats", tenant_id).stdout.splitlines()
    assert [line for line in text if line.startswith("cost ")] == [
        "cost            $0.0000 USD (none)"
    ]


def test_serve_refuses_a_price_file_it_cannot_use_in_one_line(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[llm."gemini-2.5-flash"]\ninput = -0.3\n')
    env = {
        **os.environ,
        "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PIPELINE_PRICES_FILE": str(prices),
    }
    for name in ("PIPELINE_OPERATOR_TOKEN", "K_SERVICE", "PUBSUB_EMULATOR_HOST"):
        env.pop(name, None)
    refused = ingestion_pipeline("serve", "--port", "0", env=env, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr == (
        f"ingestion-pipeline: PIPELINE_PRICES_FILE: {prices}:"
        ' llm."gemini-2.5-flash".input: -0.3 is not a price (a number, 0 or more)\n'
    )
