"""Finalizer-backed deletion of one ModelService's ZStack service.

Owned here: ``finalize``. With ``deletionPolicy: Delete`` in Manage mode it deletes the service
and answers ``Done`` only once ZStack confirms (or the service is already gone); Orphan and
Observe never touch ZStack. A create that may still be under way is settled first, or it could
land after the delete and leak: the recorded job if there is one, else the job a pass that died
before writing status would have sent (its uuid is derived, ``jobs.create_job``). Status writes
here are best effort: a status that cannot be written never holds a deletion up.
"""

from __future__ import annotations

import logging

from .. import status as st
from ..connections import OPERATOR_DEFAULT, CredentialsError
from ..connections.keys import from_shown
from ..resources import DeletionPolicy, JobAction, ManagementPolicy, PendingJob, ReadyReason
from ..resources import SyncedReason as Synced
from ..zstack.errors import ZStackError
from . import jobs
from .act import JOB_REQUEUE
from .model import Deps, Done, Outcome, Requeue, Resource, Result, Retry, ServiceAPI
from .passes import Pass

log = logging.getLogger(__name__)

#: Seconds between two looks at a paused object's deletion (it proceeds this soon after unpause).
PAUSED_RECHECK = 10.0
#: Seconds between two looks at a deletion that waits for the deployments of the service.
USERS_RECHECK = 6.0
#: ZStack's answer to a delete of a uuid it does not have.
_GONE = "SYS.1003"


async def finalize(res: Resource, deps: Deps, *, attempt: int = 0) -> Outcome:
    """Delete the ZStack service (policy Delete, Manage mode) before the object goes."""
    p = Pass(res, deps.write_status)
    spec = p.res.spec
    if spec.get("deletionPolicy") == DeletionPolicy.ORPHAN or (
        spec.get("managementPolicy") == ManagementPolicy.OBSERVE
    ):
        return Outcome(Done(), p.new)
    if p.res.paused:
        p.synced(False, Synced.PAUSED, "deletion waits: paused by annotation ai.zstack.io/paused")
        return await p.finish_anyway(Requeue(PAUSED_RECHECK, "deletion waits while paused"))
    using = await deps.users(res) if deps.users is not None else []
    if using:
        # ZStack refuses to delete a service whose instance groups exist (SYS.1006).
        message = f"deletion waits for {', '.join(using)}, which deploy this model service"
        p.ready(False, ReadyReason.DELETING, message)
        return await p.finish_anyway(Requeue(USERS_RECHECK, message))
    try:
        api = await _connection(p, deps)
        if api is None:
            return Outcome(Done(), p.new)
        result = await _delete(p, api, deps.job_wait, attempt)
    except CredentialsError as exc:
        message = (
            f"deletion waits for the connection: {exc}; to delete this object without touching "
            "ZStack, set spec.deletionPolicy: Orphan"
        )
        p.synced(False, Synced.CONNECTION_UNAVAILABLE, message)
        result = Retry(message)
    except ZStackError as exc:
        log.warning("%s: deleting model service %s failed: %s", p.res.ref, p.old.uuid, exc)
        p.synced(False, Synced.RECONCILE_ERROR, f"delete failed: {st.describe(exc)} (will retry)")
        p.update(error=st.error_status(exc))
        result = Retry(f"delete failed: {st.describe(exc)}")
    if isinstance(result, Done):
        return Outcome(result, p.new)  # the object goes now: no status to write
    return await p.finish_anyway(result)


async def _connection(p: Pass, deps: Deps) -> ServiceAPI | None:
    """Where the service lives; None when no create can have been sent (nothing to delete).

    A service exists only through a connection that worked, and ``status.connection`` is
    written once one has. Without it, a create is out only if this process sent it, or an
    earlier one did (the object is older than this process): else, with no usable connection,
    the object may go.
    """
    old = p.old
    pinned = (old.connection or OPERATOR_DEFAULT) if old.uuid else old.connection
    if pinned is not None:
        return await deps.connections.get(from_shown(p.res.namespace, pinned), p.res.namespace)
    key = deps.connections.resolve(p.res.namespace, p.res.spec.get("connectionRef"), None)
    try:
        return await deps.connections.get(key, p.res.namespace)
    except CredentialsError:
        if old.pending_job is None and not deps.maybe_sent(
            p.res, jobs.create_job(p.res.uid, old.failed_jobs or 0, None)
        ):
            return None
        raise


async def _delete(p: Pass, api: ServiceAPI, wait: float, attempt: int) -> Result:
    uuid = p.old.uuid
    job = p.old.pending_job
    failed = p.old.failed_jobs or 0
    if uuid is None or (job is not None and job.action is JobAction.CREATE):
        create = job.uuid if job is not None else jobs.create_job(p.res.uid, failed, None)
        settled = await jobs.settle(api, create, JobAction.CREATE, wait=wait, attempt=attempt)
        if isinstance(settled, jobs.Running):
            return Requeue(JOB_REQUEUE, f"waiting for create job {create} before deleting")
        if isinstance(settled, jobs.Failed):
            if not settled.believed:
                raise settled.error
            if uuid is None:
                return Done()  # that create failed, and no other was ever sent
        elif settled.inventory is not None:
            uuid = settled.inventory.uuid
        elif uuid is None and settled.unknown and not p.res.spec.get("resourceUuid"):
            # Never sent, or sent hours ago and forgotten: the uid-derived uuid tells.
            own = p.res.uid.replace("-", "").lower()
            uuid = own if await api.read(own, max_age=0.0) is not None else None
    if uuid is None:
        return Done()
    delete = jobs.job_uuid(p.res.uid, JobAction.DELETE, failed)
    # Derived, so a delete still running from an earlier pass is followed, not sent again.
    return await _deleted(p, api, uuid, delete, wait, attempt)


async def _deleted(
    p: Pass, api: ServiceAPI, uuid: str, job: str, wait: float, attempt: int
) -> Result:
    call = api.delete_model_service(uuid, job_uuid=job, wait=wait)
    settled = await jobs.outcome(call, api, job, JobAction.DELETE, wait=wait, attempt=attempt)
    if isinstance(settled, jobs.Running):
        p.update(pending_job=PendingJob(uuid=job, action=JobAction.DELETE,
                                        started_at=st.now_rfc3339(precise=True),
                                        generation=p.gen))  # fmt: skip
        p.ready(False, ReadyReason.DELETING, f"deleting the model service in ZStack (job {job})")
        return Requeue(JOB_REQUEUE, f"ZStack delete job {job} is still running")
    if isinstance(settled, jobs.Failed):
        if settled.error.code == _GONE:
            settled = jobs.Finished(None)
        else:
            if settled.believed:
                p.update(failed_jobs=(p.new.failed_jobs or 0) + 1, pending_job=None)
            raise settled.error
    api.remember(uuid, None)
    return Done()
