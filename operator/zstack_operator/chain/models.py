"""Reconcile one Model with ZStack (AddModel, UpdateModel), and delete it (DeleteModel).

Crash safety comes from the uuid: AddModel takes ``resourceUuid``, and the model's uuid is
``spec.resourceUuid`` or the object's uid, so every pass reads the model by that uuid first and
creates it only when ZStack does not have it. A pass that dies after sending AddModel is
followed by one that finds the model, or that sends the same derived job again, which ZStack
answers as a duplicate and the client follows. The deletion waits for the ModelServices and
deployments of the namespace that still use the model (``refs.users``).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from .. import status as st
from ..reconcile import jobs
from ..reconcile.model import Done, Requeue, Resource, Result, Retry, StatusWriteError, Terminal
from ..reconcile.ownership import owner_tag
from ..resources import (
    DeletionPolicy,
    EventReason,
    JobAction,
    ManagementPolicy,
    ReadyReason,
    SyncedReason,
)
from ..resources.model import FIXED, MODEL_KIND, MODEL_PLURAL, MUTABLE, ModelSpec, ModelStatus
from ..resources.spec import OWNER_TAG_PREFIX, AdoptionPolicy
from ..zstack.ai_models import AddModelParam, ModelInventory, UpdateModelParam
from ..zstack.errors import JobExpiredError, JobTimeoutError, ZStackAPIError, ZStackError
from . import refs
from .common import (
    POLL,
    ChainPass,
    Stop,
    after_job,
    connection,
    failed,
    invalid,
    paused_deletion,
    sent,
    validation_message,
    waiting,
)
from .seam import ChainAPI, ChainDeps, KindOutcome

log = logging.getLogger(__name__)

#: ZStack's answer to a delete of a uuid it does not have.
_GONE = "SYS.1003"

Pass = ChainPass[ModelStatus]


def model_uuid(res: Resource) -> str:
    """The model's ZStack uuid: recorded, else spec.resourceUuid, else the object's uid."""
    return str(
        res.status.get("uuid") or res.spec.get("resourceUuid") or res.uid.replace("-", "").lower()
    )


async def reconcile_model(res: Resource, deps: ChainDeps, *, attempt: int = 0) -> KindOutcome:
    """Bring ZStack to the Model's spec (or report it, in Observe mode)."""
    p = Pass(res, deps, MODEL_PLURAL, ModelStatus)
    try:
        result = await _reconcile(p, deps, attempt)
    except Stop as stop:
        result = stop.result
    except ZStackError as exc:
        result = failed(p, exc, exists=bool(p.old.uuid), what="model")
    try:
        return await p.finish(result)
    except StatusWriteError as exc:
        return KindOutcome(Retry(f"cannot write the status: {exc}"), p.new)


def _facts(p: Pass, inv: ModelInventory) -> None:
    p.update(
        uuid=inv.uuid,
        model_center_uuid=inv.model_center_uuid,
        type=inv.type,
        model_service_uuids=sorted(inv.service_uuids) or None,
        create_date=st.rfc3339(inv.create_date),
        last_op_date=st.rfc3339(inv.last_op_date),
    )


def _wanted(spec: ModelSpec, res: Resource, field: str) -> Any:
    return (spec.name or res.name) if field == "name" else getattr(spec, field)


