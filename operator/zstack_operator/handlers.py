"""The only module that imports kopf: handler registration, kopf settings, result mapping.

Handlers unpack kopf's kwargs into a plain ``reconcile.Resource``, run ``reconcile`` or
``finalize`` (one pass per object at a time), post the Events the outcome carries, and map the
result to kopf exactly once: ``Requeue`` and ``Retry`` -> ``TemporaryError`` (the job's
interval, or jittered exponential backoff), ``Done`` and ``Terminal`` -> return.

kopf's diff base is ``status.handled`` (``HandledDiffBase``), not its annotation: no write
of kopf's own follows a pass, and an object of any size can always be patched. Drift checks
run from one loop over one schedule (``reconcile.drift``), not a kopf timer per object.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import timedelta
from typing import Any, cast

import kopf

from . import lifecycle
from .chain import refs as chain_refs
from .chain.deployments import finalize_deployment, reconcile_deployment
from .chain.models import finalize_model, reconcile_model
from .chain.seam import ChainDeps, KindOutcome
from .connection_status import ConnectionController
from .connections import OPERATOR_DEFAULT, ConnectionPool
from .connections.keys import resolve
from .events import EventPoster
from .kubeapi import KubeError
from .metrics import (
    RECONCILES,
    ClientMetrics,
)
from .reconcile import (
    Deps,
    Outcome,
    Requeue,
    Resource,
    Retry,
    StatusWriteError,
    Terminal,
    finalize,
    handled_key,
    reconcile,
    service_uuid,
)
from .reconcile.drift import DriftLoop
from .reconcile.schedule import Entry
from .resources import FINALIZER, GROUP, KIND, PLURAL, VERSION, format_rfc3339
from .resources.connection import (
    CLUSTER_CONNECTION_KIND,
    CLUSTER_CONNECTION_PLURAL,
    CONNECTION_KIND,
    CONNECTION_PLURAL,
)
from .resources.deployment import DEPLOYMENT_KIND, DEPLOYMENT_PLURAL
from .resources.model import MODEL_KIND, MODEL_PLURAL
from .runtime import KubeObjects, Runtime, backoff, count_event, resource_of, track
from .settings import Settings

log = logging.getLogger(__name__)

_RESOURCE = (GROUP, VERSION, PLURAL)
_CONNECTIONS = {
    CONNECTION_KIND: (GROUP, VERSION, CONNECTION_PLURAL),
    CLUSTER_CONNECTION_KIND: (GROUP, VERSION, CLUSTER_CONNECTION_PLURAL),
}
#: Seconds between two probes of a connection that nothing changed (status freshness, usedBy).
CONNECTION_PROBE_INTERVAL = 60.0
#: Seconds between two looks at a connection whose deletion waits for its users.
IN_USE_RECHECK = 5.0


class HandledDiffBase(kopf.DiffBaseStorage):
    """kopf's diff base, read from ``status.handled`` (see ``reconcile.handled_key``).

    A matching key means "handled, no change": the current essence is the base. A stale key
    gives an empty base, so kopf sees a change (an update); no key means a new object. kopf
    stores nothing: the pass's own status write carries the key.
    """

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        """The base of kopf's diff, derived from the object itself."""
        handled = (body.get("status") or {}).get("handled")
        if not handled:
            return None
        meta = body.get("metadata", {})
        if handled == handled_key(int(meta.get("generation", 0)), meta.get("annotations") or {}):
            return self.build(body=body)
        return cast(kopf.BodyEssence, {})

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Nothing to store: ``status.handled`` is written by the pass itself."""


def _settle(res: Resource, outcome: Outcome, retry: int, trigger: str, rt: Runtime) -> None:
    """Post Events, update metrics, and raise what kopf needs to schedule the next pass."""
    if outcome.events and rt.events is not None:
        rt.events.post(res.namespace, res.name, res.uid, outcome.events)
    for ev in outcome.events:
        count_event(ev.reason)
    rt.census.set(res.uid, [(c.type, c.status, c.reason) for c in outcome.status.conditions], KIND)
    result = outcome.result
    who = f"{res.ref} (ZStack uuid {outcome.status.uuid or service_uuid(res)})"
    if isinstance(result, Requeue):
        RECONCILES.labels(KIND, trigger, "requeue").inc()
        raise kopf.TemporaryError(f"{who}: {result.reason}", delay=result.after)
    if isinstance(result, Retry):
        RECONCILES.labels(KIND, trigger, "retry").inc()
        raise kopf.TemporaryError(f"{who}: {result.reason}", delay=backoff(retry))
    if isinstance(result, Terminal):
        log.warning("%s: %s", who, result.reason)
    RECONCILES.labels(KIND, trigger, "terminal" if isinstance(result, Terminal) else "ok").inc()


def _deps(memo: kopf.Memo) -> tuple[Runtime, Deps]:
    rt: Runtime = memo["runtime"]
    assert rt.deps is not None, "startup did not run"
    return rt, rt.deps


async def on_startup(*, settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Configure kopf, connect to ZStack lazily, start the drift loop; now ready to lead."""
    rt: Runtime = memo["runtime"]
    settings.persistence.finalizer = FINALIZER
    # Progress (retries) stays in kopf's annotations: the CRD's status schema prunes kopf's
    # fields, and kopf hides its own prefix from change detection.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    settings.persistence.diffbase_storage = HandledDiffBase()
    # Events are the operator's own (``events``); kopf's log lines stay in the log.
    settings.posting.enabled = False
    settings.scanning.disabled = True
    assert rt.kube is not None, "lifecycle.run connects before kopf starts"
    await _crds_served(rt)
    rt.pool = ConnectionPool(
        rt.settings, rt.kube, rt.universe, observer=ClientMetrics(), on_change=rt.connection_changed
    )
    rt.connections = ConnectionController(
        rt.pool, rt.kube, rt.users, rt.settings.credentials_secret.namespace
    )
    rt.connections.start()
    # Objects created before this process started may have had a create sent by an earlier
    # one (killed before it wrote status): their first pass asks the job before sending it.
    # The API server's clock, because creationTimestamp is on it; 1 s for its resolution.
    now = await rt.kube.server_time()
    started = format_rfc3339(now + timedelta(seconds=1)) if now else None
    objects = KubeObjects(rt.kube)
    rt.deps = Deps(
        rt.pool,
        _status_writer(rt),
        job_wait=rt.settings.job_wait,
        started_at=started,
        model_refs=_model_refs(objects),
        users=_service_users(objects),
    )
    rt.chain = ChainDeps(rt.pool, objects, _kind_status_writer(rt), job_wait=rt.settings.job_wait)
    rt.events = EventPoster(rt.kube.create_event)
    rt.drift = DriftLoop(rt.schedule, _drift_check(rt))
    rt.tasks.append(asyncio.create_task(rt.drift.run(), name="drift-loop"))
    if rt.stop is not None:
        # kopf stops on SIGTERM through a flag of its own; it then waits 5 s for its waiter of
        # our stop flag, which nothing cancels, before it cancels it. Stopping through our flag
        # ends both at once, so a clean handover releases the Lease seconds earlier.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, rt.stop.set)
    rt.health.started = True


