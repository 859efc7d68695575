"""What model-center and model jobs do when they complete.

Each executor takes the payload the API pipeline accepted (``centers_api``, ``models_api``) and
applies it to the state, returning ZStack's result: ``{"inventory": ...}`` for add and update,
``{}`` for delete. The cascades follow the DB's foreign keys (ZSTACK-AI-LIFECYCLE.md 2-3):
deleting a model center deletes its models (``ModelVO.modelCenterUuid`` ON DELETE CASCADE),
deleting a model removes its bindings (``ModelServiceRefVO`` ON DELETE CASCADE) and its tags,
whatever ``deleteMode`` says; instance groups keep the ``modelUuid`` they were deployed with
(no foreign key). The world may have changed while the job ran, so executors check again
what they depend on. Registered with ``jobs.JobManager`` by ``register``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from ..zstack.ai_models import MODEL_CENTER_VO, MODEL_VO
from .ai_inventory import center_inventory, model_inventory
from .ai_records import ModelCenterRecord, ModelRecord
from .config import ADMIN_ACCOUNT_UUID
from .errorcodes import already_exists, not_found
from .records import SERVICE_VO
from .runtime import SimContext
from .state import new_uuid
from .tags_api import add_user_tags

#: Params kept from the create request without appearing in the inventory.
_CREATE_ONLY = ("tagUuids", "resourceUuid", "modelServiceUuids", "token")


def _fields(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in _CREATE_ONLY}


def add_center(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """AddModelCenter: the center appears."""
    uuid: str = payload["uuid"]
    if uuid in ctx.state.ai.centers:
        raise already_exists(uuid, MODEL_CENTER_VO)
    now = time.time()
    rec = ModelCenterRecord(uuid, ctx.state.next_seq(), _fields(payload["params"]), now, now)
    ctx.state.ai.save_center(rec)
    ctx.counters.created[uuid] += 1
    return 200, {"inventory": center_inventory(rec, ctx)}


def update_center(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """UpdateModelCenter: only the given fields change."""
    rec = ctx.state.ai.centers.get(payload["uuid"])
    if rec is None:
        raise not_found("uuid", payload["uuid"], MODEL_CENTER_VO)
    rec.fields.update(payload["changes"])
    rec.last_op_date = time.time()
    ctx.state.ai.save_center(rec)
    return 200, {"inventory": center_inventory(rec, ctx)}


def delete_center(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """DeleteModelCenter: gone, with its models; a missing center is success."""
    uuid = payload["uuid"]
    if ctx.state.ai.delete_center(uuid):
        for model in list(ctx.state.ai.models.values()):
            if model.fields.get("modelCenterUuid") == uuid:
                _drop_model(ctx, model.uuid)
    return 200, {}


def _bind(ctx: SimContext, model_uuid: str, service_uuids: list[str]) -> None:
    for service_uuid in dict.fromkeys(service_uuids):
        svc = ctx.state.services.get(service_uuid)
        if svc is None:
            raise not_found("modelServiceUuids", service_uuid, SERVICE_VO)
        if all(ref["modelUuid"] != model_uuid for ref in svc.refs):
            svc.refs.append({"uuid": new_uuid(), "modelUuid": model_uuid})
            ctx.state.save_service(svc)


def add_model(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """AddModel: the model appears, owned by the caller, bound to its ``modelServiceUuids``.

    ``size`` is 0 when not given (``size bigint NOT NULL``); ``userTags`` become user tags.
    """
    uuid: str = payload["uuid"]
    params: dict[str, Any] = payload["params"]
    if uuid in ctx.state.ai.models:
        raise already_exists(uuid, MODEL_VO)
    if params["modelCenterUuid"] not in ctx.state.ai.centers:
        raise not_found("modelCenterUuid", params["modelCenterUuid"], MODEL_CENTER_VO)
    now = time.time()
    extra: dict[str, Any] = {k: params[k] for k in ("tagUuids", "resourceUuid") if k in params}
    if "systemTags" in payload:
        extra["systemTags"] = payload["systemTags"]
    rec = ModelRecord(
        uuid=uuid,
        seq=ctx.state.next_seq(),
        fields={"size": 0, **_fields(params)},
        create_date=now,
        last_op_date=now,
        owner=payload.get("owner", ADMIN_ACCOUNT_UUID),
        token=params.get("token"),
        extra=extra,
    )
    _bind(ctx, uuid, params.get("modelServiceUuids", []))
    ctx.state.ai.save_model(rec)
    add_user_tags(ctx, uuid, payload.get("userTags", ()), MODEL_VO)
    ctx.counters.created[uuid] += 1
    return 200, {"inventory": model_inventory(rec, ctx)}


def update_model(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """UpdateModel: only the given fields change."""
    rec = ctx.state.ai.models.get(payload["uuid"])
    if rec is None:
        raise not_found("uuid", payload["uuid"], MODEL_VO)
    rec.fields.update(payload["changes"])
    rec.last_op_date = time.time()
    ctx.state.ai.save_model(rec)
    return 200, {"inventory": model_inventory(rec, ctx)}


def _drop_model(ctx: SimContext, uuid: str) -> None:
    for svc in ctx.state.services.values():
        kept = [ref for ref in svc.refs if ref["modelUuid"] != uuid]
        if len(kept) != len(svc.refs):
            svc.refs = kept
            ctx.state.save_service(svc)
    ctx.state.ai.delete_model(uuid)


def delete_model(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """DeleteModel: gone with its bindings and tags; a missing model is success."""
    _drop_model(ctx, payload["uuid"])
    return 200, {}


def register(ctx: SimContext) -> None:
    """Make the job manager carry out model-center and model jobs."""
    for api, executor in (
        ("AddModelCenter", add_center),
        ("UpdateModelCenter", update_center),
        ("DeleteModelCenter", delete_center),
        ("AddModel", add_model),
        ("UpdateModel", update_model),
        ("DeleteModel", delete_model),
    ):
        ctx.jobs.register(api, functools.partial(executor, ctx))