async def _reconcile(p: Pass, deps: ChainDeps, attempt: int) -> Result:
    res = p.res
    try:
        spec = ModelSpec.model_validate(dict(res.spec))
    except ValidationError as exc:
        return invalid(p, validation_message(exc), "model")
    observe = spec.management_policy == ManagementPolicy.OBSERVE
    if observe and spec.resource_uuid is None:
        message = "spec.resourceUuid is required with managementPolicy Observe: it names the model"
        return invalid(p, message, "model")
    if res.paused and not observe:
        p.ready_if_unset(ReadyReason.NOT_CREATED, "not created: paused before the first create")
        p.synced(False, SyncedReason.PAUSED, "paused by annotation ai.zstack.io/paused; no writes")
        return Done()
    if not observe and p.old.uuid and spec.resource_uuid not in (None, p.old.uuid):
        message = (
            f"spec.resourceUuid cannot change once the model exists (it is {p.old.uuid}): "
            "restore it, or delete and re-create the Model"
        )
        p.synced(False, SyncedReason.IMMUTABLE_FIELD_CHANGED, message)
        p.update(observed_generation=p.gen)
        return Terminal(message)
    api = await connection(p, deps, res.spec.get("connectionRef"), exists=bool(p.old.uuid))
    # Observe follows the spec: naming another model observes that one instead.
    uuid = spec.resource_uuid if observe and spec.resource_uuid else model_uuid(res)
    inv = await api.ai.get_model(uuid)
    if observe:
        return _observe(p, spec, uuid, inv)
    if inv is None:
        created = await _create(p, deps, api, spec, uuid, attempt)
        if not isinstance(created, ModelInventory):
            return created
        inv = created
    elif p.old.uuid != uuid:
        refused = await _claim(p, deps, api, spec, uuid)
        if refused is not None:
            return refused
    _facts(p, inv)
    fixed = [
        f for f in FIXED if getattr(spec, f) is not None and getattr(spec, f) != getattr(inv, f)
    ]
    if fixed:
        names = ", ".join(f"spec.{_camel(f)}" for f in fixed)
        message = (
            f"{names} cannot change once the model exists (UpdateModel has no such field): "
            "restore the value, or delete and re-create the Model"
        )
        p.ready(True, ReadyReason.AVAILABLE, "the model exists in ZStack")
        p.synced(False, SyncedReason.IMMUTABLE_FIELD_CHANGED, message)
        p.update(observed_generation=p.gen)
        return Terminal(message)
    changed = [
        f
        for f in MUTABLE
        if _wanted(spec, res, f) is not None and _wanted(spec, res, f) != getattr(inv, f)
    ]
    if changed:
        inv = await _update(p, deps, api, spec, inv, changed)
        _facts(p, inv)
    p.ready(True, ReadyReason.AVAILABLE, "the model exists in ZStack")
    p.synced(True, SyncedReason.RECONCILE_SUCCESS, "ZStack matches the spec")
    p.update(observed_generation=p.gen, error=None)
    return Done()


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(w.title() for w in rest)


def _observe(p: Pass, spec: ModelSpec, uuid: str, inv: ModelInventory | None) -> Result:
    if inv is None:
        p.ready(False, ReadyReason.NOT_FOUND, f"no model {uuid} in ZStack")
        p.synced(False, SyncedReason.OBSERVING, "observing only; the model does not exist")
    else:
        _facts(p, inv)
        p.ready(True, ReadyReason.AVAILABLE, "the model exists in ZStack")
        differ = [
            f
            for f in (*MUTABLE, *FIXED)
            if f != "name" and getattr(spec, f) is not None and getattr(spec, f) != getattr(inv, f)
        ]
        if spec.name is not None and spec.name != inv.name:
            differ.insert(0, "name")
        if differ:
            names = ", ".join(_camel(f) for f in differ)
            p.synced(False, SyncedReason.OBSERVING, f"observing only; ZStack differs in {names}")
        else:
            p.synced(False, SyncedReason.OBSERVING, "observing only; ZStack matches the spec")
    p.update(observed_generation=p.gen, error=None)
    return Done()


async def _token(p: Pass, deps: ChainDeps, spec: ModelSpec, attempt: int) -> str | None:
    ref = spec.token_secret_ref
    if ref is None:
        return None
    value = await deps.objects.secret_value(p.res.namespace, ref.name, ref.key)
    if value is None:
        missing = f"Secret {ref.name} (key {ref.key}) of spec.tokenSecretRef"
        raise Stop(waiting(p, f"waiting for {missing}: it does not exist", attempt))
    return value