#: Longest wait at startup for the API server to serve the CRDs again (it was just restarted).
CRD_WAIT = 60.0


async def _crds_served(rt: Runtime) -> None:
    """Wait until the API server serves every kind we watch: kopf resolves them only once.

    A term that starts while a restarted API server still builds its CRD handlers would find
    none, and (scanning being off) never watch them. A CRD that is not installed at all is
    not waited for beyond ``CRD_WAIT``: kopf then says which resources it cannot serve.
    """
    assert rt.kube is not None
    wanted = {PLURAL, *_CHAIN, *(plural for _g, _v, plural in _CONNECTIONS.values())}
    missing = wanted
    started = time.monotonic()
    looks = 0
    while time.monotonic() < started + CRD_WAIT:
        looks += 1
        try:
            missing = wanted - await rt.kube.served(GROUP, VERSION)
            if not missing:
                if looks > 1:
                    waited = time.monotonic() - started
                    log.info("the API server serves the CRDs again (waited %.1f s)", waited)
                return
        except KubeError as exc:
            log.info("waiting for the API server to serve %s/%s: %s", GROUP, VERSION, exc)
        await asyncio.sleep(0.5)
    log.warning(
        "the API server does not serve %s in %s; starting anyway", ", ".join(sorted(missing)), GROUP
    )


