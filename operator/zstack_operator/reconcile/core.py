"""Observe -> plan -> act for one ModelService, with one status write at the end of the pass.

Called by ``handlers`` (create, resume, update) and the drift loop with plain data; it never
sees kopf. Crash safety rests on derived identities, not on writes made ahead of ZStack: the
service's uuid is ``spec.resourceUuid`` or the object's uid, and every job uuid is derived from
what the object already holds (``jobs``). A pass that dies anywhere is followed by one that
sends the same job again, which ZStack refuses as a duplicate and the client follows; a create
ZStack has forgotten (after hours) fails on the taken uuid, and the service is then found by
it. So a happy-path create costs one status write, not two (docs/writes.md).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from .. import plan as planning
from .. import status as st
from ..connections import DEFAULT_CONNECTION, CredentialsError
from ..resources import (
    ConditionType,
    EventReason,
    ManagementPolicy,
    ModelServiceSpec,
    PendingJob,
    ReadyReason,
    SyncedReason,
)
from ..zstack.errors import ErrorKind, ZStackError
from ..zstack.models import ModelServiceInventory
from . import jobs
from .act import JOB_REQUEUE, change, create
from .model import (
    Deps,
    Done,
    Outcome,
    Requeue,
    Resource,
    Result,
    Retry,
    ServiceAPI,
    StatusWriteError,
    Terminal,
)
from .passes import Pass

log = logging.getLogger(__name__)


def parse_spec(res: Resource) -> ModelServiceSpec:
    """The typed spec; ValidationError when the stored object breaks the model."""
    return ModelServiceSpec.model_validate(dict(res.spec))


def validation_message(exc: ValidationError) -> str:
    """The first few schema errors as ``spec.<field>: <why>``."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"spec.{loc}: {err['msg']}")
    return "; ".join(parts)


def service_uuid(res: Resource, spec: ModelServiceSpec | None = None) -> str:
    """The ZStack uuid of the object's service: status, else spec.resourceUuid, else the uid."""
    recorded = res.status.get("uuid")
    if recorded:
        return str(recorded)
    chosen = spec.resource_uuid if spec else res.spec.get("resourceUuid")
    return str(chosen) if chosen else res.uid.replace("-", "").lower()


async def reconcile(
    res: Resource, deps: Deps, *, max_age: float = 0.0, attempt: int = 0
) -> Outcome:
    """Bring ZStack to the spec (or report it, in Observe mode); ``max_age`` allows cached reads.

    ``attempt`` is the retry number of this change (see ``jobs.believed``).
    """
    p = Pass(res, deps.write_status)
    try:
        result = await _reconcile(p, deps, max_age, attempt)
    except CredentialsError as exc:
        p.ready_if_unset(ReadyReason.NOT_CREATED, "not created yet: no usable ZStack credentials")
        p.synced(False, SyncedReason.RECONCILE_ERROR, str(exc))
        result = Retry(str(exc))
    except ZStackError as exc:
        result = failed(p, exc)
    try:
        return await p.finish(result)
    except StatusWriteError as exc:
        return Outcome(Retry(f"cannot write the status: {exc}"), p.new)


def failed(p: Pass, exc: ZStackError) -> Result:
    """Report a ZStack failure: transient ones are retried, refusals wait for a fix."""
    created = bool(p.old.uuid or p.new.uuid) and p.new.pending_job is None
    message = st.describe(exc)
    p.update(error=st.error_status(exc))
    if exc.transient:
        if not created:
            p.ready(False, ReadyReason.CREATING, "waiting for ZStack to accept the model service")
        p.synced(False, SyncedReason.RECONCILE_ERROR, f"{message} (will retry)")
        return Retry(message)
    if exc.kind == ErrorKind.AUTH:
        message += "; fix the credentials Secret (it is re-read within minutes)"
    else:
        message += "; fix the spec to retry"
    if not created:
        p.ready(False, ReadyReason.NOT_CREATED, "not created: ZStack refused the model service")
    p.synced(False, SyncedReason.REJECTED, message)
    p.update(observed_generation=p.gen)
    return Terminal(message)


