"""The command line's retention and erasure commands: `calls expire`, `calls delete`, `tenants
delete` and `deletions list`. Progress goes to stderr as it happens; what a script reads, to
stdout."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from domain.usecases.erasure import DeleteCallCommand, DeleteTenantCommand
from domain.usecases.retention import ExpireCommand
from entrypoints.container import Container
from entrypoints.presenters import counts_line, deletion_view


def actor() -> str:
    """Who runs the command, for the record of deletions: the operating system's user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name for this uid (a bare container)
        return "cli"


def add_call_parsers(calls: Any) -> None:
    expire = calls.add_parser(
        "expire",
        help="delete the audio and erase the transcripts and analyses past each tenant's"
        " retention (metadata and score stay; progress on stderr)",
    )
    expire.add_argument("tenant_id", nargs="?", help="one tenant (default: every tenant)")
    expire.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    delete = calls.add_parser(
        "delete", help="delete a call and everything held for it: row, jobs, audio (re-runnable)"
    )
    delete.add_argument("tenant_id")
    delete.add_argument("call_id")


def add_tenant_parsers(tenants: Any) -> None:
    delete = tenants.add_parser(
        "delete",
        help="delete a tenant and everything held for it: calls, jobs, audio, usage, API keys"
        " (re-runnable; progress on stderr)",
    )
    delete.add_argument("tenant_id")
    delete.add_argument("--confirm", required=True, help="the tenant's id again")


def add_parsers(commands: Any) -> None:
    deletions = commands.add_parser("deletions", help="the record of deletions")
    d = deletions.add_subparsers(dest="action", required=True)
    dlist = d.add_parser("list", help="who deleted what, and when, newest first")
    dlist.add_argument("tenant_id", nargs="?", help="one tenant's (default: all)")
    dlist.add_argument("--limit", type=int, default=100)
    dlist.add_argument("--json", action="store_true", help="JSON lines instead of text")


def handlers(
    args: argparse.Namespace, c: Container, progress: Callable[[str], None]
) -> Mapping[str, Callable[[], Awaitable[None]]]:
    """`progress`: where the lines that say how the work goes are written (stderr)."""

    async def calls_expire() -> None:
        command = ExpireCommand(args.tenant_id, args.dry_run, actor())
        report = await c.expire_calls()(command, progress)
        if report.dry_run:
            for item in report.calls:
                what = [
                    p
                    for p, on in (("recording", item.recording), ("transcript", item.content))
                    if on
                ]
                print(f"{item.tenant_id}  {item.call_id}  {' '.join(what)}")
        recordings = sum(1 for item in report.calls if item.recording)
        contents = sum(1 for item in report.calls if item.content)
        verb = "would expire" if report.dry_run else "expired"
        summary = f"{verb}: {recordings} recording(s), {contents} transcript(s) and analyses"
        if report.changed_meanwhile:
            summary += (
                f"; {report.changed_meanwhile} call(s) changed meanwhile, left for the next run"
            )
        progress(summary)

    async def calls_delete() -> None:
        deletion = await c.delete_call()(DeleteCallCommand(args.tenant_id, args.call_id, actor()))
        print(f"deleted {args.tenant_id} {args.call_id}: {counts_line(deletion.counts)}")

    async def tenants_delete() -> None:
        command = DeleteTenantCommand(args.tenant_id, args.confirm, actor())
        deletion = await c.delete_tenant()(command, progress)
        print(f"deleted tenant {args.tenant_id}: {counts_line(deletion.counts)}")
        if deletion.secrets:
            print(
                "left in the secret store (delete them there unless something else uses them): "
                + ", ".join(deletion.secrets)
            )

    async def deletions_list() -> None:
        for record in await c.list_deletions()(args.tenant_id, args.limit):
            view = deletion_view(record)
            if args.json:
                print(json.dumps(view))
            else:
                fields = [view["at"], view["actor"], view["action"], view["tenant_id"]]
                fields += [view["subject"]] if view["subject"] else []
                print("  ".join([*fields, counts_line(record.counts)]))

    return {
        "calls expire": calls_expire,
        "calls delete": calls_delete,
        "tenants delete": tenants_delete,
        "deletions list": deletions_list,
    }
