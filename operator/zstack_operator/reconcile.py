"""Observe -> plan -> act -> status for one ModelService; and its finalizer-backed deletion.

Called by ``handlers`` (create, resume, update, the drift timer and delete) with plain data; it
never sees kopf. Crash safety rests on one rule: the ZStack uuid and the create job's uuid are
written to ``.status`` *before* the create call, so a restart resumes that job or finds the
service by uuid, and no path can add a second service for one resource.

Outcomes, not exceptions, carry what kopf should do next: ``retry`` (transient, back off),
``terminal`` (wait for a spec or Secret change) or done. Status is written only when it changed.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from . import plan as planning
from . import status as st
from .connections import DEFAULT_CONNECTION, Connection, ConnectionPool, CredentialsError
from .resources import (
    ANNOTATION_PAUSED,
    ConditionType,
    CreatedWith,
    DeletionPolicy,
    JobAction,
    ManagementPolicy,
    ModelServiceSpec,
    ModelServiceStatus,
    PendingJob,
    ReadyReason,
    SyncedReason,
)
from .zstack.errors import (
    DuplicateJobError,
    ErrorKind,
    JobExpiredError,
    JobTimeoutError,
    ZStackAPIError,
    ZStackError,
)
from .zstack.models import ModelServiceInventory

log = logging.getLogger(__name__)

_JOB_NAMESPACE = uuidlib.UUID("6c1f3c1e-8a0f-4f5e-9d43-7d1b2a0c9e55")


@dataclass(frozen=True)
class Resource:
    """What reconcile needs of a ModelService object."""

    namespace: str
    name: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def paused(self) -> bool:
        """``ai.zstack.io/paused: "true"`` stops every write."""
        return self.annotations.get(ANNOTATION_PAUSED, "").strip().lower() == "true"


class StatusWriter(Protocol):
    """Writes a merge patch to the resource's status subresource."""

    async def __call__(self, resource: Resource, patch: dict[str, Any]) -> None: ...


@dataclass
class Outcome:
    """The result of one pass: the status it left, Events to post, and what comes next."""

    status: ModelServiceStatus
    events: list[st.Transition] = field(default_factory=list)
    #: Try again soon (transient trouble or a job still running).
    retry: bool = False
    #: A job is running: come back after about this many seconds.
    requeue_after: float | None = None
    #: Nothing will change until the spec or the Secret does.
    terminal: bool = False
    done: bool = True


def create_job_uuid(uid: str, generation: int, started_at: str) -> str:
    """The X-Job-UUID of one create attempt, derived from what status records with it.

    The attempt's time is part of the input because a failed job's uuid is spent: ZStack
    answers "Duplicate job uuid" to a second use, so a retry after a failure needs a new one.
    """
    return uuidlib.uuid5(_JOB_NAMESPACE, f"{uid}/create/{generation}/{started_at}").hex


@dataclass
class Deps:
    """What reconcile talks to."""

    connections: ConnectionPool
    write_status: StatusWriter
    job_wait: float = 20.0


class _Pass:
    """One reconcile pass over one resource: keeps the status being built and writes it."""

    def __init__(self, res: Resource, deps: Deps, attempt: int = 0) -> None:
        self.res = res
        self.deps = deps
        #: Passes so far for this change (kopf's retry number); 0 for timers.
        self.attempt = attempt
        self.old = ModelServiceStatus.model_validate(res.status or {})
        self.new = self.old
        self.gen = res.generation
        self.events: list[st.Transition] = []

    def ready(self, ok: bool, reason: ReadyReason, message: str) -> None:
        self.new = st.set_condition(self.new, ConditionType.READY, ok, reason, message, self.gen)

    def synced(self, ok: bool, reason: SyncedReason, message: str) -> None:
        self.new = st.set_condition(self.new, ConditionType.SYNCED, ok, reason, message, self.gen)

    def update(self, **values: Any) -> None:
        self.new = self.new.model_copy(update=values)

    async def flush(self) -> None:
        """Write what changed since the last flush (nothing when nothing changed)."""
        self.new = st.with_kstatus(self.new)
        patch = st.merge_patch(st.dump(self.old), st.dump(self.new))
        if patch:
            await self.deps.write_status(self.res, patch)
            self.events.extend(st.transitions(self.old, self.new))
            self.old = self.new

    def outcome(self, **kw: Any) -> Outcome:
        return Outcome(status=self.new, events=list(self.events), **kw)


