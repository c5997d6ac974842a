"""The operator's retention and erasure routes: delete a call, delete a tenant (the id repeated
in `confirm`), expire what retention no longer keeps (or list it: dry_run), read the record of
deletions. Errors are problem+json through the app's middleware."""

from __future__ import annotations

from aiohttp import web

from domain.errors import FieldError, ValidationFailed
from domain.usecases.erasure import DeleteCallCommand, DeleteTenantCommand
from domain.usecases.retention import ExpireCommand
from entrypoints.http.admin import query_limit, require_operator
from entrypoints.http.keys import CONTAINER
from entrypoints.presenters import deletion_view

ACTOR = "http:operator"  # the one operator token: who, as far as the service can tell


def _flag(text: str | None, name: str) -> bool:
    if text in (None, "", "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise ValidationFailed([FieldError(name, "true or false")], "query")


async def delete_call(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    tenant_id, call_id = request.match_info["tenant_id"], request.match_info["call_id"]
    deletion = await request.app[CONTAINER].delete_call()(
        DeleteCallCommand(tenant_id, call_id, ACTOR)
    )
    return web.json_response(
        {"tenant_id": tenant_id, "call_id": call_id, "deleted": dict(deletion.counts)}
    )


async def delete_tenant(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    tenant_id = request.match_info["tenant_id"]
    command = DeleteTenantCommand(tenant_id, request.query.get("confirm"), ACTOR)
    deletion = await request.app[CONTAINER].delete_tenant()(command)
    return web.json_response(
        {
            "tenant_id": tenant_id,
            "deleted": dict(deletion.counts),
            "secrets_left": list(deletion.secrets),
        }
    )


async def expire_calls(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    tenant_id = request.match_info["tenant_id"]
    dry_run = _flag(request.query.get("dry_run"), "dry_run")
    report = await request.app[CONTAINER].expire_calls()(ExpireCommand(tenant_id, dry_run, ACTOR))
    return web.json_response(
        {
            "tenant_id": tenant_id,
            "dry_run": report.dry_run,
            "calls": [
                {
                    "call_id": item.call_id,
                    "recording": item.recording,
                    "transcript": item.content,
                    "objects": item.objects,
                }
                for item in report.calls
            ],
            "changed_meanwhile": report.changed_meanwhile,
        }
    )


async def list_deletions(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    records = await request.app[CONTAINER].list_deletions()(
        request.query.get("tenant_id") or None, query_limit(request.query.get("limit"))
    )
    return web.json_response({"deletions": [deletion_view(r) for r in records]})


def add_routes(app: web.Application) -> None:
    app.router.add_delete("/v1/tenants/{tenant_id}", delete_tenant)
    app.router.add_delete("/v1/tenants/{tenant_id}/calls/{call_id}", delete_call)
    app.router.add_post("/v1/tenants/{tenant_id}/expire", expire_calls)
    app.router.add_get("/v1/deletions", list_deletions)
