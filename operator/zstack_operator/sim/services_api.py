"""The model-service APIs at the REST layer and in the API pipeline.

Each handler does what ZStack's REST server does before a message exists (body and header
parsing, type checks: plain-text 400s) and hands ``runtime.submit`` a ``prepare`` step that is
the API pipeline: credential, parameter validation and the lookups that decide whether the job
is accepted. Accepted jobs are carried out by ``services_ops``. The query API is synchronous and
answers here. Tenancy (``accounts``): a service belongs to the account that added it; a normal
account's queries show only its own services (``q=__userTag__=...`` is ANDed with that), and
its Update, Delete, Bind and Unbind of another's service fail with ``ID.1002`` after the
parameter and existence checks, as ZStack's ``AccountAPIRequestChecker`` runs after
``ApiParamValidator``. Parameter validation (``SYS.1007``) and the referenced uuids
(``SYS.1003``, ``tagUuids`` included) come before the credential is evaluated (``ID.1001``),
as ``ApiParamValidator`` runs before ``AuthorizationManager`` (ZSTACK-API.md section 10 row
5). Fields come from the simulated release (``profiles``). Routed by ``app``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from ..zstack.models import (
    UUID32_PATTERN,
    AddModelServiceParam,
    DeleteMode,
    UpdateModelServiceParam,
)
from . import accounts
from .auth import authenticate, credential, peek_account
from .errorcodes import RestError, already_exists, invalid_value, not_found
from .inventory import service_inventory
from .query import candidate_uuids, model_services_schema, run_query, spec_for
from .records import SERVICE_VO
from .request import ApiRequest
from .runtime import Prepared, SimContext, submit, sync_call
from .schema import MODEL_SERVICE_CLASS, MODEL_SERVICE_NESTED, inventories_schema
from .state import ServiceRecord, new_uuid
from .tags_api import check_tag_uuids, tag_lookup
from .validate import check, coerce


def create_tags(body: dict[str, Any], param: dict[str, Any]) -> dict[str, list[str]]:
    """systemTags/userTags: top level of the body (REST server) or inside the param (Java SDK)."""
    out: dict[str, list[str]] = {}
    for key in ("systemTags", "userTags"):
        value = body.get(key, param.get(key))
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            # RestServer casts the value to List<String>: anything else throws, a 500.
            raise RestError(500, f"java.lang.ClassCastException: {key} is not a list of strings")
        out[key] = value
    return out


def _check_references(ctx: SimContext, params: dict[str, Any]) -> None:
    zone = params.get("zoneUuid")
    if zone is not None and zone not in ctx.state.zones:
        raise not_found("zoneUuid", zone, "ZoneVO")
    center = params["modelCenterUuid"]
    if center not in ctx.state.model_centers:
        raise not_found("modelCenterUuid", center, "ModelCenterVO")
    for model in params.get("modelUuids", []):
        if model not in ctx.state.models:
            raise not_found("modelUuids", model, "ModelVO")


async def add_model_service(ctx: SimContext, req: ApiRequest) -> web.Response:
    """POST /v1/ai/model-services (AddModelService, asynchronous)."""
    body = req.json_body()
    cred = credential(ctx, req)
    param = req.param(body, "param")
    values = coerce(param, ctx.profile.add_fields)
    tags = create_tags(body, param)
    if isinstance(values.get("resourceUuid"), str):
        ctx.counters.create_requests[values["resourceUuid"]] += 1

    def prepare() -> Prepared:
        # ApiParamValidator (fields, referenced uuids) runs before the session is evaluated.
        params = check(values, ctx.profile.add_fields, AddModelServiceParam)
        _check_references(ctx, params)
        check_tag_uuids(ctx, params.get("tagUuids"), peek_account(ctx.state, cred))
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        uuid = params.get("resourceUuid") or new_uuid()
        # Whoever owns it: the text names only the uuid the caller sent itself.
        if uuid in ctx.state.services or uuid in ctx.state.claims:
            raise already_exists(uuid, SERVICE_VO)
        return Prepared({"uuid": uuid, "params": params, "owner": caller, **tags}, claim=uuid)

    return await submit(ctx, req, "AddModelService", prepare)


async def update_model_service(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/ai/model-services/{uuid} with ``updateModelService`` (asynchronous)."""
    body = req.put_body()
    # The URL is shared with DeployModelService: the body key chooses the API.
    if "updateModelService" not in body:
        raise RestError(400, f"the body doesn't contain action mapping to the URL[{req.path}]")
    cred = credential(ctx, req)
    values = coerce(req.param(body, "updateModelService"), ctx.profile.update_fields)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        changes = check(values, ctx.profile.update_fields, UpdateModelServiceParam)
        rec = ctx.state.services.get(uuid)
        if rec is None:
            raise not_found("uuid", uuid, SERVICE_VO)
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        accounts.check_service_owner(ctx, caller, rec)
        return Prepared({"uuid": uuid, "changes": changes})

    return await submit(ctx, req, "UpdateModelService", prepare)