async def on_cleanup(*, memo: kopf.Memo, **_: Any) -> None:
    """Stop the drift loop, log out of ZStack and close its connections."""
    rt: Runtime = memo["runtime"]
    for task in rt.tasks:
        task.cancel()
    await asyncio.gather(*rt.tasks, return_exceptions=True)
    if rt.events is not None:
        await rt.events.drain()
    if rt.connections is not None:
        await rt.connections.aclose()
    if rt.pool is not None:
        await rt.pool.aclose()


def _status_writer(rt: Runtime) -> Any:
    async def write(res: Resource, patch: dict[str, Any]) -> None:
        assert rt.kube is not None
        try:
            await rt.kube.patch_status(GROUP, VERSION, PLURAL, res.namespace, res.name, patch)
        except KubeError as exc:
            raise StatusWriteError(str(exc)) from exc

    return write


def _kind_status_writer(rt: Runtime) -> Any:
    async def write(plural: str, res: Resource, patch: dict[str, Any]) -> None:
        assert rt.kube is not None
        try:
            await rt.kube.patch_status(GROUP, VERSION, plural, res.namespace, res.name, patch)
        except KubeError as exc:
            raise StatusWriteError(str(exc)) from exc

    return write


def _model_refs(objects: KubeObjects) -> Any:
    async def uuids(res: Resource) -> list[str] | str:
        found: list[str] = []
        for ref in res.spec.get("modelRefs") or []:
            got = await chain_refs.resolve(objects, MODEL_KIND, res.namespace, ref["name"])
            if isinstance(got, str):
                return f"waiting for {got} (spec.modelRefs)"
            found.append(got.uuid)
        return found

    return uuids


def _service_users(objects: KubeObjects) -> Any:
    async def users(res: Resource) -> list[str]:
        uuid = res.status.get("uuid")
        return await chain_refs.users(objects, KIND, res.namespace, res.name, uuid)

    return users


_CHAIN = {
    MODEL_PLURAL: (MODEL_KIND, reconcile_model, finalize_model),
    DEPLOYMENT_PLURAL: (DEPLOYMENT_KIND, reconcile_deployment, finalize_deployment),
}


def _settle_kind(
    kind: str, res: Resource, outcome: KindOutcome, retry: int, trigger: str, rt: Runtime
) -> None:
    """``_settle`` for a Model or ModelServiceDeployment."""
    if outcome.events and rt.events is not None:
        rt.events.post(res.namespace, res.name, res.uid, outcome.events, kind)
    conditions = [(c.type, str(c.status), c.reason) for c in outcome.status.conditions]
    rt.census.set(res.uid, conditions, kind)
    result = outcome.result
    if isinstance(result, Requeue):
        RECONCILES.labels(kind, trigger, "requeue").inc()
        raise kopf.TemporaryError(f"{kind} {res.ref}: {result.reason}", delay=result.after)
    if isinstance(result, Retry):
        RECONCILES.labels(kind, trigger, "retry").inc()
        raise kopf.TemporaryError(f"{kind} {res.ref}: {result.reason}", delay=backoff(retry))
    if isinstance(result, Terminal):
        log.warning("%s %s: %s", kind, res.ref, result.reason)
    RECONCILES.labels(kind, trigger, "terminal" if isinstance(result, Terminal) else "ok").inc()


