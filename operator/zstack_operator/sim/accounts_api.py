"""The account APIs: CreateAccount (admin only) and QueryAccount.

CreateAccount (``POST /v1/accounts``, key ``params``, asynchronous; ZSTACK-AI-LIFECYCLE.md 8.5)
takes ``name`` and ``password`` (both required, at most 255 characters; the password is stored
as sent, i.e. the SHA-512 hex login will send), ``type`` (``Normal`` by default, or
``SystemAdmin``), ``description`` (at most 2048), ``resourceUuid`` and ``tagUuids``. The
pipeline checks the parameters (``SYS.1007``, trimmed first; ``tagUuids`` ``SYS.1003``), then
the credential, then that the caller is the built-in admin (``ID.1002 request api[...] is
admin only``), then that the name is free (``SYS.1007``).
QueryAccount (``GET /v1/accounts[/{uuid}]``) shows a normal account only itself and the admin
every account. Passwords never appear in a reply, a log line or an error. Routed by ``app``;
the job is registered by ``register``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from aiohttp import web

from ..zstack.models import ZSTACK_UUID_PATTERN
from . import accounts
from .auth import authenticate, credential, peek_account
from .errorcodes import (
    MSG_CREATE_ACCOUNT,
    admin_only,
    already_exists,
    invalid_resource_uuid,
    invalid_value,
    mandatory,
    too_long,
)
from .inventory import ACCOUNT_FIELDS, account_inventory
from .query import InventorySchema, flat_schema, run_query, spec_for
from .request import ApiRequest
from .runtime import Prepared, SimContext, submit, sync_call
from .tags_api import check_tag_uuids, tag_lookup
from .validate import FieldSpec, coerce, java_trim

ACCOUNT_CLASS = "org.zstack.header.identity.AccountInventory"
ACCOUNTS = InventorySchema(ACCOUNT_CLASS, ACCOUNT_FIELDS)
_FIELDS = (
    FieldSpec("name", "str", True),
    FieldSpec("password", "str", True),
    FieldSpec("type", "enum", valid=accounts.ACCOUNT_TYPES),
    FieldSpec("description", "str"),
    FieldSpec("resourceUuid", "str"),
    FieldSpec("tagUuids", "str_list"),
)
_MAX_LENGTHS = {"name": 255, "password": 255, "description": 2048}


def _check(values: dict[str, Any]) -> dict[str, Any]:
    """``ApiMessageParamValidator`` for CreateAccount; returns the trimmed values."""
    params = {k: java_trim(v) if isinstance(v, str) else v for k, v in values.items()}
    for spec in _FIELDS:
        value = params.get(spec.name)
        if value is None:
            if spec.required:
                raise mandatory(spec.name)
            continue
        limit = _MAX_LENGTHS.get(spec.name)
        if limit is not None and len(value) > limit:
            raise too_long(spec.name, limit, value)
        if spec.valid and value not in spec.valid:
            raise invalid_value(spec.name, spec.valid, value)
    uuid = params.get("resourceUuid")
    if uuid is not None and not re.match(ZSTACK_UUID_PATTERN, uuid):
        raise invalid_resource_uuid(uuid)
    return params


async def create_account(ctx: SimContext, req: ApiRequest) -> web.Response:
    """POST /v1/accounts with ``params`` (CreateAccount, asynchronous, admin only)."""
    body = req.json_body()
    cred = credential(ctx, req)
    values = coerce(req.param(body, "params"), _FIELDS)

    def prepare() -> Prepared:
        params = _check(values)
        check_tag_uuids(ctx, params.get("tagUuids"), peek_account(ctx.state, cred))
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        if not accounts.is_admin(caller):
            raise admin_only(MSG_CREATE_ACCOUNT)
        if accounts.by_name(ctx, params["name"]) is not None:
            raise accounts.name_taken(params["name"])
        uuid = params.get("resourceUuid")
        if uuid is not None and accounts.by_uuid(ctx, uuid) is not None:
            raise already_exists(uuid, "AccountVO")
        return Prepared({"params": params})

    return await submit(ctx, req, "CreateAccount", prepare)


def _create(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    # Another CreateAccount of the same name may have finished while this one ran.
    params = payload["params"]
    uuid = params.get("resourceUuid")
    if uuid is not None and accounts.by_uuid(ctx, uuid) is not None:
        raise already_exists(uuid, "AccountVO")
    rec = accounts.create(
        ctx,
        params["name"],
        params["password"],
        account_type=params.get("type") or accounts.NORMAL,
        uuid=uuid,
        description=params.get("description"),
    )
    return 200, {"inventory": account_inventory(rec, ctx.clock)}


async def query_accounts(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/accounts[/{uuid}] (QueryAccount, synchronous): a normal account sees itself."""
    cred = credential(ctx, req)
    spec = spec_for(req.vars.get("uuid"), req.query.items())

    def reply() -> dict[str, Any]:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        if accounts.is_admin(caller):
            records = accounts.all_accounts(ctx)
        else:
            records = [a for a in (accounts.by_uuid(ctx, caller),) if a is not None]
        inventories = (account_inventory(rec, ctx.clock) for rec in records)
        result = run_query(spec, inventories, ACCOUNTS, tag_lookup(ctx), ctx.clock.zone)
        flat_schema(result, ACCOUNT_CLASS)
        return result

    return sync_call(reply)


def register(ctx: SimContext) -> None:
    """Make the job manager carry out CreateAccount jobs."""
    ctx.jobs.register("CreateAccount", functools.partial(_create, ctx))
