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
from ..connections import OPERATOR_DEFAULT, CredentialsError
from ..connections.keys import from_shown, shown
from ..resources import (
    ConditionType,
    EventReason,
    JobAction,
    ManagementPolicy,
    ModelServiceSpec,
    PendingJob,
    ReadyReason,
    SyncedReason,
    releases,
)
from ..zstack.errors import ErrorKind, ZStackError, ZStackTimeSkewError
from ..zstack.models import ModelServiceInventory
from . import jobs, ownership
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
        result = _unavailable(p, exc)
    except ZStackError as exc:
        result = failed(p, exc)
    try:
        return await p.finish(result)
    except StatusWriteError as exc:
        return Outcome(Retry(f"cannot write the status: {exc}"), p.new)


def _unavailable(p: Pass, exc: CredentialsError) -> Result:
    """The connection cannot be used: wait for it to change (the pool says when), or retry."""
    if not (p.old.uuid or p.new.uuid):
        p.ready(False, ReadyReason.NOT_CREATED, "not created: the ZStack connection is not usable")
    if exc.reason == "SecretUnreadable":  # the API server's trouble, not the user's
        p.synced(False, SyncedReason.RECONCILE_ERROR, f"{exc} (will retry)")
        return Retry(str(exc))
    p.synced(False, SyncedReason.CONNECTION_UNAVAILABLE, f"{exc}; a fix is picked up at once")
    p.update(observed_generation=p.gen)
    return Terminal(str(exc))


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
    if isinstance(exc, ZStackTimeSkewError):
        pass  # its message names the fix: the connection's time zone
    elif exc.kind == ErrorKind.AUTH:
        message += "; fix the connection's credentials Secret (a change is picked up at once)"
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
    if spec.model_refs and deps.model_refs is not None:
        found = await deps.model_refs(res)
        if isinstance(found, str):
            return _waiting(p, found, attempt)
        spec = spec.model_copy(update={"model_uuids": sorted({*(spec.model_uuids or ()), *found})})
    observe_only = spec.management_policy == ManagementPolicy.OBSERVE
    if res.paused and not observe_only:
        p.ready_if_unset(ReadyReason.NOT_CREATED, "not created: paused before the first create")
        p.synced(False, SyncedReason.PAUSED, "paused by annotation ai.zstack.io/paused; no writes")
        return Done()
    ref = res.spec.get("connectionRef")
    # The service lives in the account of the connection it was created through.
    pinned = (p.old.connection or OPERATOR_DEFAULT) if p.old.uuid else None
    key = deps.connections.resolve(res.namespace, ref, pinned)
    if pinned is not None and key != from_shown(res.namespace, pinned):
        return _refuse_move(p, shown(key), pinned)
    api = await deps.connections.get(key, res.namespace)
    p.update(connection=shown(key))  # only once usable: no create went out before this
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

    # Only fields some release lacks matter here; a spec with none asks no version.
    given = [f for f in releases.SINCE if getattr(spec, f) is not None]
    version = await api.zstack_release() if given else None
    unknown = releases.unsupported(version, given)

    def plan_for(observed: ModelServiceInventory | None) -> planning.Action:
        return planning.plan(
            spec,
            observed,
            uuid=uuid,
            default_name=res.name,
            created_with=p.old.created_with,
            observe_only=observe_only,
            unsupported=frozenset(unknown),
        )

    if inv is not None and p.old.uuid is None and spec.resource_uuid is not None:
        verdict = await ownership.check(res, api, uuid, spec, observe_only=observe_only)
        if verdict.refusal is not None:
            return ownership.refuse(p, verdict.refusal, observe_only=observe_only)
        if verdict.adopt:
            await ownership.adopt(res, api, uuid, wait=deps.job_wait)
            p.notice(
                EventReason.ADOPTED,
                f"adopted the existing model service {uuid}: it is now managed by this "
                "ModelService and marked with its owner tag",
                warning=False,
            )
    action = plan_for(inv)
    if max_age > 0 and isinstance(action, planning.Create | planning.Change):
        # Never write on the strength of a cached read: confirm with a fresh one first.
        inv = await api.read(uuid, max_age=0.0)
        action = plan_for(inv)
    result = await _act(p, deps, api, spec, uuid, inv, action, attempt)
    if unknown and isinstance(result, Done):
        _unsupported(p, unknown, version)
    return result


def _unsupported(p: Pass, names: tuple[str, ...], version: str | None) -> None:
    """Say once (condition message, one Warning Event) which fields ZStack ignores here."""
    fields = ", ".join(f"spec.{planning.camel(n)}" for n in names)
    note = f"ZStack {version} does not support {fields}: not sent, not compared"
    synced = st.condition(p.new, ConditionType.SYNCED)
    if synced is None or note in synced.message:
        return
    before = st.condition(p.old, ConditionType.SYNCED)
    if before is None or note not in before.message:
        p.notice(EventReason.UNSUPPORTED_FIELDS, note)
    ok = synced.status == "True"
    p.synced(ok, SyncedReason(synced.reason), f"{synced.message}; {note}")


def _waiting(p: Pass, message: str, attempt: int) -> Result:
    """A Model of spec.modelRefs is missing or not Ready: say which, look again soon."""
    if not (p.old.uuid or p.new.uuid):
        p.ready(False, ReadyReason.WAITING_FOR_DEPENDENCY, message)
    p.synced(False, SyncedReason.WAITING_FOR_DEPENDENCY, message)
    p.update(observed_generation=p.gen)
    return Requeue(3.0 if attempt < 10 else min(30.0, 3.0 * (attempt - 8)), message)


def _refuse_move(p: Pass, wanted: str, pinned: str) -> Result:
    message = (
        f"spec.connectionRef names {wanted}, but model service {p.old.uuid} was created through "
        f"{pinned} and lives in its ZStack account; restore spec.connectionRef (or remove it)"
    )
    p.synced(False, SyncedReason.IMMUTABLE_FIELD_CHANGED, message)
    p.update(observed_generation=p.gen)
    return Terminal(message)


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
        if job.action is JobAction.CREATE and p.old.created_with is None:
            p.update(uuid=None)  # ZStack never held it: nothing is frozen, nothing to delete
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