async def on_chain(
    *, body: kopf.Body, resource: kopf.Resource, memo: kopf.Memo, retry: int, reason: str,
    **_: Any,
) -> None:  # fmt: skip
    """Create, resume and update of a Model or ModelServiceDeployment.

    The pass runs on the object as it is now, read inside the object's lock: kopf's body can
    predate a status write of the timer's pass (a recorded Deploy job, a group uuid), and
    acting on the older status would send a deploy that is already out.
    """
    rt: Runtime = memo["runtime"]
    kind, reconcile_kind, _finalize = _CHAIN[resource.plural]
    uid = body.get("metadata", {}).get("uid", "")
    async with rt.locks.hold(uid):
        raw = await _current(rt, resource.plural, body)
        if raw is None:
            return  # gone, or being deleted: the delete handler takes over
        res = resource_of(raw)
        outcome = await reconcile_kind(res, rt.chain, attempt=retry)
    _settle_kind(kind, res, outcome, retry, reason, rt)


async def on_chain_timer(
    *, body: kopf.Body, resource: kopf.Resource, memo: kopf.Memo, **_: Any
) -> None:
    """Re-read a Model or ModelServiceDeployment now and then (drift, instance status).

    The object is read afresh inside its lock, as ``on_chain`` does: a timer must not act on
    an object that is going, on an older status than the last pass wrote, nor on one kopf has
    not yet given its finalizer (a ZStack resource made then could be left behind).
    """
    rt: Runtime = memo["runtime"]
    if rt.chain is None or rt.kube is None:
        return
    kind, reconcile_kind, _finalize = _CHAIN[resource.plural]
    uid = body.get("metadata", {}).get("uid", "")
    async with rt.locks.hold(uid):
        raw = await _current(rt, resource.plural, body)
        if raw is None or FINALIZER not in (raw["metadata"].get("finalizers") or []):
            return
        res = resource_of(raw)
        outcome = await reconcile_kind(res, rt.chain)
    try:
        _settle_kind(kind, res, outcome, 0, "drift", rt)
    except kopf.TemporaryError as exc:  # the next timer tick looks again
        log.info("drift check of %s", exc)


async def _current(
    rt: Runtime, plural: str, body: kopf.Body, *, deleting: bool = False
) -> dict[str, Any] | None:
    """The object as the API server has it now; None if it is gone or replaced.

    Also None while it is being deleted, unless ``deleting`` (the finalizer's own read).
    """
    assert rt.kube is not None
    meta = body.get("metadata", {})
    raw = await rt.kube.get_object(GROUP, VERSION, plural, meta["namespace"], meta["name"])
    fresh = (raw or {}).get("metadata", {})
    if raw is None or fresh.get("uid") != meta.get("uid"):
        return None
    return raw if deleting or not fresh.get("deletionTimestamp") else None


async def on_chain_delete(
    *, body: kopf.Body, resource: kopf.Resource, memo: kopf.Memo, retry: int, **_: Any
) -> None:
    """Finalizer of a Model or ModelServiceDeployment.

    Read afresh inside the lock, like ``on_chain``: a pass that was deploying when the object
    was deleted may have recorded its job or group since kopf's body was taken, and deciding
    on the older status ("nothing was sent") would leave that group behind.
    """
    rt: Runtime = memo["runtime"]
    assert rt.kube is not None, "startup did not run"
    kind, _reconcile, finalize_kind = _CHAIN[resource.plural]
    meta = body.get("metadata", {})
    async with rt.locks.hold(meta.get("uid", "")):
        raw = await _current(rt, resource.plural, body, deleting=True)
        if raw is None:
            return  # already gone: a finalizer that ran to its end
        res = resource_of(raw)
        outcome = await finalize_kind(res, rt.chain, attempt=retry)
    if isinstance(outcome.result, Requeue | Retry):
        _settle_kind(kind, res, outcome, retry, "delete", rt)
    rt.census.forget(res.uid)
    RECONCILES.labels(kind, "delete", "ok").inc()


