"""The model-center APIs at the REST layer and in the API pipeline.

AddModelCenter (``POST /v1/ai/model-centers``, key ``param``), UpdateModelCenter (``PUT
/v1/ai/model-centers/{uuid}``, key ``updateModelCenter``) and DeleteModelCenter (``DELETE
/v1/ai/model-centers/{uuid}``, no ``deleteMode``) are asynchronous; QueryModelCenter (``GET
/v1/ai/model-centers``) is synchronous (ZSTACK-AI-LIFECYCLE.md 1-2). The pipeline runs in
ZStack's order: parameters (``SYS.1007``: required, types, Update's ``maxLength`` 255), the
referenced uuids (``SYS.1003``), the credential, then the simulator's choice that model centers
are infrastructure: only the built-in admin may add, change or delete one (``ID.1002 ... is
admin only``), while every account sees every center. A taken ``resourceUuid`` is ``SYS.1000``.
Accepted jobs are carried out by ``models_ops``. Routed by ``app``.
"""

from __future__ import annotations

import re

from aiohttp import web

from ..zstack.ai_models import MODEL_CENTER_VO, AddModelCenterParam, UpdateModelCenterParam
from ..zstack.models import UUID32_PATTERN
from . import accounts
from .ai_inventory import center_inventory
from .ai_profiles import (
    ADD_CENTER_FIELDS,
    CENTER_FIELDS,
    UPDATE_CENTER_FIELDS,
    UPDATE_CENTER_LENGTHS,
)
from .ai_query import query_reply
from .auth import Credential, authenticate, credential, peek_account
from .errorcodes import admin_only, already_exists, not_found
from .query import InventorySchema
from .request import ApiRequest
from .runtime import Prepared, SimContext, submit
from .schema import MODEL_CENTER_CLASS
from .state import new_uuid
from .tags_api import check_tag_uuids
from .validate import check, check_lengths, coerce

CENTERS = InventorySchema(MODEL_CENTER_CLASS, frozenset(CENTER_FIELDS))
#: The message classes ``admin only`` errors name (the closed AI module's, presumed).
_MSG = "org.zstack.ai.message.API{}ModelCenterMsg"


def _admin(ctx: SimContext, cred: Credential, verb: str) -> str:
    caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
    if not accounts.is_admin(caller):
        raise admin_only(_MSG.format(verb))
    return caller


async def add_model_center(ctx: SimContext, req: ApiRequest) -> web.Response:
    """POST /v1/ai/model-centers (AddModelCenter, asynchronous)."""
    cred = credential(ctx, req)
    values = coerce(req.param(req.json_body(), "param"), ADD_CENTER_FIELDS)
    if isinstance(values.get("resourceUuid"), str):
        ctx.counters.create_requests[values["resourceUuid"]] += 1

    def prepare() -> Prepared:
        params = check(values, ADD_CENTER_FIELDS, AddModelCenterParam)
        check_tag_uuids(ctx, params.get("tagUuids"), peek_account(ctx.state, cred))
        _admin(ctx, cred, "Add")
        uuid = params.get("resourceUuid") or new_uuid()
        if uuid in ctx.state.ai.centers or uuid in ctx.state.claims:
            raise already_exists(uuid, MODEL_CENTER_VO)
        return Prepared({"uuid": uuid, "params": params}, claim=uuid)

    return await submit(ctx, req, "AddModelCenter", prepare)


async def update_model_center(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/ai/model-centers/{uuid} with ``updateModelCenter`` (asynchronous)."""
    cred = credential(ctx, req)
    values = coerce(req.param(req.json_body(), "updateModelCenter"), UPDATE_CENTER_FIELDS)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        changes = check(values, UPDATE_CENTER_FIELDS, UpdateModelCenterParam)
        check_lengths(changes, UPDATE_CENTER_LENGTHS)
        if uuid not in ctx.state.ai.centers:
            raise not_found("uuid", uuid, MODEL_CENTER_VO)
        _admin(ctx, cred, "Update")
        return Prepared({"uuid": uuid, "changes": changes})

    return await submit(ctx, req, "UpdateModelCenter", prepare)


async def delete_model_center(ctx: SimContext, req: ApiRequest) -> web.Response:
    """DELETE /v1/ai/model-centers/{uuid} (asynchronous; no ``deleteMode``)."""
    cred = credential(ctx, req)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        # successIfResourceNotExisting, as for model services: a missing uuid is success.
        if not re.match(UUID32_PATTERN, uuid):
            raise not_found("uuid", uuid, MODEL_CENTER_VO)
        _admin(ctx, cred, "Delete")
        return Prepared({"uuid": uuid})

    return await submit(ctx, req, "DeleteModelCenter", prepare)


async def query_model_centers(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/ai/model-centers (QueryModelCenter, synchronous; every account sees all)."""
    return query_reply(
        ctx, req, ctx.state.ai.centers, lambda rec: center_inventory(rec, ctx), CENTERS, None
    )