async def _create(
    p: Pass, deps: ChainDeps, api: ChainAPI, spec: ModelSpec, uuid: str, attempt: int
) -> ModelInventory | Result:
    token = await _token(p, deps, spec, attempt)
    replaces = p.old.create_date if p.old.uuid else None
    failed_jobs = p.new.failed_jobs or 0
    job = jobs.job_uuid(p.res.uid, JobAction.CREATE, failed_jobs, replaces or "")
    param = AddModelParam(
        name=spec.name or p.res.name,
        install_path=spec.install_path,
        model_center_uuid=spec.model_center_uuid,
        description=spec.description,
        parameters=spec.parameters,
        token=token,
        logo=spec.logo,
        vendor=spec.vendor,
        introduction=spec.introduction,
        version=spec.version,
        size=spec.size,
        resource_uuid=uuid,
    )
    try:
        inv = await sent(
            api.ai.add_model(param, user_tags=[owner_tag(p.res)], job_uuid=job, wait=deps.job_wait),
            lambda: after_job(api, job, "AddModel", deps.job_wait, lambda: api.ai.get_model(uuid)),
        )
    except JobTimeoutError:
        p.update(uuid=uuid)
        p.ready(False, ReadyReason.CREATING, f"creating the model in ZStack (job {job} is running)")
        return Requeue(POLL, f"ZStack job {job} (AddModel) is still running")
    except ZStackAPIError as exc:
        if jobs.uuid_taken(exc):
            found = await api.ai.get_model(uuid)
            if found is not None:
                return found  # a pass of ours that outran this one
            hidden = f"a model {uuid} already exists in an account this connection cannot see"
            return _refuse(p, f"{hidden}; remove spec.resourceUuid or name a model of your own")
        p.update(failed_jobs=failed_jobs + 1)  # that job's uuid is spent
        raise
    p.update(uuid=uuid)
    if replaces is not None:
        p.notice(
            EventReason.RECREATED,
            f"the model {uuid} was deleted in ZStack outside Kubernetes; created it again",
        )
    return inv


async def _claim(
    p: Pass, deps: ChainDeps, api: ChainAPI, spec: ModelSpec, uuid: str
) -> Result | None:
    """An existing model the status does not record: ours, adopted, or refused (a Result)."""
    mine = owner_tag(p.res)
    markers = [t for t in await api.owner_tags(uuid) if t.startswith(OWNER_TAG_PREFIX)]
    if mine in markers or (spec.resource_uuid is None and not markers):
        return None  # created by an earlier pass of this object (its uuid comes from our uid)
    if markers:
        return _refuse(p, f"the model {uuid} belongs to another object ({markers[0]})")
    if spec.adoption_policy != AdoptionPolicy.ADOPT or not api.allow_adoption:
        return _refuse(
            p,
            f"a model {uuid} already exists in ZStack and was not created by this object; set "
            "spec.adoptionPolicy: Adopt (on a connection that allows adoption) to manage it",
        )
    job = jobs.job_uuid(p.res.uid, JobAction.UPDATE, "adopt", uuid)
    await api.mark_owner(uuid, mine, job_uuid=job, wait=deps.job_wait)
    p.notice(EventReason.ADOPTED, f"adopted the existing model {uuid}", warning=False)
    return None


def _refuse(p: Pass, message: str) -> Result:
    p.ready_if_unset(ReadyReason.NOT_CREATED, "not created: the model is not this object's")
    p.synced(False, SyncedReason.NOT_OWNED, message)
    p.update(observed_generation=p.gen)
    return Terminal(message)


async def _update(
    p: Pass,
    deps: ChainDeps,
    api: ChainAPI,
    spec: ModelSpec,
    inv: ModelInventory,
    changed: list[str],
) -> ModelInventory:
    values = {f: _wanted(spec, p.res, f) for f in changed}
    stamp = inv.last_op_date.isoformat() if inv.last_op_date else ""
    failed_jobs = p.new.failed_jobs or 0
    job = jobs.job_uuid(p.res.uid, JobAction.UPDATE, stamp, p.gen, failed_jobs, *changed)
    try:
        new = await sent(
            api.ai.update_model(
                inv.uuid, UpdateModelParam.model_validate(values), job_uuid=job, wait=deps.job_wait
            ),
            lambda: after_job(
                api, job, "UpdateModel", deps.job_wait, lambda: api.ai.get_model(inv.uuid)
            ),
        )
    except ZStackAPIError:
        p.update(failed_jobs=failed_jobs + 1)
        raise
    if p.old.observed_generation == p.gen:
        names = ", ".join(_camel(f) for f in changed)
        p.notice(
            EventReason.DRIFT_REPAIRED,
            f"ZStack differed from the spec in {names} (changed outside Kubernetes); "
            "changed it back",
        )
    return new


