"""The two actions that write to ZStack: create a service, and change one that exists.

Owned here: sending AddModelService, UpdateModelService and the bind/unbind calls with their
derived job uuids (``jobs``), and turning how each job ended into status: a job still running
is recorded in ``status.pendingJob`` and read as progress (Ready=False Creating or Updating),
so the next pass waits for it instead of sending it again; a failure is raised for
``core.failed`` to report. Each returns the service's inventory, or the ``Result`` that ends
the pass early.
"""

from __future__ import annotations

import logging

from .. import plan as planning
from .. import status as st
from ..resources import EventReason, JobAction, ModelServiceSpec, PendingJob, ReadyReason
from ..zstack.errors import ZStackAPIError
from ..zstack.models import ModelServiceInventory
from . import jobs, ownership
from .model import Deps, Requeue, Result, ServiceAPI
from .passes import Pass

log = logging.getLogger(__name__)

#: Seconds between two looks at a job that outlived a pass's wait.
JOB_REQUEUE = 2.0


def _ended(p: Pass, settled: jobs.Settled, job: str, action: JobAction) -> Result | None:
    """None when the job finished well; a Requeue while it runs; raises its failure."""
    record = PendingJob(
        uuid=job, action=action, started_at=st.now_rfc3339(precise=True), generation=p.gen
    )
    if isinstance(settled, jobs.Running):
        p.update(pending_job=record)
        what = "creating the model service in ZStack" if action is JobAction.CREATE else (
            f"waiting for ZStack to {action.lower()} the model service")  # fmt: skip
        busy = ReadyReason.CREATING if action is JobAction.CREATE else ReadyReason.UPDATING
        p.ready(False, busy, f"{what} (job {job} is running)")
        return Requeue(JOB_REQUEUE, f"ZStack job {job} ({action}) is still running")
    if isinstance(settled, jobs.Failed):
        if settled.believed:
            p.update(failed_jobs=(p.new.failed_jobs or 0) + 1, pending_job=None)
            if action is JobAction.CREATE and p.old.created_with is None:
                p.update(uuid=None)  # ZStack never held it: nothing is frozen, nothing to delete
        else:
            p.update(pending_job=record)  # ask this job again; never send a second one
        raise settled.error
    return None


async def _sent_already(
    p: Pass, deps: Deps, api: ServiceAPI, job: str, attempt: int
) -> jobs.Settled | None:
    """How the create job ended, if it is already out; None when ZStack does not know it.

    An earlier process may have sent it and died before writing status: asking first means it
    is followed, never sent twice.
    """
    if not deps.maybe_sent(p.res, job):
        return None
    settled = await jobs.settle(api, job, JobAction.CREATE, wait=deps.job_wait, attempt=attempt)
    if isinstance(settled, jobs.Finished) and settled.unknown:
        return None
    return settled


async def create(
    p: Pass,
    deps: Deps,
    api: ServiceAPI,
    spec: ModelServiceSpec,
    uuid: str,
    action: planning.Create,
    attempt: int,
) -> ModelServiceInventory | Result:
    """AddModelService with the uuid the object owns; finds a service a lost pass created."""
    replaces = p.old.create_date if p.old.uuid else None
    job = jobs.create_job(p.res.uid, p.new.failed_jobs or 0, replaces)
    settled = await _sent_already(p, deps, api, job, attempt)
    if settled is None:
        deps.sent.add(job)
        call = api.add_model_service(
            action.param,
            system_tags=action.system_tags,
            user_tags=[*(action.user_tags or ()), ownership.owner_tag(p.res)],
            job_uuid=job,
            wait=deps.job_wait,
        )
        settled = await jobs.outcome(
            call, api, job, JobAction.CREATE, wait=deps.job_wait, attempt=attempt
        )
    if not isinstance(settled, jobs.Running):
        deps.sent.discard(job)
    inv: ModelServiceInventory | None = None
    try:
        early = _ended(p, settled, job, JobAction.CREATE)
    except ZStackAPIError as exc:
        if spec.resource_uuid is not None and jobs.uuid_taken(exc):
            # Taken, yet not found by the read before: another account's. Say so, once.
            if await api.read(uuid, max_age=0.0) is None:
                return ownership.refuse(p, ownership.invisible(uuid), observe_only=False)
            raise
        # A create that ZStack has forgotten (its job expired hours ago) fails on the taken
        # uuid; a uuid derived from the object's own uid can only be this object's service.
        if spec.resource_uuid is not None or not isinstance(settled, jobs.Failed):
            raise
        inv = await api.read(uuid, max_age=0.0)
        if inv is None:
            raise
        early = None
    if early is not None:
        p.update(uuid=uuid)
        return early
    if inv is None:
        assert isinstance(settled, jobs.Finished)
        inv = settled.inventory or await api.read(uuid, max_age=0.0)
    if inv is None:
        return Requeue(JOB_REQUEUE, f"ZStack does not show {uuid} yet")
    p.update(created_with=planning.created_with(spec))
    if replaces is not None:
        log.warning("%s: model service %s was deleted in ZStack; created it again", p.res.ref, uuid)
        p.notice(
            EventReason.RECREATED,
            f"the model service {uuid} was deleted in ZStack outside Kubernetes; created it again",
        )
    return inv


async def change(
    p: Pass,
    deps: Deps,
    api: ServiceAPI,
    uuid: str,
    inv: ModelServiceInventory,
    action: planning.Change,
    attempt: int,
) -> ModelServiceInventory | Result:
    """UpdateModelService for drifted fields, then bind and unbind models one by one."""
    # The generation too: ZStack prints lastOpDate to the second, so two spec changes applied
    # within one second would otherwise derive the same job and the second would follow the
    # first instead of being sent.
    state, failed = f"{jobs.fingerprint(inv)}|{p.gen}", p.new.failed_jobs or 0
    uid, wait = p.res.uid, deps.job_wait
    if action.update is not None:
        job = jobs.job_uuid(uid, JobAction.UPDATE, state, failed)
        log.info("%s: updating %s fields %s", p.res.ref, uuid, ", ".join(action.fields))
        call = api.update_model_service(uuid, action.update, job_uuid=job, wait=wait)
        settled = await jobs.outcome(call, api, job, JobAction.UPDATE, wait=wait, attempt=attempt)
        if (early := _ended(p, settled, job, JobAction.UPDATE)) is not None:
            return early
        if isinstance(settled, jobs.Finished) and settled.inventory is not None:
            inv = settled.inventory
    for verb, models in ((JobAction.BIND, action.bind), (JobAction.UNBIND, action.unbind)):
        send = api.bind_model if verb is JobAction.BIND else api.unbind_model
        for model in models:
            job = jobs.job_uuid(uid, verb, model, state, failed)
            sent = send(model, uuid, job_uuid=job, wait=wait)
            settled = await jobs.outcome(sent, api, job, verb, wait=wait, attempt=attempt)
            if (early := _ended(p, settled, job, verb)) is not None:
                return early
    if action.bind or action.unbind:
        fresh = await api.read(uuid, max_age=0.0)
        if fresh is None:
            return Requeue(JOB_REQUEUE, f"ZStack does not show {uuid} after binding models")
        inv = fresh
    if p.old.observed_generation == p.gen:
        names = ", ".join(planning.camel(f) for f in planning.changed_fields(action))
        log.warning("%s: model service %s drifted in %s; repaired", p.res.ref, uuid, names)
        p.notice(
            EventReason.DRIFT_REPAIRED,
            f"ZStack differed from the spec in {names} (changed outside Kubernetes); "
            "changed it back",
        )
    return inv