def parse_spec(spec: Mapping[str, Any]) -> ModelServiceSpec:
    """The typed spec; ValidationError when the stored object breaks the model."""
    return ModelServiceSpec.model_validate(dict(spec))


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"spec.{loc}: {err['msg']}")
    return "; ".join(parts)


#: Passes that re-ask a create job whose poll failed transiently before trusting the failure.
DOUBTFUL_JOB_RETRIES = 5


def believed(exc: ZStackAPIError, attempt: int) -> bool:
    """Whether a job's reported failure can be taken as final.

    A poll that keeps failing with SYS.1000/1001 reads exactly like a job that failed with it
    (an expired session, ID.1001, is settled by the client, which follows a resent job).
    Taking it at its word too early would forget a create that may still land: the finalizer
    would then delete ahead of it and leak it. So a transient failure is re-asked on the next
    ``DOUBTFUL_JOB_RETRIES`` passes (kopf's backoff spreads them over minutes); a job that
    really failed that way is believed after that, and its uuid still forbids a duplicate.
    """
    return exc.kind is not ErrorKind.TRANSIENT or attempt >= DOUBTFUL_JOB_RETRIES


async def _finish_job(
    conn: Connection, job: PendingJob, wait: float
) -> ModelServiceInventory | None:
    """The job's inventory; None when ZStack forgot the job (expired) or it returns none.

    Raises the job's error if it failed, and JobTimeoutError if it is still running.
    """
    try:
        return await conn.client.wait_job(job.uuid, api=f"{job.action}ModelService", timeout=wait)
    except JobExpiredError:
        return None


async def reconcile(
    res: Resource, deps: Deps, *, max_age: float = 0.0, attempt: int = 0
) -> Outcome:
    """Bring ZStack to the spec (or report it, in Observe mode); ``max_age`` allows cached reads.

    ``attempt`` is kopf's retry number for this change (see ``believed``).
    """
    p = _Pass(res, deps, attempt)
    try:
        spec = parse_spec(res.spec)
    except ValidationError as exc:
        p.synced(False, SyncedReason.INVALID_SPEC, _validation_message(exc))
        p.update(observed_generation=p.gen)
        await p.flush()
        return p.outcome(terminal=True)
    observe_only = spec.management_policy == ManagementPolicy.OBSERVE
    if spec.connection_ref and spec.connection_ref.name != DEFAULT_CONNECTION:
        p.synced(
            False,
            SyncedReason.INVALID_SPEC,
            f"spec.connectionRef.name {spec.connection_ref.name!r} is unknown: this operator has "
            f"only the {DEFAULT_CONNECTION!r} connection; remove spec.connectionRef",
        )
        p.update(observed_generation=p.gen)
        await p.flush()
        return p.outcome(terminal=True)
    if res.paused and not observe_only:
        p.synced(False, SyncedReason.PAUSED, "paused by annotation ai.zstack.io/paused; no writes")
        await p.flush()
        return p.outcome()
    try:
        return await _reconcile(p, spec, observe_only, max_age)
    except CredentialsError as exc:
        p.synced(False, SyncedReason.RECONCILE_ERROR, str(exc))
        await p.flush()
        return p.outcome(retry=True)
    except ZStackError as exc:
        return await _failed(p, exc)