def _drift_check(rt: Runtime) -> Any:
    async def check(uid: str, entry: Entry) -> None:
        assert rt.kube is not None
        assert rt.deps is not None
        raw = await rt.kube.get_object(*_RESOURCE, entry.namespace, entry.name)
        meta = (raw or {}).get("metadata", {})
        if raw is None or meta.get("uid") != uid or meta.get("deletionTimestamp"):
            rt.schedule.forget(uid)
            return
        res = resource_of(raw)
        async with rt.locks.hold(uid):
            outcome = await reconcile(res, rt.deps, max_age=entry.interval)
        try:
            _settle(res, outcome, 0, "drift", rt)
        except kopf.TemporaryError as exc:  # a timer pass has no kopf retry: back off here
            log.warning("drift check of %s; again in %.0f s", exc, exc.delay or 0)
            rt.schedule.later(uid, time.monotonic(), exc.delay or backoff(1))
            return
        track(rt, res, outcome)

    return check


async def uuid_index(
    *,
    namespace: str | None,
    name: str,
    status: kopf.Status,
    spec: kopf.Spec,
    memo: kopf.Memo,
    **_: Any,
) -> dict[str, tuple[str, str]]:
    """ModelServices by connection key -> (namespace/name, ZStack uuid or "").

    The uuids serve batched drift reads; the names, a connection's status and deletion guard.
    """
    rt: Runtime = memo["runtime"]
    uuid = status.get("uuid")
    pinned = (status.get("connection") or OPERATOR_DEFAULT) if uuid else status.get("connection")
    ref, namespace = spec.get("connectionRef"), namespace or ""
    if rt.pool is not None:
        key = rt.pool.resolve(namespace, ref, pinned)
    else:
        key = resolve(namespace, ref, pinned, lambda _key: False)
    return {key: (f"{namespace}/{name}", str(uuid or ""))}


async def on_reconcile(
    *, body: kopf.Body, memo: kopf.Memo, retry: int, reason: str, **kwargs: Any,
) -> None:  # fmt: skip
    """On create, resume and update (spec, or the paused / reconcile-requested-at annotations)."""
    rt, deps = _deps(memo)
    rt.index = kwargs["uuid_index"]
    res = resource_of(body)
    # After a restart every resource resumes at once; a cached bulk read serves them all.
    max_age = rt.settings.drift_interval if reason == "resume" else 0.0
    async with rt.locks.hold(res.uid):
        outcome = await reconcile(res, deps, max_age=max_age, attempt=retry)
    track(rt, res, outcome)
    _settle(res, outcome, retry, reason, rt)


async def on_delete(*, body: kopf.Body, memo: kopf.Memo, retry: int, **kwargs: Any) -> None:
    """Finalizer: delete the ZStack service (or orphan it) before the object goes."""
    rt, deps = _deps(memo)
    rt.index = kwargs["uuid_index"]
    res = resource_of(body)
    rt.schedule.forget(res.uid)
    async with rt.locks.hold(res.uid):
        outcome = await finalize(res, deps, attempt=retry)
    if isinstance(outcome.result, Requeue | Retry):
        _settle(res, outcome, retry, "delete", rt)
    rt.census.forget(res.uid)
    RECONCILES.labels(KIND, "delete", "ok").inc()


def _kind(resource: kopf.Resource) -> str:
    return (
        CLUSTER_CONNECTION_KIND if resource.plural == CLUSTER_CONNECTION_PLURAL else CONNECTION_KIND
    )


