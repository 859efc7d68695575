"""Reconcile one ModelServiceDeployment: one ZStack instance group, deployed exactly once.

ZStack 5.1.20's DeployModelService takes no ``resourceUuid``, so the operator cannot name the
group it creates. Exactly one group per object comes instead from three things
(docs/modelservicedeployment.md walks through every crash window):

1. the Deploy job's uuid is derived from the object (uid, failedJobs, the group it replaces),
   so a resend is the same job, which ZStack follows instead of running twice;
2. that job is written to ``status.pendingJob`` *before* it is sent, so a restart always knows
   a deploy may be out, and asks the job (ZStack keeps job results for hours);
3. once ZStack has forgotten the job (or it never got it), the object recognises its own group
   among its service's groups: its group name, created no earlier than the recorded start
   (less a clock-skew allowance), not recorded or owner-tagged by another object; its own
   owner tag wins. One found: it is recorded. None: the job never ran, and it is sent.
   Several: nothing is guessed; the object waits, naming them, until a person removes one.

A group exists until this object's finalizer deletes it; the status follows the group and its
instances (``Ready`` only when all of them run), polled every few seconds while they start.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from .. import status as st
from ..reconcile import jobs
from ..reconcile.model import Done, Requeue, Resource, Result, Retry, StatusWriteError, Terminal
from ..reconcile.ownership import owner_tag
from ..resources import KIND, DeletionPolicy, EventReason, JobAction, ReadyReason, SyncedReason
from ..resources.deployment import (
    DEPLOY_FIELDS,
    DEPLOYMENT_PLURAL,
    FAILED_STATES,
    RUNNING,
    DeployedWith,
    DeploymentSpec,
    DeploymentStatus,
    InstanceStatus,
)
from ..resources.model import MODEL_KIND
from ..resources.status import PendingJob
from ..zstack.ai_models import DeployModelServiceParam, ModelServiceInstanceGroupInventory
from ..zstack.errors import JobExpiredError, JobTimeoutError, ZStackAPIError, ZStackError
from . import refs
from .common import (
    POLL,
    ChainPass,
    Stop,
    after_job,
    connection,
    dependency_wait,
    failed,
    invalid,
    paused_deletion,
    sent,
    validation_message,
    waiting,
)
from .seam import ChainAPI, ChainDeps, KindOutcome

log = logging.getLogger(__name__)

Pass = ChainPass[DeploymentStatus]
Group = ModelServiceInstanceGroupInventory

#: How much earlier than the recorded start a group may say it was created and still be ours:
#: the recorded time is this process's clock, the group's is the management node's.
CLOCK_SKEW = timedelta(minutes=5)
#: Seconds between two looks while several groups could be the one a forgotten job made.
AMBIGUOUS_RECHECK = 60.0
_MAX_INSTANCES = 64
_MAX_URL_MAPS = 32


def group_name(spec: DeploymentSpec, res: Resource) -> str:
    """The instance group's name in ZStack."""
    return spec.name or res.name


async def reconcile_deployment(res: Resource, deps: ChainDeps, *, attempt: int = 0) -> KindOutcome:
    """Deploy the model service once, and follow the group until it serves."""
    p = Pass(res, deps, DEPLOYMENT_PLURAL, DeploymentStatus)
    try:
        result = await _reconcile(p, deps, attempt)
    except Stop as stop:
        result = stop.result
    except ZStackError as exc:
        result = failed(p, exc, exists=bool(p.old.uuid), what="deployment")
    except StatusWriteError as exc:  # the record before a deploy: nothing was sent
        return KindOutcome(Retry(f"cannot write the status: {exc}"), p.new)
    try:
        return await p.finish(result)
    except StatusWriteError as exc:
        return KindOutcome(Retry(f"cannot write the status: {exc}"), p.new)