async def _failed(p: _Pass, exc: ZStackError) -> Outcome:
    if not p.new.uuid and not p.old.uuid:
        p.ready(False, ReadyReason.CREATING, "waiting for ZStack to accept the model service")
    if exc.transient:
        p.synced(False, SyncedReason.RECONCILE_ERROR, f"{st.describe(exc)} (will retry)")
        p.update(error=st.error_status(exc))
        await p.flush()
        return p.outcome(retry=True)
    message = st.describe(exc)
    if exc.kind == ErrorKind.AUTH:
        message += "; fix the credentials Secret (it is re-read within minutes)"
    else:
        message += "; fix the spec to retry"
    p.synced(False, SyncedReason.REJECTED, message)
    p.update(error=st.error_status(exc), observed_generation=p.gen)
    await p.flush()
    return p.outcome(terminal=True)


async def _observe(
    p: _Pass, conn: Connection, uuid: str, max_age: float
) -> ModelServiceInventory | None:
    if max_age > 0:
        return await conn.cache.get(uuid, max_age)
    inv = await conn.reader.get(uuid)
    conn.cache.record(uuid, inv)
    return inv


async def _reconcile(
    p: _Pass, spec: ModelServiceSpec, observe_only: bool, max_age: float
) -> Outcome:
    res, deps = p.res, p.deps
    conn = await deps.connections.get(spec.connection_ref.name if spec.connection_ref else None)
    uuid = p.old.uuid or spec.resource_uuid or res.uid.replace("-", "").lower()

    inv: ModelServiceInventory | None = None
    known = False
    if p.old.pending_job is not None:
        job = p.old.pending_job
        try:
            inv = await _finish_job(conn, job, deps.job_wait)
        except JobTimeoutError:
            return p.outcome(retry=True, requeue_after=2.0)
        except ZStackAPIError as exc:
            if not believed(exc, p.attempt):
                raise  # keep the job recorded and ask again on the next pass
            p.update(pending_job=None)  # the job ran and failed: it left nothing behind
            if job.generation == p.gen:
                raise  # still the spec it failed for: report it
            inv = None  # the spec changed since: plan afresh below
        else:
            p.update(pending_job=None)
        known = inv is not None
    if not known:
        if p.old.uuid is None and spec.resource_uuid is None and not observe_only:
            inv = None  # status never held a uuid, so no create was ever sent for this object
        else:
            inv = await _observe(p, conn, uuid, max_age)

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
        inv = await _observe(p, conn, uuid, 0.0)
        action = plan_for(inv)
    return await _act(p, conn, spec, uuid, inv, action)


async def _act(
    p: _Pass,
    conn: Connection,
    spec: ModelServiceSpec,
    uuid: str,
    inv: ModelServiceInventory | None,
    action: planning.Action,
) -> Outcome:
    deps, res = p.deps, p.res
    if isinstance(action, planning.Refuse):
        if inv is not None:
            p.new = st.with_inventory(p.new, inv)
        p.synced(False, SyncedReason.IMMUTABLE_FIELD_CHANGED, action.message)
        p.update(observed_generation=p.gen)
        await p.flush()
        return p.outcome(terminal=True)
    if isinstance(action, planning.Report):
        if action.missing:
            p.ready(False, ReadyReason.NOT_FOUND, f"no model service {uuid} in ZStack")
            p.synced(False, SyncedReason.OBSERVING, "observing only; the service does not exist")
        else:
            assert inv is not None
            p.new = st.with_inventory(p.new, inv)
            p.ready(True, ReadyReason.AVAILABLE, "the model service exists in ZStack")
            names = ", ".join(planning.camel(f) for f in action.fields)
            p.synced(False, SyncedReason.OBSERVING, f"observing only; ZStack differs in {names}")
        p.update(observed_generation=p.gen, error=None)
        await p.flush()
        return p.outcome()
    if isinstance(action, planning.Create):
        started = st.now_rfc3339(precise=True)
        job = create_job_uuid(res.uid, res.generation, started)
        p.update(
            uuid=uuid,
            pending_job=PendingJob(
                uuid=job, action=JobAction.CREATE, started_at=started, generation=p.gen
            ),
            created_with=CreatedWith(
                zone_uuid=spec.zone_uuid,
                tag_uuids=spec.tag_uuids,
                system_tags=spec.system_tags,
                user_tags=spec.user_tags,
            ),
        )
        p.ready(False, ReadyReason.CREATING, "creating the model service in ZStack")
        await p.flush()  # the uuid and job are stored before ZStack hears of them
        try:
            inv = await conn.client.add_model_service(
                action.param,
                system_tags=action.system_tags,
                user_tags=action.user_tags,
                job_uuid=job,
                wait=deps.job_wait,
            )
        except DuplicateJobError:
            inv = await conn.client.wait_job(job, api="AddModelService", timeout=deps.job_wait)
        except JobTimeoutError:
            return p.outcome(retry=True, requeue_after=2.0)
        except ZStackAPIError as exc:
            if believed(exc, p.attempt):
                p.update(pending_job=None)  # ZStack ran the job and refused: nothing was created
            raise
        p.update(pending_job=None)
    elif isinstance(action, planning.Change):
        inv = await _change(p, conn, uuid, action)
    if inv is None:  # Observe mode never gets here; Create and Change return an inventory
        raise ZStackError(f"ZStack returned no inventory for {uuid}")
    conn.cache.record(uuid, inv)
    p.new = st.with_inventory(p.new, inv)
    p.ready(True, ReadyReason.AVAILABLE, "the model service exists in ZStack")
    p.synced(True, SyncedReason.RECONCILE_SUCCESS, "ZStack matches the spec")
    p.update(observed_generation=p.gen, error=None, pending_job=None)
    await p.flush()
    return p.outcome()