async def delete_model_service(ctx: SimContext, req: ApiRequest) -> web.Response:
    """DELETE /v1/ai/model-services/{uuid}?deleteMode= (asynchronous)."""
    cred = credential(ctx, req)
    mode = req.query.get("deleteMode", DeleteMode.PERMISSIVE.value)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        # successIfResourceNotExisting: a well-formed missing uuid is a successful delete.
        if not re.match(UUID32_PATTERN, uuid):
            raise not_found("uuid", uuid, SERVICE_VO)
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        # deleteMode has no @APIParam: the handler, after the pipeline, refuses a wrong one.
        modes = [m.value for m in DeleteMode]
        if mode not in modes:
            raise invalid_value("deleteMode", modes, mode)
        if (rec := ctx.state.services.get(uuid)) is not None:
            accounts.check_service_owner(ctx, caller, rec)
        return Prepared({"uuid": uuid, "deleteMode": mode})

    return await submit(ctx, req, "DeleteModelService", prepare)


async def _model_binding(ctx: SimContext, req: ApiRequest, api: str) -> web.Response:
    if req.method == "POST":
        req.param(req.json_body(), "param")  # may be absent or {}, but must be an object
    cred = credential(ctx, req)
    model, service = req.vars["modelUuid"], req.vars["modelServiceUuid"]

    def prepare() -> Prepared:
        if model not in ctx.state.models:
            raise not_found("modelUuid", model, "ModelVO")
        rec = ctx.state.services.get(service)
        if rec is None:
            raise not_found("modelServiceUuid", service, SERVICE_VO)
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        accounts.check_service_owner(ctx, caller, rec)
        return Prepared({"modelUuid": model, "modelServiceUuid": service})

    return await submit(ctx, req, api, prepare)


async def bind_model(ctx: SimContext, req: ApiRequest) -> web.Response:
    """POST /v1/ai/models/{modelUuid}/model-services/{modelServiceUuid} (asynchronous)."""
    return await _model_binding(ctx, req, "BindModelToService")


async def unbind_model(ctx: SimContext, req: ApiRequest) -> web.Response:
    """DELETE /v1/ai/models/{modelUuid}/model-services/{modelServiceUuid} (asynchronous)."""
    return await _model_binding(ctx, req, "UnbindModelFromService")


async def query_model_services(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/ai/model-services[/{uuid}] (QueryModelService, synchronous)."""
    cred = credential(ctx, req)
    spec = spec_for(req.vars.get("uuid"), req.query.items())

    def reply() -> dict[str, Any]:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        services = ctx.state.services
        wanted = candidate_uuids(spec)
        records: Iterable[ServiceRecord] = services.values()
        if wanted is not None:
            records = sorted((services[u] for u in wanted if u in services), key=lambda r: r.seq)
        if not accounts.is_admin(caller):  # the identity filter, before any condition
            records = [rec for rec in records if rec.owner == caller]
        inventories = (service_inventory(rec, ctx.profile, ctx.clock) for rec in records)
        result = run_query(
            spec,
            inventories,
            model_services_schema(ctx.profile),
            tag_lookup(ctx),
            ctx.clock.zone,
        )
        # Always there, {} when nothing matched (RestServer adds it to every query reply).
        result["schema"] = inventories_schema(
            result.get("inventories") or (), MODEL_SERVICE_CLASS, MODEL_SERVICE_NESTED
        )
        return result

    return sync_call(reply)
