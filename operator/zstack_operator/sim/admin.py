"""The simulator's admin API (``/_sim``, no auth, never counted or faulted).

Routes: ``GET /_sim/counters``, ``POST /_sim/counters/reset``, ``GET|PUT /_sim/faults``,
``POST /_sim/sessions/expire``, ``GET /_sim/jobs``, ``POST /_sim/jobs/release``,
``GET|POST /_sim/accounts``, ``POST /_sim/access-keys``, ``POST /_sim/tag-patterns``,
``GET /_sim/services``, ``GET /_sim/instance-groups``,
``POST /_sim/model-centers``, ``POST /_sim/models`` (real records with default fields, as the
APIs would make them) and ``POST /_sim/reset``; also the deployed instances' endpoints
(``endpoints``). Their typed
client, ``SimAdmin``, lives in ``admin_client`` and is re-exported here. Mounted by
``app.build_app``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from aiohttp import web

from ..zstack.models import UUID32_PATTERN
from . import accounts, endpoints
from .admin_client import AccessKey, SimAccount, SimAdmin, SimCounters, SimGroup, SimJob, SimService
from .ai_inventory import group_status
from .errorcodes import ApiError
from .faults import Faults
from .runtime import CONTEXT_KEY
from .state import new_uuid
from .tags_api import add_tag_pattern

__all__ = [
    "AccessKey",
    "SimAccount",
    "SimAdmin",
    "SimCounters",
    "SimGroup",
    "SimJob",
    "SimService",
    "add_routes",
]


def _ok(body: dict[str, Any]) -> web.Response:
    return web.json_response(body)


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    body = json.loads(text) if text.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("a JSON object is expected")
    return body


async def counters(request: web.Request) -> web.Response:
    """GET /_sim/counters."""
    ctx = request.app[CONTEXT_KEY]
    now = time.time()
    active = sum(1 for s in ctx.state.sessions.values() if s.expires_at > now)
    return _ok(ctx.counters.to_json(resources=len(ctx.state.services), sessions_active=active))


async def reset_counters(request: web.Request) -> web.Response:
    """POST /_sim/counters/reset: zero the counters; answers with the fresh counters."""
    request.app[CONTEXT_KEY].counters.reset()
    return await counters(request)


async def faults(request: web.Request) -> web.Response:
    """GET /_sim/faults; PUT merges the given knobs. Turning holdJobs off releases the jobs."""
    ctx = request.app[CONTEXT_KEY]
    if request.method == "PUT":
        was_holding = ctx.faults.hold_jobs
        try:
            ctx.faults.merge(await _json(request))
        except ValueError as exc:
            return _bad(str(exc))
        if was_holding and not ctx.faults.hold_jobs:
            ctx.jobs.release()
    return _ok(ctx.faults.to_json())


async def expire_sessions(request: web.Request) -> web.Response:
    """POST /_sim/sessions/expire: every session is expired from now on."""
    state = request.app[CONTEXT_KEY].state
    now = time.time()
    for session in list(state.sessions.values()):
        session.expires_at = min(session.expires_at, now)
        state.save_session(session)
    return _ok({"expired": len(state.sessions)})


async def jobs(request: web.Request) -> web.Response:
    """GET /_sim/jobs: every job not yet expired, with its state."""
    return _ok({"jobs": request.app[CONTEXT_KEY].jobs.listing()})


async def release_jobs(request: web.Request) -> web.Response:
    """POST /_sim/jobs/release: holding stops; every running job finishes now, due or not."""
    return _ok({"released": request.app[CONTEXT_KEY].jobs.release()})


async def access_keys(request: web.Request) -> web.Response:
    """POST /_sim/access-keys ``{"account"?: name}``: a new AccessKey pair.

    For ``ZStack <id>:<signature>`` auth, acting as that account (the admin when not named).
    """
    ctx = request.app[CONTEXT_KEY]
    try:
        name = (await _json(request)).get("account")
    except ValueError as exc:
        return _bad(str(exc))
    account = accounts.by_name(ctx, name) if name is not None else accounts.admin_account(ctx)
    if account is None:
        return _bad(f"no account called {name!r}")
    key_id, secret = secrets.token_hex(10).upper(), secrets.token_urlsafe(30)
    ctx.state.add_access_key(key_id, secret, account.uuid)
    return _ok({"accessKeyId": key_id, "accessKeySecret": secret, "accountUuid": account.uuid})


async def tag_patterns(request: web.Request) -> web.Response:
    """POST /_sim/tag-patterns ``{"account"?: name, "name"?}``: a tag pattern ``tagUuids`` names.

    Owned by that account (the admin when not named); only it and the admin may use it.
    """
    ctx = request.app[CONTEXT_KEY]
    try:
        body = await _json(request)
    except ValueError as exc:
        return _bad(str(exc))
    name, label = body.get("account"), body.get("name")
    account = accounts.by_name(ctx, name) if name is not None else accounts.admin_account(ctx)
    if account is None:
        return _bad(f"no account called {name!r}")
    if label is not None and not isinstance(label, str):
        return _bad("name must be a string")
    rec = add_tag_pattern(ctx, account.uuid, label)
    return _ok({"uuid": rec.uuid, "name": rec.name, "accountUuid": rec.owner})


async def account_list(request: web.Request) -> web.Response:
    """GET /_sim/accounts: every account, the admin first (never a password)."""
    ctx = request.app[CONTEXT_KEY]
    return _ok(
        {
            "accounts": [
                {"uuid": a.uuid, "name": a.name, "type": a.type} for a in accounts.all_accounts(ctx)
            ]
        }
    )


async def create_account(request: web.Request) -> web.Response:
    """POST /_sim/accounts ``{"name", "password"}`` (plain text): a new normal account."""
    ctx = request.app[CONTEXT_KEY]
    try:
        body = await _json(request)
    except ValueError as exc:
        return _bad(str(exc))
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not name.strip() or not isinstance(password, str):
        return _bad("name (a non-empty string) and password (a string) are required")
    try:
        rec = accounts.create(ctx, name.strip(), accounts.hash_password(password))
    except ApiError as exc:
        return _bad(exc.error.details or "account not created")
    return _ok({"uuid": rec.uuid, "name": rec.name})


async def services(request: web.Request) -> web.Response:
    """GET /_sim/services: every model service with its owner, whoever owns it."""
    state = request.app[CONTEXT_KEY].state
    return _ok(
        {
            "services": [
                {
                    "uuid": rec.uuid,
                    "name": rec.fields.get("name"),
                    "ownerAccountUuid": rec.owner,
                    "version": str(rec.version),
                }
                for rec in state.services.values()
            ]
        }
    )


async def instance_groups(request: web.Request) -> web.Response:
    """GET /_sim/instance-groups: every deployment with its owner and status, whoever owns it."""
    state = request.app[CONTEXT_KEY].state
    now = time.time()
    return _ok(
        {
            "groups": [
                {
                    "uuid": rec.uuid,
                    "name": rec.fields.get("name"),
                    "ownerAccountUuid": rec.owner,
                    "modelServiceUuid": rec.model_service_uuid,
                    "status": group_status(rec, now)[0],
                    "instanceUuids": [i["uuid"] for i in rec.instances],
                }
                for rec in state.ai.groups.values()
            ]
        }
    )


async def _add_uuid(request: web.Request, kind: str) -> web.Response:
    try:
        body = await _json(request)
    except ValueError as exc:
        return _bad(str(exc))
    uuid = body.get("uuid") or new_uuid()
    if not isinstance(uuid, str) or not re.match(UUID32_PATTERN, uuid):
        return _bad(f"uuid must be 32 lowercase hex characters, got {uuid!r}")
    request.app[CONTEXT_KEY].state.add_uuid(kind, uuid)
    return _ok({"uuid": uuid})


async def model_centers(request: web.Request) -> web.Response:
    """POST /_sim/model-centers ``{"uuid"?}``: a model center with default fields.

    The same record AddModelCenter makes (QueryModelCenter shows it), without a job; an
    existing uuid is left as it is.
    """
    return await _add_uuid(request, "center")


async def models(request: web.Request) -> web.Response:
    """POST /_sim/models ``{"uuid"?}``: a model of the admin's in the default center.

    The same record AddModel makes (QueryModel shows it to the admin), with default fields and
    without a job; an existing uuid is left as it is.
    """
    return await _add_uuid(request, "model")


async def reset(request: web.Request) -> web.Response:
    """POST /_sim/reset: back to the seed; counters zeroed and faults as at start.

    The ``--tenant`` accounts are created again (with new uuids), other accounts are gone.
    """
    ctx = request.app[CONTEXT_KEY]
    await ctx.jobs.clear()
    ctx.state.reset()
    accounts.ensure_tenants(ctx)
    ctx.counters.reset()
    fresh = Faults.from_config(ctx.config)
    ctx.faults.merge(fresh.to_json())
    return _ok({})


def add_routes(app: web.Application) -> None:
    """Mount the admin routes (before the API catch-all)."""
    app.router.add_get("/_sim/counters", counters)
    app.router.add_post("/_sim/counters/reset", reset_counters)
    app.router.add_route("GET", "/_sim/faults", faults)
    app.router.add_route("PUT", "/_sim/faults", faults)
    app.router.add_post("/_sim/sessions/expire", expire_sessions)
    app.router.add_get("/_sim/jobs", jobs)
    app.router.add_post("/_sim/jobs/release", release_jobs)
    app.router.add_get("/_sim/accounts", account_list)
    app.router.add_post("/_sim/accounts", create_account)
    app.router.add_post("/_sim/access-keys", access_keys)
    app.router.add_post("/_sim/tag-patterns", tag_patterns)
    app.router.add_get("/_sim/services", services)
    app.router.add_post("/_sim/model-centers", model_centers)
    app.router.add_post("/_sim/models", models)
    app.router.add_get("/_sim/instance-groups", instance_groups)
    app.router.add_post("/_sim/reset", reset)
    endpoints.add_routes(app)
