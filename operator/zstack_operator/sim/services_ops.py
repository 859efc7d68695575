"""What model-service jobs do when they complete: the mutations of the simulated world.

Each executor takes the payload the API pipeline accepted (``services_api``) and applies it to
``State``, returning the API result ZStack would send: ``{"inventory": ...}`` for create,
update, bind and unbind (ZSTACK-API.md section 10 row 7), ``{}`` for delete (refused in
``Permissive`` mode while instance groups of the service exist). What a new service
reports for omitted fields, and which fields it keeps, is the simulated release's
(``profiles``). The world may have changed while the job ran, so the
executors check again what they depend on (a service deleted meanwhile is ``SYS.1003``).
Registered with ``jobs.JobManager`` by ``register``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from ..zstack.models import DeleteMode
from .config import ADMIN_ACCOUNT_UUID
from .errorcodes import already_exists, failure, not_found
from .inventory import service_inventory
from .records import SERVICE_VO
from .runtime import SimContext
from .state import ServiceRecord, new_uuid
from .tags_api import add_user_tags

#: Inventory fields the simulator computes rather than copies from the params.
_COMPUTED = frozenset(
    {"uuid", "version", "cpuArchitectures", "modelServiceRefs", "modelServiceImages"}
    | {"createDate", "lastOpDate"}
)
#: Params kept from the create request without appearing in the inventory.
_CREATE_ONLY = ("zoneUuid", "tagUuids", "resourceUuid", "modelUuids")


def _images(images: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    return [{"uuid": new_uuid(), **img, "createDate": now, "lastOpDate": now} for img in images]


def _service(ctx: SimContext, uuid: str, field: str = "uuid") -> ServiceRecord:
    rec = ctx.state.services.get(uuid)
    if rec is None:
        raise not_found(field, uuid, SERVICE_VO)
    return rec


def add(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """AddModelService: the service appears with version 1, owned by the caller.

    Its ``userTags`` are stored as user tags on it.
    """
    uuid: str = payload["uuid"]
    if uuid in ctx.state.services:
        raise already_exists(uuid, SERVICE_VO)
    params: dict[str, Any] = payload["params"]
    now = time.time()
    fields = dict(ctx.profile.defaults)
    fields.update({k: v for k, v in params.items() if ctx.profile.knows(k) and k not in _COMPUTED})
    refs = [
        {"uuid": new_uuid(), "modelUuid": m} for m in dict.fromkeys(params.get("modelUuids", []))
    ]
    extra = {k: params[k] for k in _CREATE_ONLY if k in params}
    if "systemTags" in payload:
        extra["systemTags"] = payload["systemTags"]
    rec = ServiceRecord(
        uuid=uuid,
        seq=ctx.state.next_seq(),
        fields=fields,
        images=_images(params.get("architectureImages", []), now),
        refs=refs,
        version=1,
        create_date=now,
        last_op_date=now,
        extra=extra,
        # Jobs persisted before accounts existed were the admin's.
        owner=payload.get("owner", ADMIN_ACCOUNT_UUID),
    )
    ctx.state.save_service(rec)
    add_user_tags(ctx, uuid, payload.get("userTags", ()))
    ctx.counters.created[uuid] += 1
    return 200, {"inventory": service_inventory(rec, ctx.profile, ctx.clock)}


def update(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """UpdateModelService: only the given fields change; every update makes a new version."""
    rec = _service(ctx, payload["uuid"])
    now = time.time()
    for key, value in payload["changes"].items():
        if key == "architectureImages":
            rec.images = _images(value, now)
        elif ctx.profile.knows(key) and key not in _COMPUTED:
            rec.fields[key] = value
    rec.version += 1
    rec.last_op_date = now
    ctx.state.save_service(rec)
    return 200, {"inventory": service_inventory(rec, ctx.profile, ctx.clock)}


def delete(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """DeleteModelService: gone (its model bindings with it); a missing service is success.

    While instance groups deployed from it exist, a ``Permissive`` delete is refused
    (``SYS.1006``); an ``Enforcing`` one leaves them running without a service
    (``modelServiceUuid`` ON DELETE SET NULL).
    """
    uuid = payload["uuid"]
    groups = ctx.state.ai.groups_of_service(uuid)
    if groups and payload.get("deleteMode") != DeleteMode.ENFORCING.value:
        raise failure(
            "SYS.1006",
            f"cannot delete the model service[uuid:{uuid}]: it has {len(groups)} model service "
            f"instance group(s) [{', '.join(g.uuid for g in groups)}]; delete them first or use "
            "deleteMode=Enforcing",
        )
    for group in groups:
        group.model_service_uuid = None
        ctx.state.ai.save_group(group)
    ctx.state.delete_service(uuid)
    return 200, {}


def _check_pair(ctx: SimContext, payload: dict[str, Any]) -> ServiceRecord:
    if payload["modelUuid"] not in ctx.state.models:
        raise not_found("modelUuid", payload["modelUuid"], "ModelVO")
    return _service(ctx, payload["modelServiceUuid"], "modelServiceUuid")


def bind(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """BindModelToService: the model appears in ``modelServiceRefs`` (once)."""
    rec = _check_pair(ctx, payload)
    if all(ref["modelUuid"] != payload["modelUuid"] for ref in rec.refs):
        rec.refs.append({"uuid": new_uuid(), "modelUuid": payload["modelUuid"]})
        ctx.state.save_service(rec)
    return 200, {"inventory": service_inventory(rec, ctx.profile, ctx.clock)}


def unbind(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """UnbindModelFromService: the model leaves ``modelServiceRefs``; unbound is success."""
    rec = _check_pair(ctx, payload)
    kept = [ref for ref in rec.refs if ref["modelUuid"] != payload["modelUuid"]]
    if len(kept) != len(rec.refs):
        rec.refs = kept
        ctx.state.save_service(rec)
    return 200, {"inventory": service_inventory(rec, ctx.profile, ctx.clock)}


def register(ctx: SimContext) -> None:
    """Make the job manager carry out model-service jobs."""
    for api, executor in (
        ("AddModelService", add),
        ("UpdateModelService", update),
        ("DeleteModelService", delete),
        ("BindModelToService", bind),
        ("UnbindModelFromService", unbind),
    ):
        ctx.jobs.register(api, functools.partial(executor, ctx))