async def _change(
    p: _Pass, conn: Connection, uuid: str, action: planning.Change
) -> ModelServiceInventory | None:
    inv: ModelServiceInventory | None = None
    wait = p.deps.job_wait
    if action.update is not None:
        log.info("updating %s fields %s", uuid, ", ".join(action.fields))
        inv = await conn.client.update_model_service(uuid, action.update, wait=wait)
    for model in action.bind:
        await conn.client.bind_model(model, uuid, wait=wait)
    for model in action.unbind:
        await conn.client.unbind_model(model, uuid, wait=wait)
    if action.bind or action.unbind:
        inv = await conn.client.get_model_service(uuid)
    return inv


async def finalize(res: Resource, deps: Deps, *, attempt: int = 0) -> Outcome:
    """Delete the ZStack service (policy Delete, Manage mode); done=False means try again.

    A pending create is settled first (see ``believed``), or it could land after the delete.
    """
    p = _Pass(res, deps)
    policy = str(res.spec.get("deletionPolicy", DeletionPolicy.DELETE))
    observe = str(res.spec.get("managementPolicy", "")) == ManagementPolicy.OBSERVE
    uuid = p.old.uuid
    if policy == DeletionPolicy.ORPHAN or observe or uuid is None:
        return p.outcome()
    if res.paused:
        p.synced(False, SyncedReason.PAUSED, "deletion waits: paused by annotation")
        await p.flush()
        return p.outcome(done=False, requeue_after=60.0)
    try:
        conn = await deps.connections.get(res.spec.get("connectionRef", {}).get("name"))
        job = p.old.pending_job
        if job is not None and job.action == JobAction.CREATE:
            # Delete only after the create settles, or the create could land after the delete.
            try:
                await _finish_job(conn, job, deps.job_wait)
            except JobTimeoutError:
                return p.outcome(done=False, requeue_after=2.0)
            except ZStackAPIError as exc:
                if not believed(exc, attempt):
                    return p.outcome(done=False, retry=True)
                # The create failed: there is nothing it could leave behind.
        p.ready(False, ReadyReason.DELETING, "deleting the model service in ZStack")
        await p.flush()
        await conn.client.delete_model_service(uuid, wait=deps.job_wait)
        conn.cache.forget(uuid)
    except (ZStackError, CredentialsError) as exc:
        if isinstance(exc, ZStackAPIError) and exc.code == "SYS.1003":
            return p.outcome()  # already gone
        p.synced(False, SyncedReason.RECONCILE_ERROR, f"delete failed: {st.describe(exc)}")
        p.update(error=st.error_status(exc))
        await p.flush()
        return p.outcome(done=False, retry=True)
    return p.outcome()