async def _reconcile(p: Pass, deps: Deps, max_age: float, attempt: int) -> Result:
    res = p.res
    try:
        spec = parse_spec(res)
    except ValidationError as exc:
        return _invalid(p, validation_message(exc))
    if spec.connection_ref and spec.connection_ref.name != DEFAULT_CONNECTION:
        return _invalid(
            p,
            f"spec.connectionRef.name {spec.connection_ref.name!r} is unknown: this operator has "
            f"only the {DEFAULT_CONNECTION!r} connection; remove spec.connectionRef",
        )
    observe_only = spec.management_policy == ManagementPolicy.OBSERVE
    if res.paused and not observe_only:
        p.ready_if_unset(ReadyReason.NOT_CREATED, "not created: paused before the first create")
        p.synced(False, SyncedReason.PAUSED, "paused by annotation ai.zstack.io/paused; no writes")
        return Done()
    api = await deps.connections.get(spec.connection_ref.name if spec.connection_ref else None)
    uuid = service_uuid(res, spec)

    inv: ModelServiceInventory | None = None
    known = False
    if p.old.pending_job is not None:
        settled = await _settle_pending(p, api, p.old.pending_job, deps.job_wait, attempt)
        if not isinstance(settled, jobs.Finished):
            return settled
        inv, known = settled.inventory, settled.inventory is not None
    if not known:
        if p.old.uuid is None and spec.resource_uuid is None and not observe_only:
            inv = None  # never recorded: a create, which also finds a service a lost pass made
        else:
            inv = await api.read(uuid, max_age=max_age)

    def plan_for(observed: ModelServiceInventory | None) -> planning.Action:
        return planning.plan(
            spec,
            observed,
            uuid=uuid,
            default_name=res.name,
            created_with=p.old.created_with,
            observe_only=observe_only,
        )

    action = plan_for(inv)
    if max_age > 0 and isinstance(action, planning.Create | planning.Change):
        # Never write on the strength of a cached read: confirm with a fresh one first.
        inv = await api.read(uuid, max_age=0.0)
        action = plan_for(inv)
    return await _act(p, deps, api, spec, uuid, inv, action, attempt)


def _invalid(p: Pass, message: str) -> Result:
    p.ready_if_unset(ReadyReason.NOT_CREATED, "not created: the spec is invalid")
    p.synced(False, SyncedReason.INVALID_SPEC, message)
    p.update(observed_generation=p.gen)
    return Terminal(message)


async def _settle_pending(
    p: Pass, api: ServiceAPI, job: PendingJob, wait: float, attempt: int
) -> jobs.Finished | Result:
    """The recorded job's end; a Result when the pass must stop here."""
    settled = await jobs.settle(api, job.uuid, job.action, wait=wait, attempt=attempt)
    if isinstance(settled, jobs.Running):
        return Requeue(JOB_REQUEUE, f"ZStack job {job.uuid} ({job.action}) is still running")
    p.update(pending_job=None)
    if isinstance(settled, jobs.Failed):
        if not settled.believed:
            p.update(pending_job=job)
            raise settled.error  # keep the job recorded and ask again on the next pass
        p.update(failed_jobs=(p.new.failed_jobs or 0) + 1)
        if job.generation == p.gen:
            raise settled.error  # still the spec it failed for: report it
        return jobs.Finished(None)  # the spec changed since: plan afresh
    return settled


async def _act(
    p: Pass,
    deps: Deps,
    api: ServiceAPI,
    spec: ModelServiceSpec,
    uuid: str,
    inv: ModelServiceInventory | None,
    action: planning.Action,
    attempt: int,
) -> Result:
    if isinstance(action, planning.Refuse):
        return _refuse(p, uuid, inv, action)
    if isinstance(action, planning.Report):
        return _report(p, uuid, inv, action)
    got: ModelServiceInventory | Result | None = inv  # Noop: what was observed
    if isinstance(action, planning.Create):
        got = await create(p, deps, api, spec, uuid, action, attempt)
    elif isinstance(action, planning.Change):
        assert inv is not None
        got = await change(p, deps, api, uuid, inv, action, attempt)
    if not isinstance(got, ModelServiceInventory):
        return got or Retry(f"ZStack returned no inventory for {uuid}")
    api.remember(uuid, got)
    p.new = st.with_inventory(p.new, got)
    p.ready(True, ReadyReason.AVAILABLE, "the model service exists in ZStack")
    p.synced(True, SyncedReason.RECONCILE_SUCCESS, "ZStack matches the spec")
    p.update(observed_generation=p.gen, error=None, pending_job=None)
    return Done()


def _refuse(
    p: Pass, uuid: str, inv: ModelServiceInventory | None, action: planning.Refuse
) -> Result:
    if inv is not None and p.old.uuid == uuid:
        p.new = st.with_inventory(p.new, inv)  # ours: keep its facts current
    p.ready_if_unset(ReadyReason.NOT_CREATED, "not created: the spec was refused")
    p.synced(False, SyncedReason.IMMUTABLE_FIELD_CHANGED, action.message)
    p.update(observed_generation=p.gen)
    return Terminal(action.message)


def _report(
    p: Pass, uuid: str, inv: ModelServiceInventory | None, action: planning.Report
) -> Result:
    if action.missing:
        p.ready(False, ReadyReason.NOT_FOUND, f"no model service {uuid} in ZStack")
        p.synced(False, SyncedReason.OBSERVING, "observing only; the service does not exist")
    else:
        assert inv is not None
        p.new = st.with_inventory(p.new, inv)
        p.ready(True, ReadyReason.AVAILABLE, "the model service exists in ZStack")
        names = ", ".join(planning.camel(f) for f in action.fields)
        message = f"observing only; ZStack differs from the spec in {names}"
        before = st.condition(p.old, ConditionType.SYNCED)
        if before is not None and before.message != message:  # the first says it already
            p.notice(EventReason.DRIFT_DETECTED, f"ZStack differs from the spec in {names}")
        p.synced(False, SyncedReason.OBSERVING, message)
    p.update(observed_generation=p.gen, error=None)
    return Done()