async def _reconcile(p: Pass, deps: ChainDeps, attempt: int) -> Result:
    res = p.res
    try:
        spec = DeploymentSpec.model_validate(dict(res.spec))
    except ValidationError as exc:
        return invalid(p, validation_message(exc), "deployment")
    if res.paused:
        p.ready_if_unset(ReadyReason.NOT_CREATED, "not deployed: paused before the first deploy")
        p.synced(False, SyncedReason.PAUSED, "paused by annotation ai.zstack.io/paused; no writes")
        return Done()
    exists = bool(p.old.uuid or p.old.pending_job)
    inherited: str | None = None
    targets: tuple[str, str | None] | None = None
    if not p.old.uuid:
        resolved = await _dependencies(p, deps, spec)
        if isinstance(resolved, str):
            return waiting(p, resolved, attempt)
        targets, inherited = resolved[:2], resolved[2]
    api = await connection(
        p, deps, res.spec.get("connectionRef"), exists=exists, inherited=inherited
    )

    group: Group | None = None
    replaces: str | None = None
    if p.old.uuid:
        group = await api.ai.get_instance_group(p.old.uuid)
        if group is None:  # deleted in ZStack behind our back: deploy again
            replaces = p.old.uuid
            p.update(uuid=None)
            resolved = await _dependencies(p, deps, spec)
            if isinstance(resolved, str):
                return waiting(p, resolved, attempt)
            targets = resolved[:2]
    if group is None and p.old.pending_job is not None and replaces is None:
        group = await _settle(p, deps, api, spec, p.old.pending_job)
    if group is None:
        assert targets is not None
        deployed = await _deploy(p, deps, api, spec, targets, replaces)
        if not isinstance(deployed, Group):
            return deployed
        group = deployed
        if replaces is not None:
            p.notice(
                EventReason.RECREATED,
                f"the instance group {replaces} was deleted in ZStack outside Kubernetes; "
                f"deployed again as {group.uuid}",
            )
    changed = await _immutable_changes(p, deps, spec)
    if changed:
        _observed(p, group)
        message = (
            f"{', '.join(changed)} cannot change once deployed (ZStack can only rename an "
            "instance group): restore the value, or delete and re-create this "
            "ModelServiceDeployment to deploy again"
        )
        p.synced(False, SyncedReason.IMMUTABLE_FIELD_CHANGED, message)
        p.update(observed_generation=p.gen)
        _ready(p, group)
        return Terminal(message)
    wanted = group_name(spec, res)
    if group.name != wanted:
        group = await _rename(p, deps, api, group, wanted)
    _observed(p, group)
    p.synced(True, SyncedReason.RECONCILE_SUCCESS, "ZStack matches the spec")
    p.update(observed_generation=p.gen, error=None)
    if _ready(p, group):
        return Done()
    if (group.status or "") in FAILED_STATES:
        return Done()  # nothing comes of waiting; the drift checks still look now and then
    return Requeue(dependency_wait(attempt), f"instance group {group.uuid} is {group.status}")


async def _dependencies(
    p: Pass, deps: ChainDeps, spec: DeploymentSpec
) -> tuple[str, str | None, str | None] | str:
    """(service uuid, model uuid, the service's connection), or what the deployment waits for."""
    service_uuid, inherited = spec.model_service_uuid, None
    if spec.model_service_ref is not None:
        got = await refs.resolve(deps.objects, KIND, p.res.namespace, spec.model_service_ref.name)
        if isinstance(got, str):
            return f"waiting for {got}"
        service_uuid, inherited = got.uuid, got.connection
    model = spec.model_uuid
    if spec.model_ref is not None:
        found = await refs.resolve(deps.objects, MODEL_KIND, p.res.namespace, spec.model_ref.name)
        if isinstance(found, str):
            return f"waiting for {found}"
        model = found.uuid
    assert service_uuid is not None
    return service_uuid, model, inherited


def _param(spec: DeploymentSpec, res: Resource, model_uuid: str | None) -> DeployModelServiceParam:
    values: dict[str, Any] = spec.model_dump(
        mode="python", by_alias=False, exclude_none=True, include=set(DEPLOY_FIELDS)
    )
    return DeployModelServiceParam(name=group_name(spec, res), model_uuid=model_uuid, **values)


