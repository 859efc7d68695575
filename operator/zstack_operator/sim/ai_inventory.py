"""Renders AI lifecycle records as the inventories ZStack returns, statuses included.

Owned here: the JSON shapes of ``ModelCenterInventory`` (with its ``capacity``),
``ModelInventory`` (with ``modelServiceRefs`` from the services' bindings) and
``ModelServiceInstanceGroupInventory`` with its ``instances`` (fields and order of the
simulated release, ``ai_profiles``), null fields omitted and dates in the node's zone as
everywhere (``inventory``). A deployment's status is computed from the time it started, so it
moves on by itself, survives a restart and needs no timer: ``Deploying`` for the first half of
the deploy duration, ``Starting`` for the second, then ``Running`` (or ``Failed`` if the
deployment was chosen to fail); ``lastOpDate`` is the last of those changes. A running
instance's ``url``, ``internalUrl`` and ``urlMaps`` point at the simulator itself
(``endpoints``), on the port it listens on now. Used by the AI API and ops modules.
"""

from __future__ import annotations

import time
from typing import Any

from .ai_profiles import CENTER_FIELDS, MODEL_FIELDS, ai_profile
from .ai_records import GroupRecord, ModelCenterRecord, ModelRecord
from .runtime import SimContext

DEPLOYING, STARTING, RUNNING, FAILED = "Deploying", "Starting", "Running", "Failed"
#: What every center reports (the real value set is unknown, ZSTACK-AI-LIFECYCLE.md 9).
CENTER_STATUS = "Connected"
#: ``ModelInventory.type`` is server-set and its values unknown; the simulator says this.
MODEL_TYPE = "LLM"
ENDPOINTS_PATH = "/_sim/endpoints"
_CAPACITY_KEYS = (
    "modelUsedCapacity", "modelServiceUsedCapacity", "datasetUsedCapacity",
    "fineTuneUsedCapacity", "modelEvaluationUsedCapacity", "installationUsedCapacity",
    "temporaryUsedCapacity",
)  # fmt: skip


def _shape(order: tuple[str, ...], values: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``order`` that are not None, in that order (CloudBusGson omits nulls)."""
    return {name: values[name] for name in order if values.get(name) is not None}


def center_inventory(rec: ModelCenterRecord, ctx: SimContext) -> dict[str, Any]:
    """The ModelCenterInventory of ``rec``; ``capacity.modelUsedCapacity`` sums its models."""
    used = sum(
        int(m.fields.get("size") or 0)
        for m in ctx.state.ai.models.values()
        if m.fields.get("modelCenterUuid") == rec.uuid
    )
    capacity = {"uuid": rec.uuid, **dict.fromkeys(_CAPACITY_KEYS, 0), "modelUsedCapacity": used}
    values = {
        **rec.fields,
        "uuid": rec.uuid,
        "status": CENTER_STATUS,
        "capacity": capacity,
        "createDate": ctx.clock.gson(rec.create_date),
        "lastOpDate": ctx.clock.gson(rec.last_op_date),
    }
    return _shape(CENTER_FIELDS, values)


def model_refs(ctx: SimContext, model_uuid: str) -> list[dict[str, str]]:
    """``ModelServiceRefInventory`` rows naming this model, in the services' creation order."""
    return [
        {"uuid": ref["uuid"], "modelUuid": model_uuid, "modelServiceUuid": svc.uuid}
        for svc in ctx.state.services.values()
        for ref in svc.refs
        if ref["modelUuid"] == model_uuid
    ]


def model_inventory(rec: ModelRecord, ctx: SimContext) -> dict[str, Any]:
    """The ModelInventory of ``rec`` (never its token)."""
    values = {
        **rec.fields,
        "uuid": rec.uuid,
        "type": MODEL_TYPE,
        "modelServiceRefs": model_refs(ctx, rec.uuid),
        "createDate": ctx.clock.gson(rec.create_date),
        "lastOpDate": ctx.clock.gson(rec.last_op_date),
    }
    return _shape(MODEL_FIELDS, values)


def group_status(rec: GroupRecord, now: float) -> tuple[str, float]:
    """The deployment's status at ``now`` and when it last changed."""
    start, seconds = rec.deploy_started_at, rec.deploy_seconds
    if now >= start + seconds:
        return (FAILED if rec.fails else RUNNING), start + seconds
    if now >= start + seconds / 2:
        return STARTING, start + seconds / 2
    return DEPLOYING, start


def endpoint_base(ctx: SimContext, instance_uuid: str) -> str:
    """Where a running instance answers (``endpoints``)."""
    return f"{ctx.url}{ENDPOINTS_PATH}/{instance_uuid}"


def _instance(
    rec: GroupRecord, inst: dict[str, Any], status: str, changed: float, ctx: SimContext
) -> dict[str, Any]:
    values: dict[str, Any] = {
        **inst,
        "modelServiceGroupUuid": rec.uuid,
        "status": status,
        "accountUuid": rec.owner,
        "createDate": ctx.clock.gson(rec.create_date),
        "lastOpDate": ctx.clock.gson(changed),
    }
    if inst.get("vmInstanceUuid"):
        state = {RUNNING: "Running", FAILED: "Stopped"}.get(status, "Starting")
        values["vm"] = {"uuid": inst["vmInstanceUuid"], "name": inst["name"], "state": state}
    if status == RUNNING:
        base = endpoint_base(ctx, inst["uuid"])
        values["url"] = f"{base}/"
        values["internalUrl"] = f"{base}/internal/"
        values["urlMaps"] = {"openai": f"{base}/v1", "health": f"{base}/health"}
    return _shape(ai_profile(ctx.profile).instance_fields, values)


def group_inventory(rec: GroupRecord, ctx: SimContext, now: float | None = None) -> dict[str, Any]:
    """The ModelServiceInstanceGroupInventory of ``rec`` as it stands at ``now``."""
    status, changed = group_status(rec, time.time() if now is None else now)
    changed = max(changed, rec.last_op_date)
    values = {
        **rec.fields,
        "uuid": rec.uuid,
        "modelServiceUuid": rec.model_service_uuid,
        "instances": [_instance(rec, i, status, changed, ctx) for i in rec.instances],
        "datasetRefInventories": [
            {**ref, "modelServiceInstanceGroupUuid": rec.uuid} for ref in rec.datasets
        ],
        "status": status,
        "createDate": ctx.clock.gson(rec.create_date),
        "lastOpDate": ctx.clock.gson(changed),
    }
    return _shape(ai_profile(ctx.profile).group_fields, values)