async def finalize_model(res: Resource, deps: ChainDeps, *, attempt: int = 0) -> KindOutcome:
    """Delete the model (policy Delete) once nothing in the namespace uses it.

    With no uuid recorded, a create may still be out (the pass that sent it died before its
    status write): the model is looked for by its derived uuid, and its create job asked, so
    a model that lands after the object is gone is never left behind.
    """
    p = Pass(res, deps, MODEL_PLURAL, ModelStatus)
    spec = res.spec
    if spec.get("managementPolicy") == ManagementPolicy.OBSERVE:
        return KindOutcome(Done(), p.new)
    held = await paused_deletion(p)
    if held is not None:
        return held
    uuid = model_uuid(res)
    using = await refs.users(deps.objects, MODEL_KIND, res.namespace, res.name, uuid)
    if using:
        message = f"deletion waits for {', '.join(using)}, which use this model"
        p.ready(False, ReadyReason.DELETING, message)
        return await p.finish_anyway(Requeue(POLL * 2, message))
    if spec.get("deletionPolicy") == DeletionPolicy.ORPHAN:
        return KindOutcome(Done(), p.new)
    try:
        try:
            api = await connection(p, deps, spec.get("connectionRef"), exists=bool(p.old.uuid))
        except Stop as stop:
            if not p.old.uuid:
                return KindOutcome(Done(), p.new)  # nothing can have been sent through it
            return await p.finish_anyway(Retry(f"deletion waits for the connection: {stop}"))
        if not p.old.uuid and not await _maybe_created(p, deps, api, uuid):
            return KindOutcome(Done(), p.new)
        job = jobs.job_uuid(res.uid, JobAction.DELETE, p.old.failed_jobs or 0)
        await sent(
            api.ai.delete_model(uuid, job_uuid=job, wait=deps.job_wait),
            lambda: api.ai.wait_job(job, api="DeleteModel", timeout=deps.job_wait),
        )
    except JobTimeoutError:
        p.ready(False, ReadyReason.DELETING, "deleting the model in ZStack")
        return await p.finish_anyway(Requeue(POLL, "a ZStack job is still running"))
    except ZStackAPIError as exc:
        if exc.error.code != _GONE:
            p.update(failed_jobs=(p.old.failed_jobs or 0) + 1)
            return await _delete_failed(p, exc)
    except ZStackError as exc:
        return await _delete_failed(p, exc)
    log.info("%s: deleted model %s", res.ref, uuid)
    return KindOutcome(Done(), p.new)


async def _maybe_created(p: Pass, deps: ChainDeps, api: ChainAPI, uuid: str) -> bool:
    """Whether a model exists (or is being created) for an object that recorded none.

    Raises JobTimeoutError while its create job runs.
    """
    if await api.ai.get_model(uuid) is not None:
        return True
    job = jobs.job_uuid(p.res.uid, JobAction.CREATE, p.old.failed_jobs or 0, "")
    try:
        await api.ai.wait_job(job, api="AddModel", timeout=deps.job_wait)
    except JobExpiredError:
        return False  # never sent, or long finished: the read above would have found it
    except ZStackAPIError:
        return False  # the create failed: nothing exists
    return await api.ai.get_model(uuid) is not None


async def _delete_failed(p: Pass, exc: ZStackError) -> KindOutcome:
    p.synced(False, SyncedReason.RECONCILE_ERROR, f"delete failed: {st.describe(exc)} (will retry)")
    p.update(error=st.error_status(exc))
    return await p.finish_anyway(Retry(f"delete failed: {st.describe(exc)}"))