async def _deploy(
    p: Pass,
    deps: ChainDeps,
    api: ChainAPI,
    spec: DeploymentSpec,
    targets: tuple[str, str | None],
    replaces: str | None,
) -> Group | Result:
    """Record the Deploy job, then send it; the group as the job left it."""
    service_uuid, model_uuid = targets
    failed_jobs = p.new.failed_jobs or 0
    job = jobs.job_uuid(p.res.uid, JobAction.DEPLOY, failed_jobs, replaces or "")
    record = PendingJob(
        uuid=job,
        action=JobAction.DEPLOY,
        started_at=st.now_rfc3339(precise=True),
        generation=p.gen,
    )
    p.update(
        pending_job=record,
        model_service_uuid=service_uuid,
        model_uuid=model_uuid,
        deployed_with=DeployedWith(
            model_service_uuid=service_uuid, model_uuid=model_uuid, **spec.deploy_values()
        ),
    )
    p.ready(False, ReadyReason.DEPLOYING, f"deploying model service {service_uuid} (job {job})")
    await p.save_now()  # before the send: a restart must know this job may be out
    try:
        group = await sent(
            api.ai.deploy_model_service(
                service_uuid,
                _param(spec, p.res, model_uuid),
                user_tags=[owner_tag(p.res)],
                job_uuid=job,
                wait=deps.job_wait,
            ),
            lambda: api.ai.wait_deployment(job, timeout=deps.job_wait),
        )
    except JobTimeoutError:
        return Requeue(POLL, f"ZStack job {job} (DeployModelService) is still running")
    except ZStackAPIError:
        # The job failed: it made no group, and its uuid is spent.
        p.update(pending_job=None, failed_jobs=failed_jobs + 1)
        raise
    log.info("%s: deployed model service %s as group %s", p.res.ref, service_uuid, group.uuid)
    p.update(pending_job=None, uuid=group.uuid)
    return group


async def _settle(
    p: Pass, deps: ChainDeps, api: ChainAPI, spec: DeploymentSpec, job: PendingJob
) -> Group | None:
    """How the recorded Deploy job ended: its group, or None (it never ran); may ``Stop``."""
    try:
        group = await api.ai.wait_deployment(job.uuid, timeout=deps.job_wait)
    except JobTimeoutError as exc:
        p.ready(False, ReadyReason.DEPLOYING, f"deploying (job {job.uuid} is running)")
        running = f"ZStack job {job.uuid} (DeployModelService) is still running"
        raise Stop(Requeue(POLL, running)) from exc
    except JobExpiredError:
        mine = await recognise(p, deps, api, spec, job)
        p.update(pending_job=None)
        if mine is None:
            log.info("%s: deploy job %s never ran; sending it", p.res.ref, job.uuid)
            return None
        log.warning("%s: deploy job %s is forgotten; found its group %s", p.res.ref, job.uuid,
                    mine.uuid)  # fmt: skip
        p.update(uuid=mine.uuid)
        return mine
    except ZStackAPIError:
        p.update(pending_job=None, failed_jobs=(p.old.failed_jobs or 0) + 1)
        raise
    p.update(pending_job=None, uuid=group.uuid)
    return group