async def on_connection_event(
    *, type: str | None, body: kopf.Body, resource: kopf.Resource, memo: kopf.Memo, **_: Any
) -> None:
    """Every watch event of a connection object feeds the registry (and probes on change)."""
    rt: Runtime = memo["runtime"]
    if rt.connections is None:
        return
    if type == "DELETED":
        rt.connections.gone(_kind(resource), body)
    else:
        rt.connections.observed(_kind(resource), body)


async def on_connection_timer(
    *, body: kopf.Body, resource: kopf.Resource, memo: kopf.Memo, **_: Any
) -> None:
    """Re-probe a connection now and then: status freshness and its user count."""
    rt: Runtime = memo["runtime"]
    if rt.connections is not None and not body.get("metadata", {}).get("deletionTimestamp"):
        await rt.connections.refresh(_kind(resource), body)


async def on_connection_delete(
    *, body: kopf.Body, resource: kopf.Resource, memo: kopf.Memo, **_: Any
) -> None:
    """A connection in use cannot go: its deletion waits (status InUse) until no one uses it."""
    rt: Runtime = memo["runtime"]
    assert rt.connections is not None, "startup did not run"
    users = await rt.connections.refresh(_kind(resource), body, deleting=True)
    if users:
        raise kopf.TemporaryError(
            f"{users} object(s) still use this connection", delay=IN_USE_RECHECK
        )


def on_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Log in to Kubernetes like ``kubeapi`` does: in-cluster service account, else kubeconfig."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def register(settings: Settings, registry: kopf.OperatorRegistry) -> None:
    """Register every handler."""
    kopf.on.login(registry=registry)(on_login)
    kopf.on.startup(registry=registry)(on_startup)
    kopf.on.cleanup(registry=registry)(on_cleanup)
    kopf.index(*_RESOURCE, registry=registry)(uuid_index)
    for decorator in (kopf.on.create, kopf.on.resume):
        decorator(*_RESOURCE, id="reconcile", registry=registry)(on_reconcile)
    kopf.on.update(*_RESOURCE, id="reconcile", registry=registry)(on_reconcile)
    kopf.on.delete(*_RESOURCE, id="finalize", registry=registry)(on_delete)
    for plural in _CHAIN:
        for decorator in (kopf.on.create, kopf.on.resume, kopf.on.update):
            decorator(GROUP, VERSION, plural, id="reconcile", registry=registry)(on_chain)
        kopf.on.delete(GROUP, VERSION, plural, id="finalize", registry=registry)(on_chain_delete)
        kopf.timer(GROUP, VERSION, plural, interval=settings.drift_interval, idle=None,
                   registry=registry)(on_chain_timer)  # fmt: skip
    for kind, (group, version, plural) in _CONNECTIONS.items():
        if kind == CLUSTER_CONNECTION_KIND and not settings.cluster_wide:
            continue  # a namespaced install may not watch cluster-scoped objects (docs/tenancy.md)
        kopf.on.event(group, version, plural, registry=registry)(on_connection_event)
        kopf.on.delete(group, version, plural, id="in-use", registry=registry)(on_connection_delete)
        kopf.timer(group, version, plural, interval=CONNECTION_PROBE_INTERVAL,
                   idle=None, registry=registry)(on_connection_timer)  # fmt: skip


def run(settings: Settings) -> int:
    """Run the operator until interrupted; returns the process exit code."""
    registry = kopf.OperatorRegistry()
    register(settings, registry)
    kopf.configure(
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL,
        verbose=settings.log_level == "DEBUG",
    )
    logging.getLogger().setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        # kopf reports every successful handler at INFO: thousands of lines at scale.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
        # httpx logs every request at INFO: two lines per resource per pass, all CPU.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    async def operate(rt: Runtime, stop: asyncio.Event) -> None:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=settings.cluster_wide,
            namespaces=list(settings.namespaces),
            memo=kopf.Memo(runtime=rt),
            stop_flag=stop,
        )

    return asyncio.run(lifecycle.run(settings, operate))
