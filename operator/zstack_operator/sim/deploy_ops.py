"""What DeployModelService and instance-group jobs do when they complete.

DeployModelService creates a ``GroupRecord`` with ``instances_per_group`` instances (one by
default): each gets the service's ``yaml``, and a VM uuid (``VirtualMachine``, ``BareMetal2``)
or ``k8sResourceYaml`` (``Container``). The deployment starts when the job completes and takes
the ``deployDurationMs`` fault knob's time to be ``Running``; ``deployFailRate`` decides, then,
whether it ends ``Failed`` instead (``ai_inventory`` computes the status from those times). The
job's result is the group as it stands at completion, usually ``Deploying``. Update renames a
group; Delete removes it and its instances, whose endpoints then answer 404. The world may have
changed while the job ran, so executors check again what they depend on. Registered with
``jobs.JobManager`` by ``register``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from ..zstack.ai_models import INSTANCE_GROUP_VO, DeploymentType
from .ai_inventory import group_inventory
from .ai_records import GroupRecord
from .config import ADMIN_ACCOUNT_UUID
from .errorcodes import already_exists, not_found
from .records import SERVICE_VO
from .runtime import SimContext
from .state import new_uuid
from .tags_api import add_user_tags

#: Group fields taken from the Deploy params as they are.
_GROUP_FIELDS = ("name", "description", "modelUuid", "type")


def _instances(ctx: SimContext, name: str, kind: str, yaml: str | None) -> list[dict[str, Any]]:
    out = []
    for i in range(max(1, ctx.config.instances_per_group)):
        inst: dict[str, Any] = {"uuid": new_uuid(), "name": f"{name}-{i}", "yaml": yaml}
        if kind == DeploymentType.CONTAINER.value:
            inst["k8sResourceYaml"] = yaml
        else:
            inst["vmInstanceUuid"] = new_uuid()
        out.append(inst)
    return out


def deploy(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """DeployModelService: a new instance group, owned by the caller, starts deploying."""
    uuid: str = payload["uuid"]
    if uuid in ctx.state.ai.groups:
        raise already_exists(uuid, INSTANCE_GROUP_VO)
    service = ctx.state.services.get(payload["serviceUuid"])
    if service is None:
        raise not_found("uuid", payload["serviceUuid"], SERVICE_VO)
    params: dict[str, Any] = payload["params"]
    now = time.time()
    faults = ctx.faults
    # No draw without the fault, so the seeded dice of other faults stay as they were.
    fails = faults.deploy_fail_rate > 0 and ctx.rng.random() < faults.deploy_fail_rate
    fields = {k: params[k] for k in _GROUP_FIELDS if k in params}
    fields["modelServiceType"] = service.fields.get("type")
    rec = GroupRecord(
        uuid=uuid,
        seq=ctx.state.next_seq(),
        fields=fields,
        model_service_uuid=service.uuid,
        instances=_instances(ctx, params["name"], params["type"], service.fields.get("yaml")),
        datasets=[
            {"uuid": new_uuid(), "datasetUuid": d}
            for d in dict.fromkeys(params.get("datasetUuids", []))
        ],
        create_date=now,
        last_op_date=now,
        deploy_started_at=now,
        deploy_seconds=faults.deploy_duration_ms / 1000,
        fails=fails,
        owner=payload.get("owner", ADMIN_ACCOUNT_UUID),
        extra={k: v for k, v in params.items() if k not in _GROUP_FIELDS},
    )
    ctx.state.ai.save_group(rec)
    add_user_tags(ctx, uuid, payload.get("userTags", ()), INSTANCE_GROUP_VO)
    ctx.counters.created[uuid] += 1
    return 200, {"inventory": group_inventory(rec, ctx, now)}


def update(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """UpdateModelServiceInstanceGroup: the group gets its new name."""
    rec = ctx.state.ai.groups.get(payload["uuid"])
    if rec is None:
        raise not_found("uuid", payload["uuid"], INSTANCE_GROUP_VO)
    rec.fields["name"] = payload["name"]
    rec.last_op_date = time.time()
    ctx.state.ai.save_group(rec)
    return 200, {"inventory": group_inventory(rec, ctx)}


def delete(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """DeleteModelServiceInstanceGroup: gone with its instances; a missing group is success."""
    ctx.state.ai.delete_group(payload["uuid"])
    return 200, {}


def register(ctx: SimContext) -> None:
    """Make the job manager carry out deployment jobs."""
    for api, executor in (
        ("DeployModelService", deploy),
        ("UpdateModelServiceInstanceGroup", update),
        ("DeleteModelServiceInstanceGroup", delete),
    ):
        ctx.jobs.register(api, functools.partial(executor, ctx))
