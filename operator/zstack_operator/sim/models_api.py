"""The model APIs at the REST layer and in the API pipeline.

AddModel (``POST /v1/ai/models``, key ``param``, top-level ``systemTags``/``userTags``),
UpdateModel (``PUT /v1/ai/models/{uuid}``, key ``updateModel``) and DeleteModel (``DELETE
/v1/ai/models/{uuid}?deleteMode=``) are asynchronous; QueryModel (``GET /v1/ai/models``) is
synchronous (ZSTACK-AI-LIFECYCLE.md 3). Tenancy is the model services' (``services_api``): a
model belongs to the account that added it, a normal account's queries show only its own, and
its Update or Delete of another's is ``ID.1002``, after the parameter and existence checks.
AddModel's ``modelServiceUuids`` must name services the caller may change (``SYS.1003``,
``ID.1002``); a taken ``resourceUuid`` is ``SYS.1000``. Accepted jobs are carried out by
``models_ops``. Routed by ``app``.
"""

from __future__ import annotations

import re

from aiohttp import web

from ..zstack.ai_models import MODEL_CENTER_VO, MODEL_VO, AddModelParam, UpdateModelParam
from ..zstack.models import UUID32_PATTERN, DeleteMode
from . import accounts
from .ai_inventory import model_inventory
from .ai_profiles import ADD_MODEL_FIELDS, MODEL_FIELDS, UPDATE_MODEL_FIELDS, UPDATE_MODEL_LENGTHS
from .ai_query import query_reply
from .auth import authenticate, credential, peek_account
from .errorcodes import already_exists, invalid_value, not_found
from .inventory import NESTED_FIELDS
from .query import InventorySchema
from .records import SERVICE_VO
from .request import ApiRequest
from .runtime import Prepared, SimContext, submit
from .schema import MODEL_CLASS
from .services_api import create_tags
from .state import new_uuid
from .tags_api import check_tag_uuids
from .validate import check, check_lengths, coerce

MODELS = InventorySchema(
    MODEL_CLASS, frozenset(MODEL_FIELDS), {"modelServiceRefs": NESTED_FIELDS["modelServiceRefs"]}
)


def _center(ctx: SimContext, uuid: str | None) -> None:
    if uuid is not None and uuid not in ctx.state.ai.centers:
        raise not_found("modelCenterUuid", uuid, MODEL_CENTER_VO)


async def add_model(ctx: SimContext, req: ApiRequest) -> web.Response:
    """POST /v1/ai/models (AddModel, asynchronous)."""
    body = req.json_body()
    cred = credential(ctx, req)
    param = req.param(body, "param")
    values = coerce(param, ADD_MODEL_FIELDS)
    tags = create_tags(body, param)
    if isinstance(values.get("resourceUuid"), str):
        ctx.counters.create_requests[values["resourceUuid"]] += 1

    def prepare() -> Prepared:
        params = check(values, ADD_MODEL_FIELDS, AddModelParam)
        _center(ctx, params["modelCenterUuid"])
        services = [ctx.state.services.get(u) for u in params.get("modelServiceUuids", [])]
        for uuid, rec in zip(params.get("modelServiceUuids", []), services, strict=True):
            if rec is None:
                raise not_found("modelServiceUuids", uuid, SERVICE_VO)
        check_tag_uuids(ctx, params.get("tagUuids"), peek_account(ctx.state, cred))
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        for rec in services:
            assert rec is not None
            accounts.check_service_owner(ctx, caller, rec)
        uuid = params.get("resourceUuid") or new_uuid()
        if uuid in ctx.state.ai.models or uuid in ctx.state.claims:
            raise already_exists(uuid, MODEL_VO)
        return Prepared({"uuid": uuid, "params": params, "owner": caller, **tags}, claim=uuid)

    return await submit(ctx, req, "AddModel", prepare)


async def update_model(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/ai/models/{uuid} with ``updateModel`` (asynchronous)."""
    cred = credential(ctx, req)
    values = coerce(req.param(req.json_body(), "updateModel"), UPDATE_MODEL_FIELDS)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        changes = check(values, UPDATE_MODEL_FIELDS, UpdateModelParam)
        check_lengths(changes, UPDATE_MODEL_LENGTHS)
        rec = ctx.state.ai.models.get(uuid)
        if rec is None:
            raise not_found("uuid", uuid, MODEL_VO)
        _center(ctx, changes.get("modelCenterUuid"))
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        accounts.check_owner(ctx, caller, uuid, rec.owner, MODEL_VO)
        return Prepared({"uuid": uuid, "changes": changes})

    return await submit(ctx, req, "UpdateModel", prepare)


async def delete_model(ctx: SimContext, req: ApiRequest) -> web.Response:
    """DELETE /v1/ai/models/{uuid}?deleteMode= (asynchronous)."""
    cred = credential(ctx, req)
    mode = req.query.get("deleteMode", DeleteMode.PERMISSIVE.value)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        if not re.match(UUID32_PATTERN, uuid):
            raise not_found("uuid", uuid, MODEL_VO)
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        modes = [m.value for m in DeleteMode]
        if mode not in modes:
            raise invalid_value("deleteMode", modes, mode)
        if (rec := ctx.state.ai.models.get(uuid)) is not None:
            accounts.check_owner(ctx, caller, uuid, rec.owner, MODEL_VO)
        return Prepared({"uuid": uuid, "deleteMode": mode})

    return await submit(ctx, req, "DeleteModel", prepare)


async def query_models(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/ai/models (QueryModel, synchronous; a normal account sees its own)."""
    return query_reply(
        ctx,
        req,
        ctx.state.ai.models,
        lambda rec: model_inventory(rec, ctx),
        MODELS,
        lambda rec: rec.owner,
    )
