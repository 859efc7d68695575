"""DeployModelService and the instance group APIs, at the REST layer and in the API pipeline.

- DeployModelService: ``PUT /v1/ai/model-services/{uuid}`` with ``deployModelService`` (the URL
  is UpdateModelService's; ``app`` routes by body key). Asynchronous; its result is the new
  ``ModelServiceInstanceGroupInventory``. The fields are the release's (``ai_profiles``): in
  5.1.20 and 5.3.20 there is no ``resourceUuid`` (dropped like any unknown key, so the group
  gets a fresh uuid) and no tags; the newest release takes ``resourceUuid`` (a taken one is
  ``SYS.1000``), ``tagUuids`` and stores ``userTags``.
- QueryModelServiceInstanceGroup: ``GET /v1/ai/model-services/instances/groups/`` (the trailing
  slash is the SDK's; without it the path is 404 ``no api mapping``).
- UpdateModelServiceInstanceGroup: ``PUT /v1/model-service-instance-groups/{uuid}`` (no
  ``/ai``), key ``updateModelServiceInstanceGroup``: ``name`` only, required, at most 255.
- DeleteModelServiceInstanceGroup: ``DELETE /v1/ai/model-services/instances/groups/{uuid}
  ?deleteMode=``, asynchronous; a missing group is success.

The pipeline's order is the model services': parameters (``SYS.1007``), the referenced uuids
(``SYS.1003``: the service, ``zoneUuid``, ``modelUuid``, ``tagUuids``; datasets, images,
networks and storage are not simulated and not checked), the credential, then ownership
(``ID.1002`` for another account's service or group). A group belongs to the account that
deployed it. Accepted jobs are carried out by ``deploy_ops``. Routed by ``app``.
"""

from __future__ import annotations

import re

from aiohttp import web

from ..zstack.ai_models import INSTANCE_GROUP_VO, MODEL_VO, UpdateModelServiceInstanceGroupParam
from ..zstack.models import UUID32_PATTERN, DeleteMode
from . import accounts
from .ai_inventory import group_inventory
from .ai_profiles import DEPLOY_LENGTHS, UPDATE_GROUP_FIELDS, UPDATE_GROUP_LENGTHS, ai_profile
from .ai_query import query_reply
from .auth import authenticate, credential, peek_account
from .errorcodes import already_exists, invalid_value, not_found
from .query import InventorySchema
from .records import SERVICE_VO
from .request import ApiRequest
from .runtime import Prepared, SimContext, submit
from .schema import GROUP_CLASS
from .services_api import create_tags
from .state import new_uuid
from .tags_api import check_tag_uuids
from .validate import check, check_lengths, coerce

#: Sub-fields of ``instances`` and ``datasetRefInventories`` a query may name.
_INSTANCE_QUERY_FIELDS = frozenset(
    {"uuid", "modelServiceGroupUuid", "name", "status", "url", "internalUrl", "vmInstanceUuid"}
)
_DATASET_QUERY_FIELDS = frozenset({"uuid", "datasetUuid", "modelServiceInstanceGroupUuid"})


def groups_schema(ctx: SimContext) -> InventorySchema:
    """What a QueryModelServiceInstanceGroup of the simulated release may name."""
    return InventorySchema(
        GROUP_CLASS,
        frozenset(ai_profile(ctx.profile).group_fields),
        {"instances": _INSTANCE_QUERY_FIELDS, "datasetRefInventories": _DATASET_QUERY_FIELDS},
    )


async def deploy_model_service(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/ai/model-services/{uuid} with ``deployModelService`` (asynchronous)."""
    body = req.put_body()
    cred = credential(ctx, req)
    profile = ai_profile(ctx.profile)
    param = req.param(body, "deployModelService")
    values = coerce(param, profile.deploy_fields)
    # Only an APICreateMessage (the newest release) stores the create's tags.
    tags = create_tags(body, param) if profile.deploy_takes_resource_uuid else {}
    if isinstance(values.get("resourceUuid"), str):
        ctx.counters.create_requests[values["resourceUuid"]] += 1
    service_uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        params = check(values, profile.deploy_fields)
        check_lengths(params, DEPLOY_LENGTHS)
        service = ctx.state.services.get(service_uuid)
        if service is None:
            raise not_found("uuid", service_uuid, SERVICE_VO)
        if params["zoneUuid"] not in ctx.state.zones:
            raise not_found("zoneUuid", params["zoneUuid"], "ZoneVO")
        model = params.get("modelUuid")
        if model is not None and model not in ctx.state.ai.models:
            raise not_found("modelUuid", model, MODEL_VO)
        check_tag_uuids(ctx, params.get("tagUuids"), peek_account(ctx.state, cred))
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        accounts.check_service_owner(ctx, caller, service)
        uuid = params.get("resourceUuid") or new_uuid()
        if uuid in ctx.state.ai.groups or uuid in ctx.state.claims:
            raise already_exists(uuid, INSTANCE_GROUP_VO)
        payload = {"uuid": uuid, "serviceUuid": service_uuid, "params": params, "owner": caller}
        return Prepared({**payload, **tags}, claim=uuid)

    return await submit(ctx, req, "DeployModelService", prepare)


async def query_groups(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/ai/model-services/instances/groups/ (synchronous; a normal account sees its own)."""
    return query_reply(
        ctx,
        req,
        ctx.state.ai.groups,
        lambda rec: group_inventory(rec, ctx),
        groups_schema(ctx),
        lambda rec: rec.owner,
    )


async def update_group(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/model-service-instance-groups/{uuid} (UpdateModelServiceInstanceGroup)."""
    cred = credential(ctx, req)
    values = coerce(
        req.param(req.json_body(), "updateModelServiceInstanceGroup"), UPDATE_GROUP_FIELDS
    )
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        changes = check(values, UPDATE_GROUP_FIELDS, UpdateModelServiceInstanceGroupParam)
        check_lengths(changes, UPDATE_GROUP_LENGTHS)
        rec = ctx.state.ai.groups.get(uuid)
        if rec is None:
            raise not_found("uuid", uuid, INSTANCE_GROUP_VO)
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        accounts.check_owner(ctx, caller, uuid, rec.owner, INSTANCE_GROUP_VO)
        return Prepared({"uuid": uuid, "name": changes["name"]})

    return await submit(ctx, req, "UpdateModelServiceInstanceGroup", prepare)


async def delete_group(ctx: SimContext, req: ApiRequest) -> web.Response:
    """DELETE /v1/ai/model-services/instances/groups/{uuid}?deleteMode= (asynchronous)."""
    cred = credential(ctx, req)
    mode = req.query.get("deleteMode", DeleteMode.PERMISSIVE.value)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        if not re.match(UUID32_PATTERN, uuid):
            raise not_found("uuid", uuid, INSTANCE_GROUP_VO)
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        modes = [m.value for m in DeleteMode]
        if mode not in modes:
            raise invalid_value("deleteMode", modes, mode)
        if (rec := ctx.state.ai.groups.get(uuid)) is not None:
            accounts.check_owner(ctx, caller, uuid, rec.owner, INSTANCE_GROUP_VO)
        return Prepared({"uuid": uuid, "deleteMode": mode})

    return await submit(ctx, req, "DeleteModelServiceInstanceGroup", prepare)