def _aware(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value else None


async def recognise(
    p: Pass, deps: ChainDeps, api: ChainAPI, spec: DeploymentSpec, job: PendingJob
) -> Group | None:
    """The group a forgotten Deploy job of this object made, if any (see the module doc).

    Candidates: the service's groups with this object's group name, created no earlier than
    the job (less the clock-skew allowance), recorded by no other deployment, and carrying no
    other object's owner tag (releases that store the Deploy's userTags mark the group). One
    carrying this object's own tag wins. Two or more left is never guessed at: the wrong one
    would be managed and, on deletion, deleted. The object then waits (``Stop``), saying which
    groups, until a person deletes the stray one.
    """
    service_uuid = p.old.model_service_uuid
    if service_uuid is None:
        return None
    since = datetime.fromisoformat(job.started_at.replace("Z", "+00:00")) - CLOCK_SKEW
    claimed = {
        str((o.get("status") or {}).get("uuid"))
        for o in await deps.objects.list(DEPLOYMENT_PLURAL, p.res.namespace)
        if o.get("metadata", {}).get("uid") != p.res.uid
    }
    name = group_name(spec, p.res)
    groups = await api.ai.query_instance_groups([f"modelServiceUuid={service_uuid}"])
    candidates = [
        g
        for g in groups
        if g.name == name
        and g.uuid not in claimed
        and ((created := _aware(g.create_date)) is None or created >= since)
    ]
    if not candidates:
        return None
    own = owner_tag(p.res)
    tagged: list[Group] = []
    untagged: list[Group] = []
    for group in candidates:
        tags = await api.owner_tags(group.uuid)
        if own in tags:
            tagged.append(group)
        elif not tags:
            untagged.append(group)
    mine = tagged or untagged
    if len(mine) > 1:
        uuids = ", ".join(sorted(g.uuid for g in mine))
        message = (
            f"deploy job {job.uuid} is forgotten by ZStack and {len(mine)} instance groups could "
            f"be the one it made ({uuids}): delete the one that is not this deployment's in "
            "ZStack; the operator looks again every minute"
        )
        p.synced(False, SyncedReason.NOT_OWNED, message)
        raise Stop(Requeue(AMBIGUOUS_RECHECK, message))
    return mine[0] if mine else None


async def _immutable_changes(p: Pass, deps: ChainDeps, spec: DeploymentSpec) -> list[str]:
    """``spec.<field>`` names that differ from what the group was deployed with."""
    before = p.new.deployed_with
    if before is None:
        return []
    recorded = before.model_dump(mode="json", by_alias=False, exclude_none=True)
    now = spec.deploy_values()
    changed = [f"spec.{_camel(f)}" for f in DEPLOY_FIELDS if now.get(f) != recorded.get(f)]
    if spec.model_service_uuid is not None and spec.model_service_uuid != before.model_service_uuid:
        changed.append("spec.modelServiceUuid")
    if spec.model_uuid is not None and spec.model_uuid != before.model_uuid:
        changed.append("spec.modelUuid")
    if p.old.observed_generation != p.gen:  # a new spec: do its references still match?
        if spec.model_service_ref is not None:
            got = await refs.resolve(
                deps.objects, KIND, p.res.namespace, spec.model_service_ref.name
            )
            if isinstance(got, refs.Resolved) and got.uuid != before.model_service_uuid:
                changed.append("spec.modelServiceRef")
        if spec.model_ref is not None:
            found = await refs.resolve(
                deps.objects, MODEL_KIND, p.res.namespace, spec.model_ref.name
            )
            if isinstance(found, refs.Resolved) and found.uuid != before.model_uuid:
                changed.append("spec.modelRef")
        if spec.model_ref is None and spec.model_uuid is None and before.model_uuid is not None:
            changed.append("spec.modelRef")
    return changed


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(w.title() for w in rest)


async def _rename(p: Pass, deps: ChainDeps, api: ChainAPI, group: Group, name: str) -> Group:
    stamp = group.last_op_date.isoformat() if group.last_op_date else ""
    failed_jobs = p.new.failed_jobs or 0
    job = jobs.job_uuid(p.res.uid, JobAction.UPDATE, stamp, p.gen, failed_jobs, name)
    try:
        renamed = await sent(
            api.ai.update_instance_group(group.uuid, name, job_uuid=job, wait=deps.job_wait),
            lambda: after_job(
                api,
                job,
                "UpdateModelServiceInstanceGroup",
                deps.job_wait,
                lambda: api.ai.get_instance_group(group.uuid),
            ),
        )
    except ZStackAPIError:
        p.update(failed_jobs=failed_jobs + 1)
        raise
    if p.old.observed_generation == p.gen:
        p.notice(
            EventReason.DRIFT_REPAIRED,
            f"the instance group was renamed in ZStack outside Kubernetes; renamed it back to "
            f"{name!r}",
        )
    return renamed


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _observed(p: Pass, group: Group) -> None:
    """The group's facts and its instances' URLs into status."""
    instances = [
        InstanceStatus(
            uuid=i.uuid,
            name=i.name,
            status=i.status,
            url=i.url or None,
            internal_url=i.internal_url or None,
            url_maps={k: _text(v) for k, v in list((i.url_maps or {}).items())[:_MAX_URL_MAPS]}
            or None,
        )
        for i in (group.instances or [])[:_MAX_INSTANCES]
    ]
    running = [i for i in instances if i.status == RUNNING]
    endpoint = next((i.url for i in running if i.url), None)
    p.update(
        uuid=group.uuid,
        status=group.status,
        instances=instances or None,
        ready_instances=f"{len(running)}/{len(instances)}",
        endpoint=endpoint if group.status == RUNNING else None,
        model_service_uuid=group.model_service_uuid or p.new.model_service_uuid,
        model_uuid=group.model_uuid or p.new.model_uuid,
        create_date=st.rfc3339(group.create_date),
        last_op_date=st.rfc3339(group.last_op_date),
    )


def _ready(p: Pass, group: Group) -> bool:
    """Set Ready from the group and its instances; True when it serves."""
    instances = group.instances or []
    running = sum(1 for i in instances if i.status == RUNNING)
    state = group.status or "Unknown"
    if state == RUNNING and instances and running == len(instances):
        p.ready(True, ReadyReason.AVAILABLE, f"serving at {p.new.endpoint}")
        return True
    if state in FAILED_STATES:
        p.ready(
            False,
            ReadyReason.FAILED,
            f"instance group {group.uuid} is {state} in ZStack; delete and re-create this "
            "ModelServiceDeployment to deploy again",
        )
        return False
    p.ready(
        False,
        ReadyReason.DEPLOYING,
        f"instance group {group.uuid} is {state} in ZStack ({running}/{len(instances)} "
        "instances running)",
    )
    return False


async def finalize_deployment(res: Resource, deps: ChainDeps, *, attempt: int = 0) -> KindOutcome:
    """Delete the instance group (policy Delete); a Deploy job still out is settled first."""
    p = Pass(res, deps, DEPLOYMENT_PLURAL, DeploymentStatus)
    if res.spec.get("deletionPolicy") == DeletionPolicy.ORPHAN:
        return KindOutcome(Done(), p.new)
    held = await paused_deletion(p)
    if held is not None:
        return held
    if not p.old.uuid and p.old.pending_job is None:
        return KindOutcome(Done(), p.new)  # a deploy is never sent before it is recorded
    try:
        api = await connection(p, deps, res.spec.get("connectionRef"), exists=True)
        uuid = p.old.uuid
        if uuid is None:
            assert p.old.pending_job is not None
            spec = DeploymentSpec.model_construct(**_snake(res.spec))
            settled = await _settle(p, deps, api, spec, p.old.pending_job)
            if settled is None:
                return KindOutcome(Done(), p.new)
            uuid = settled.uuid
        job = jobs.job_uuid(res.uid, JobAction.DELETE, p.old.failed_jobs or 0)
        await sent(
            api.ai.delete_instance_group(uuid, job_uuid=job, wait=deps.job_wait),
            lambda: api.ai.wait_job(
                job, api="DeleteModelServiceInstanceGroup", timeout=deps.job_wait
            ),
        )
    except Stop as stop:
        if isinstance(stop.result, Requeue):
            return await p.finish_anyway(stop.result)
        return await p.finish_anyway(Retry(f"deletion waits for the connection: {stop}"))
    except JobTimeoutError:
        p.ready(False, ReadyReason.DELETING, "deleting the instance group in ZStack")
        return await p.finish_anyway(Requeue(POLL, "a ZStack job is still running"))
    except ZStackAPIError as exc:
        if exc.error.code != "SYS.1003":
            p.update(failed_jobs=(p.old.failed_jobs or 0) + 1)
            return await _delete_failed(p, exc)
    except ZStackError as exc:
        return await _delete_failed(p, exc)
    log.info("%s: deleted instance group %s", res.ref, uuid)
    return KindOutcome(Done(), p.new)


def _snake(spec: Any) -> dict[str, Any]:
    """Enough of a stored spec to name the group (the deletion of a spec that may be invalid)."""
    return {"name": spec.get("name")}


async def _delete_failed(p: Pass, exc: ZStackError) -> KindOutcome:
    p.synced(False, SyncedReason.RECONCILE_ERROR, f"delete failed: {st.describe(exc)} (will retry)")
    p.update(error=st.error_status(exc))
    return await p.finish_anyway(Retry(f"delete failed: {st.describe(exc)}"))
