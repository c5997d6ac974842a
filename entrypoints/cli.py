"""`ingestion-pipeline`: serve, migrate, and administer tenants and calls.

Errors print one readable line to stderr and exit non-zero (EXIT_CODES). Output a script reads
goes to stdout; progress, warnings and logs to stderr."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web

from domain.errors import DomainError
from domain.paging import utc_time
from domain.stages import Stage
from domain.usecases.calls import ListCallsQuery
from domain.usecases.reanalyze import ReanalyzeCommand
from domain.usecases.reconcile import ReconcileCommand, ReconcileReport
from domain.usecases.redact_audio import RedactAudioCommand
from domain.usecases.reprocess import ReprocessCommand, parse_stage
from domain.usecases.stats import StatsQuery
from entrypoints import cli_retention, startup
from entrypoints.config import ConfigError, Settings, load_settings, log_level
from entrypoints.config_view import settings_lines
from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.loops import loop_name, new_event_loop
from entrypoints.migrations import migrate_database
from entrypoints.presenters import (
    call_summary,
    call_view,
    stats_lines,
    stats_view,
    tenant_view,
)

EXIT_CODES = """exit codes:
  0    done
  1    the request failed: an unknown tenant or call, a refusal or failure of a service
       (CallRail, the database), calls that did not complete (demo)
  2    the command line or the configuration is wrong, or serve refused to start
  130  interrupted (Ctrl-C)"""
_log = logging.getLogger("ingestion_pipeline.cli")


class UsageError(Exception):
    pass


def _version() -> str:
    try:
        return metadata.version("ingestion-pipeline")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return str(attrs.fields(Settings).version.default)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _read_document(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} must hold a JSON object")
    return document


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _since(text: str) -> datetime:
    try:
        return utc_time(text)
    except ValueError:
        raise UsageError(
            f"--since {text!r}: give a time with its offset, like 2026-03-01T00:00:00Z"
        ) from None


def _print_reconciled(report: ReconcileReport) -> None:
    """A line a call, then the summary."""
    for outcome, call_ids in (("ingested", report.ingested), ("known", report.known)):
        for call_id in call_ids:
            print(f"{outcome:<9}{call_id}")
    for call_id in report.recent:
        print(f"recent   {call_id}: its webhook may still come; the next run takes it if not")
    for call_id in report.foreign:
        print(f"skipped  {call_id}: a call of another CallRail company")
    for call_id, reason in report.failed:
        print(f"failed   {call_id}: {reason}")
    print(
        f"{report.tenant_id}: {report.seen} call(s) listed since {report.since.isoformat()}:"
        f" {len(report.ingested)} ingested, {len(report.known)} already known,"
        f" {len(report.recent)} too recent, {len(report.foreign)} of another company,"
        f" {len(report.failed)} failed"
    )


async def _with_database(
    container: Container, work: Callable[[], Awaitable[None]], *, migrated: bool
) -> None:
    db = container.database()
    await db.open()
    try:
        # One machine needs no set-up step: SQLite's schema comes with the first command.
        if migrated and container.settings().database.backend == "sqlite":
            await migrate_database(container)
        await work()
    finally:
        await db.close()


def _command(args: argparse.Namespace, container: Container) -> Callable[[], Awaitable[None]]:
    c = container

    async def migrate_db() -> None:
        applied = await migrate_database(c, lambda name: print(f"applying {name}", flush=True))
        print(
            f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else "")
        )

    async def tenants_create() -> None:
        _print_json(tenant_view(await c.create_tenant()(_read_document(args.file))))

    async def tenants_update() -> None:
        _print_json(tenant_view(await c.update_tenant()(args.tenant_id, _read_document(args.file))))

    async def tenants_show() -> None:
        _print_json(tenant_view(await c.get_tenant()(args.tenant_id)))

    async def tenants_list() -> None:
        tenants = [tenant_view(t) for t in await c.list_tenants()()]
        if args.json:
            for t in tenants:
                print(json.dumps(t))
            return
        rows = [
            {
                "tenant_id": t["tenant_id"],
                "name": t["name"],
                "status": t["status"],
                "company": t["config"]["callrail_company_id"],
                "crm": t["config"]["crm_config"]["type"],
            }
            for t in tenants
        ]
        _print_table(rows, ["tenant_id", "name", "status", "company", "crm"])

    async def tenants_api_key() -> None:
        key = await c.issue_api_key()(args.tenant_id)
        print(key)
        print("Store this key now: it is shown once and kept only as a hash.", file=sys.stderr)

    async def calls_list() -> None:
        since = _since(args.since) if args.since else None
        query = ListCallsQuery(args.tenant_id, args.status, since, args.limit, args.page_token)
        page = await c.list_calls()(query)
        rows = [call_summary(call) for call in page.calls]
        if args.json:
            for r in rows:
                print(json.dumps(r))
        else:
            columns = ["call_id", "status", "stage", "received_at", "intent", "score", "tier"]
            _print_table(rows, columns)
        if page.next_cursor:  # on stderr: stdout stays the rows, for a script to read
            _to_stderr(f"next page: --page-token {page.next_cursor}")

    async def calls_show() -> None:
        call = await c.get_call()(args.tenant_id, args.call_id)
        _print_json(call_view(call, c.call_cost()(call)))

    async def calls_reprocess() -> None:
        command = ReprocessCommand(args.tenant_id, args.call_id, parse_stage(args.from_stage))
        call = await c.reprocess_call()(command)
        print(f"{call.call_id}: queued again from after {call.stage}; `serve` processes it")

    async def calls_redact_audio() -> None:
        settings = c.settings()
        if settings.transcriber == "google-speech" and (
            settings.cloud.speech_processing == "dynamic_batch"
        ):  # refused before anything is paid for: the use case cannot wait a day per call
            raise UsageError(
                "calls redact-audio needs each transcript at once: run it with"
                " PIPELINE_SPEECH_PROCESSING=standard (dynamic batching answers within 24 h)"
            )
        command = RedactAudioCommand(args.tenant_id, _since(args.since) if args.since else None)
        report = await c.redact_stored_audio()(command, _to_stderr)
        for call_id, why in report.failed:
            print(f"{call_id}: not redacted: {why}", file=sys.stderr)
        print(
            f"{args.tenant_id}: {report.redacted} recording(s) redacted, {report.already}"
            f" already redacted, {len(report.failed)} failed"
        )
        if report.failed:
            raise SystemExit(1)

    async def calls_reanalyze() -> None:
        stage = parse_stage(args.from_stage) or Stage.ANALYZED
        since = _since(args.since) if args.since else None
        report = await c.reanalyze_calls()(
            ReanalyzeCommand(args.tenant_id, since, stage), _to_stderr
        )
        for call_id, why in report.failed:
            print(f"{call_id}: failed: {why}", file=sys.stderr)
        print(
            f"{args.tenant_id}: {report.done} call(s) reanalysed, {report.already} already"
            f" reanalysed with these settings, {report.skipped} skipped (not completed),"
            f" {report.queued} queued for the workers, {len(report.failed)} failed"
        )
        if report.failed:
            raise SystemExit(1)

    async def stats() -> None:
        query = StatsQuery(args.tenant_id, _since(args.since) if args.since else None)
        view = stats_view(await c.tenant_stats()(query))
        print(json.dumps(view, indent=2) if args.json else "\n".join(stats_lines(view)))

    async def sweep() -> None:
        report = await c.sweep()()
        for tenant_id, call_id in report.requeued:
            print(f"requeued {tenant_id} {call_id}")
        print(f"{len(report.requeued)} stalled call(s) requeued", file=sys.stderr)

    async def reconcile() -> None:
        command = ReconcileCommand(args.tenant_id, _since(args.since))
        _print_reconciled(await c.reconcile_calls()(command, _to_stderr))

    handlers: dict[str, Callable[[], Awaitable[None]]] = {
        "migrate": migrate_db,
        "tenants create": tenants_create,
        "tenants update": tenants_update,
        "tenants show": tenants_show,
        "tenants list": tenants_list,
        "tenants api-key": tenants_api_key,
        "calls list": calls_list,
        "stats": stats,
        "calls show": calls_show,
        "calls reprocess": calls_reprocess,
        "calls redact-audio": calls_redact_audio,
        "calls reanalyze": calls_reanalyze,
        "sweep": sweep,
        "reconcile": reconcile,
        # calls expire and delete, tenants delete, deletions list
        **cli_retention.handlers(args, c, _to_stderr),
    }
    key = " ".join(p for p in (args.command, getattr(args, "action", None)) if p)
    return handlers[key]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingestion-pipeline",
        description="CallRail calls in, scored leads out.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=int, default=None, help="port (default $PORT or 8080)")
    commands.add_parser("migrate", help="apply database migrations, naming each as it starts")
    commands.add_parser("config", help="print every effective setting, secrets masked")

    tenants = commands.add_parser("tenants", help="tenant administration")
    t = tenants.add_subparsers(dest="action", required=True)
    create = t.add_parser("create", help="create a tenant from a tenant document")
    create.add_argument("--file", required=True, help="tenant.json, or - for stdin")
    tlist = t.add_parser("list", help="list tenants")
    tlist.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    show = t.add_parser("show", help="show a tenant (secrets masked)")
    show.add_argument("tenant_id")
    update = t.add_parser("update", help="merge a partial tenant document into a tenant")
    update.add_argument("tenant_id")
    update.add_argument("--file", required=True, help="patch.json, or - for stdin")
    key = t.add_parser("api-key", help="issue a tenant-scoped API key (printed once)")
    key.add_argument("tenant_id")
    cli_retention.add_tenant_parsers(t)

    calls = commands.add_parser("calls", help="inspect calls")
    cl = calls.add_subparsers(dest="action", required=True)
    clist = cl.add_parser("list", help="list a tenant's calls, newest first")
    clist.add_argument("tenant_id")
    clist.add_argument("--status", help="received, processing, completed, failed, or a stage name")
    clist.add_argument("--limit", type=int, default=50)
    clist.add_argument("--since", help="only calls received since: ISO 8601 time with offset")
    clist.add_argument(
        "--page-token", help="the next page: the token the previous page printed on stderr"
    )
    clist.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    cshow = cl.add_parser("show", help="show one call in full")
    cshow.add_argument("tenant_id")
    cshow.add_argument("call_id")
    crep = cl.add_parser("reprocess", help="run a finished or failed call again")
    crep.add_argument("tenant_id")
    crep.add_argument("call_id")
    crep.add_argument(
        "--from-stage",
        help="first stage to redo: RECORDING_STORED, TRANSCRIBED, ANALYZED, SCORED or SYNCED"
        " (default: the stage that failed, or the whole pipeline)",
    )
    credact = cl.add_parser(
        "redact-audio",
        help="silence the card numbers in recordings stored before audio redaction (resumable)",
    )
    credact.add_argument("tenant_id")
    credact.add_argument("--since", help="only calls received since: ISO 8601 time with offset")
    creanalyze = cl.add_parser(
        "reanalyze",
        help="analyse a tenant's completed calls again (e.g. for new questions), then score and"
        " sync them; progress on stderr",
    )
    creanalyze.add_argument("tenant_id")
    creanalyze.add_argument("--since", help="only calls received since: ISO 8601 time with offset")
    creanalyze.add_argument(
        "--from-stage", help="first stage to redo: ANALYZED (default), SCORED or SYNCED"
    )
    stats = commands.add_parser("stats", help="a tenant's figures and usage since a time")
    stats.add_argument("tenant_id")
    stats.add_argument("--since", help="ISO 8601 time with offset (default: 30 days ago)")
    stats.add_argument("--json", action="store_true", help="the JSON document instead of text")
    cli_retention.add_call_parsers(cl)
    cli_retention.add_parsers(commands)
    commands.add_parser("sweep", help="re-queue calls stuck in an unfinished stage")
    rec = commands.add_parser(
        "reconcile",
        help="ingest the calls CallRail lists that never arrived by webhook (progress on stderr)",
    )
    rec.add_argument("tenant_id")
    rec.add_argument(
        "--since", required=True, help="ISO 8601 time with offset, e.g. 2026-03-01T00:00:00Z"
    )
    emulated = commands.add_parser(
        "run-emulated", help="serve the Google Cloud shape on local emulators and stand-ins"
    )
    emulated.add_argument("--port", type=int, default=8080)
    demo = commands.add_parser(
        "demo", help="process sample calls end to end on a throwaway service"
    )
    demo.add_argument(
        "--keep", metavar="DIR", help="keep the demo's database, audio and logs in DIR"
    )
    return parser


def _demo(args: argparse.Namespace) -> int:
    from entrypoints.demo.runner import run_demo  # the demo's stand-ins load only for the demo

    if args.keep:
        workdir = Path(args.keep)
        workdir.mkdir(parents=True, exist_ok=True)
        documents = asyncio.run(run_demo(workdir, sys.stdout))
        print(f"\nkept in {workdir}: pipeline.db, audio/, demo.log, hubspot.json")
    else:
        with tempfile.TemporaryDirectory(prefix="ingestion-demo-") as tmp:
            documents = asyncio.run(run_demo(Path(tmp), sys.stdout))
    failed = [d["call_id"] for d in documents if d["stage"] != "COMPLETED"]
    if failed:
        print(f"ingestion-pipeline: calls did not complete: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _serve(args: argparse.Namespace, container: Container) -> None:
    """One process: the HTTP app and the in-process workers (and, for Whisper, its worker
    process). More than one machine's worth of calls is the Google Cloud shape's job."""
    settings = container.settings()
    configure_logging(settings.log_level)
    refused = startup.refusal(settings, os.environ)
    if refused:
        raise UsageError(f"serve refused to start: {refused}")
    for line in startup.warnings(settings, os.environ):
        _log.warning("%s", line, extra={"event": "startup_warning"})
    loop_name(settings.event_loop)  # uvloop asked for and missing: said now, before anything
    port = args.port if args.port is not None else settings.port
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    try:  # bound before anything starts, so a port in use is one line, not a traceback
        sock = socket.create_server((args.host, port), family=family, backlog=1024)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise UsageError(f"cannot listen on {args.host}:{port}: {why}") from None
    app = create_app(container)
    _tune_gc()
    web.run_app(
        app, sock=sock, access_log=None, print=None, loop=new_event_loop(settings.event_loop)
    )


def _tune_gc() -> None:
    """Once the app is built: what exists now lives as long as the process, so it leaves the
    collector's generations (gc.freeze), and a young collection waits for 10,000 new objects
    instead of 700. A request's garbage is freed by reference counting; the frequent
    collections found almost nothing and cost about a tenth of a webhook's CPU."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def _config(settings: Settings) -> None:
    for line in settings_lines(settings):
        print(line)
    for line in startup.warnings(settings, os.environ):
        _to_stderr(f"warning: {line}")


def main(argv: Sequence[str] | None = None, container: Container | None = None) -> int:
    """`container`: one already built (a test's, with an adapter overridden) instead of one
    from the environment's settings."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "run-emulated":
            from entrypoints.emulated import run_emulated

            configure_logging(log_level(os.environ))
            asyncio.run(run_emulated(args.port, sys.stdout))
            return 0
        settings = container.settings() if container else load_settings(os.environ)
        if args.command == "config":
            _config(settings)
            return 0
        container = container or build_container(settings)
        if args.command == "serve":
            _serve(args, container)
            return 0
        # A command's output is stdout's; its warnings are readable lines on stderr, and more
        # only when PIPELINE_LOG_LEVEL asks.
        explicit = os.environ.get("PIPELINE_LOG_LEVEL", "").strip()
        configure_logging(settings.log_level if explicit else "warning", plain_to=sys.stderr)
        work = _command(args, container)
        asyncio.run(_with_database(container, work, migrated=args.command != "migrate"))
        return 0
    except (ConfigError, UsageError) as exc:
        print(f"ingestion-pipeline: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"ingestion-pipeline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
