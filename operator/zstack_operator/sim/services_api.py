"""The model-service APIs at the REST layer and in the API pipeline.

Each handler does what ZStack's REST server does before a message exists (body and header
parsing, type checks: plain-text 400s) and hands ``runtime.submit`` a ``prepare`` step that is
the API pipeline: credential, parameter validation and the lookups that decide whether the job
is accepted. Accepted jobs are carried out by ``services_ops``. The query API is synchronous and
answers here. Tenancy (``accounts``): a service belongs to the account that added it; a normal
account's queries show only its own services (``q=__userTag__=...`` is ANDed with that), and
its Update, Delete, Bind and Unbind of another's service fail with ``ID.1002`` after the
parameter and existence checks, as ZStack's ``AccountAPIRequestChecker`` runs after
``ApiParamValidator``. Routed by ``app``.
"""

from __future__ import annotations

import re
import time
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
from .auth import Credential, authenticate, read_credential
from .errorcodes import (
    MSG_ADD,
    MSG_DELETE,
    MSG_UPDATE,
    RestError,
    already_exists,
    invalid_value,
    not_found,
)
from .inventory import service_inventory
from .query import candidate_uuids, run_query, spec_for
from .records import SERVICE_VO
from .request import ApiRequest
from .runtime import Prepared, SimContext, submit, sync_call
from .state import ServiceRecord, new_uuid
from .tags_api import tag_lookup
from .validate import ADD_FIELDS, UPDATE_FIELDS, check, coerce

_SCHEMA_PACKAGE = "org.zstack.ai.entity"


def _credential(req: ApiRequest) -> Credential:
    return read_credential(req.method, req.path, req.headers, time.time())


def _tags(body: dict[str, Any], param: dict[str, Any]) -> dict[str, list[str]]:
    """systemTags/userTags: top level of the body (REST server) or inside the param (Java SDK)."""
    out: dict[str, list[str]] = {}
    for key in ("systemTags", "userTags"):
        value = body.get(key, param.get(key))
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RestError(400, f"Invalid value for field [{key}], a list of strings is expected")
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
    cred = _credential(req)
    param = req.param(body, "param")
    values = coerce(param, ADD_FIELDS)
    tags = _tags(body, param)
    if isinstance(values.get("resourceUuid"), str):
        ctx.counters.create_requests[values["resourceUuid"]] += 1

    def prepare() -> Prepared:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        params = check(values, ADD_FIELDS, MSG_ADD, AddModelServiceParam)
        _check_references(ctx, params)
        uuid = params.get("resourceUuid") or new_uuid()
        # Whoever owns it: the text names only the uuid the caller sent itself.
        if uuid in ctx.state.services or uuid in ctx.state.claims:
            raise already_exists(uuid, SERVICE_VO)
        return Prepared({"uuid": uuid, "params": params, "owner": caller, **tags}, claim=uuid)

    return await submit(ctx, req, "AddModelService", prepare)


async def update_model_service(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/ai/model-services/{uuid} with ``updateModelService`` (asynchronous)."""
    body = req.json_body()
    # The URL is shared with DeployModelService: the body key chooses the API.
    if "updateModelService" not in body:
        raise RestError(400, f"the body doesn't contain action mapping to the URL[{req.path}]")
    cred = _credential(req)
    values = coerce(req.param(body, "updateModelService"), UPDATE_FIELDS)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        changes = check(values, UPDATE_FIELDS, MSG_UPDATE, UpdateModelServiceParam)
        rec = ctx.state.services.get(uuid)
        if rec is None:
            raise not_found("uuid", uuid, SERVICE_VO)
        accounts.check_service_owner(ctx, caller, rec)
        return Prepared({"uuid": uuid, "changes": changes})

    return await submit(ctx, req, "UpdateModelService", prepare)


async def delete_model_service(ctx: SimContext, req: ApiRequest) -> web.Response:
    """DELETE /v1/ai/model-services/{uuid}?deleteMode= (asynchronous)."""
    cred = _credential(req)
    mode = req.query.get("deleteMode", DeleteMode.PERMISSIVE.value)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        modes = [m.value for m in DeleteMode]
        if mode not in modes:
            raise invalid_value("deleteMode", MSG_DELETE, modes, mode)
        # successIfResourceNotExisting: a well-formed missing uuid is a successful delete.
        if not re.match(UUID32_PATTERN, uuid):
            raise not_found("uuid", uuid, SERVICE_VO)
        if (rec := ctx.state.services.get(uuid)) is not None:
            accounts.check_service_owner(ctx, caller, rec)
        return Prepared({"uuid": uuid, "deleteMode": mode})

    return await submit(ctx, req, "DeleteModelService", prepare)


async def _model_binding(ctx: SimContext, req: ApiRequest, api: str) -> web.Response:
    if req.method == "POST":
        req.param(req.json_body(), "param")  # may be absent or {}, but must be an object
    cred = _credential(req)
    model, service = req.vars["modelUuid"], req.vars["modelServiceUuid"]

    def prepare() -> Prepared:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        if model not in ctx.state.models:
            raise not_found("modelUuid", model, "ModelVO")
        rec = ctx.state.services.get(service)
        if rec is None:
            raise not_found("modelServiceUuid", service, SERVICE_VO)
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
    cred = _credential(req)
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
        inventories = (service_inventory(rec) for rec in records)
        result = run_query(spec, inventories, tags=tag_lookup(ctx))
        if schema := _schema(result.get("inventories") or []):
            result["schema"] = schema
        return result

    return sync_call(reply)


def _schema(inventories: list[dict[str, Any]]) -> dict[str, str]:
    """The class map ZStack's JsonSchemaBuilder adds to query replies (nested objects first)."""
    schema: dict[str, str] = {}
    for i, inv in enumerate(inventories):
        for key, cls in (
            ("modelServiceRefs", "ModelServiceRef"),
            ("modelServiceImages", "ModelServiceImage"),
        ):
            for j, _ in enumerate(inv.get(key) or ()):
                schema[f"inventories[{i}].{key}[{j}]"] = f"{_SCHEMA_PACKAGE}.{cls}Inventory"
        schema[f"inventories[{i}]"] = f"{_SCHEMA_PACKAGE}.ModelServiceInventory"
    return schema
