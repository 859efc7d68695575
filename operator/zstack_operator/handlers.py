"""The only module that imports kopf: handler registration, kopf settings, error mapping.

Handlers unpack kopf's kwargs into a plain ``reconcile.Resource``, call ``reconcile`` or
``finalize``, post the Events the outcome carries, and translate the outcome into kopf's retry
semantics exactly once: transient -> ``TemporaryError`` with jittered exponential backoff;
terminal -> return (the next spec change, or the slow drift re-check, tries again).

Handlers are registered by ``register()`` at start-up rather than by decorators at import,
because the drift timer's tick depends on the configured interval.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import kopf

from .connections import ConnectionPool
from .health import Health, serve
from .kubeapi import KubeAPI, KubeError, load_kubeconfig
from .metrics import DRIFT_REPAIRS, RECONCILES, ClientMetrics, ConditionCensus
from .reconcile import Deps, Outcome, Resource, finalize, reconcile
from .resources import (
    ANNOTATION_DRIFT_INTERVAL,
    FINALIZER,
    GROUP,
    PLURAL,
    VERSION,
)
from .settings import Settings

log = logging.getLogger(__name__)

#: Backoff of transient failures: 1 s doubling to 5 min, full jitter above half.
_BACKOFF_BASE, _BACKOFF_CAP = 1.0, 300.0
#: Longest pause between two looks at a resource's drift schedule.
_MAX_TICK = 30.0
_RESOURCE = (GROUP, VERSION, PLURAL)


@dataclass
class Runtime:
    """Process-wide state shared by the handlers (kept in kopf's memo)."""

    settings: Settings
    health: Health = field(default_factory=Health)
    census: ConditionCensus = field(default_factory=ConditionCensus)
    kube: KubeAPI | None = None
    pool: ConnectionPool | None = None
    deps: Deps | None = None
    index: Any = None
    due: dict[str, float] = field(default_factory=dict)
    auth_seen: dict[str, str] = field(default_factory=dict)
    runner: Any = None

    def universe(self, connection: str) -> list[str]:
        """Every ZStack uuid the operator knows for a connection (from the kopf index)."""
        if self.index is None or connection not in self.index:
            return []
        return list(self.index[connection])


def backoff(retry: int) -> float:
    """Seconds before retry number ``retry`` (0-based), jittered to spread a thundering herd."""
    delay: float = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** min(retry, 16))
    return delay * random.uniform(0.5, 1.0)


def _resource(body: kopf.Body) -> Resource:
    meta = body.get("metadata", {})
    return Resource(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation", 0)),
        spec=dict(body.get("spec", {})),
        status=dict(body.get("status", {})),
        annotations=dict(meta.get("annotations", {})),
    )


def _post(body: kopf.Body, outcome: Outcome) -> None:
    for ev in outcome.events:
        kopf.event(
            body, type="Warning" if ev.warning else "Normal", reason=ev.reason, message=ev.message
        )


def _settle(body: kopf.Body, outcome: Outcome, retry: int, trigger: str, rt: Runtime) -> None:
    """Post Events, update metrics, and raise what kopf needs to schedule the next pass."""
    _post(body, outcome)
    rt.census.set(
        body.get("metadata", {}).get("uid", ""),
        [(c.type, c.status, c.reason) for c in outcome.status.conditions],
    )
    if outcome.requeue_after is not None:
        RECONCILES.labels(trigger, "requeue").inc()
        raise kopf.TemporaryError("waiting for a ZStack job", delay=outcome.requeue_after)
    if outcome.retry or not outcome.done:
        RECONCILES.labels(trigger, "retry").inc()
        raise kopf.TemporaryError("will retry after a transient failure", delay=backoff(retry))
    RECONCILES.labels(trigger, "terminal" if outcome.terminal else "ok").inc()


def _deps(memo: kopf.Memo) -> tuple[Runtime, Deps]:
    rt: Runtime = memo["runtime"]
    assert rt.deps is not None, "startup did not run"
    return rt, rt.deps


async def on_startup(*, settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Configure kopf, connect to Kubernetes, start the health endpoint."""
    rt: Runtime = memo["runtime"]
    settings.persistence.finalizer = FINALIZER
    # kopf's own annotations keep kopf's prefix: kopf hides every annotation under its storage
    # prefix from change detection, and ai.zstack.io/paused must stay visible. Progress lives in
    # annotations because the CRD's status schema (rightly) prunes kopf's status fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
    settings.posting.level = logging.INFO
    settings.scanning.disabled = True
    rt.kube = KubeAPI(load_kubeconfig())
    rt.pool = ConnectionPool(rt.settings, rt.kube, rt.universe, observer=ClientMetrics())
    rt.deps = Deps(rt.pool, _status_writer(rt), job_wait=rt.settings.job_wait)
    rt.health.api_check = rt.kube.version
    if rt.settings.health_address:
        rt.runner = await serve(rt.health, rt.settings.health_address)
    rt.health.started = True


async def on_cleanup(*, memo: kopf.Memo, **_: Any) -> None:
    """Log out of ZStack and close connections."""
    rt: Runtime = memo["runtime"]
    if rt.pool is not None:
        await rt.pool.aclose()
    if rt.kube is not None:
        await rt.kube.aclose()
    if rt.runner is not None:
        await rt.runner.cleanup()


def _status_writer(rt: Runtime) -> Any:
    async def write(res: Resource, patch: dict[str, Any]) -> None:
        assert rt.kube is not None
        try:
            await rt.kube.patch_status(GROUP, VERSION, PLURAL, res.namespace, res.name, patch)
        except KubeError as exc:
            raise kopf.TemporaryError(f"status write failed: {exc}", delay=5) from exc

    return write


async def uuid_index(*, status: kopf.Status, spec: kopf.Spec, **_: Any) -> dict[str, str] | None:
    """Index ModelServices by connection -> ZStack uuid, for batched drift reads."""
    uuid = status.get("uuid")
    if not uuid:
        return None
    ref = spec.get("connectionRef") or {}
    return {str(ref.get("name") or "default"): str(uuid)}


async def on_reconcile(
    *, body: kopf.Body, memo: kopf.Memo, retry: int, reason: str, **kwargs: Any,
) -> None:  # fmt: skip
    """On create, resume and update (spec, annotations such as paused or reconcile-requested-at)."""
    rt, deps = _deps(memo)
    rt.index = kwargs["uuid_index"]
    # After a restart every resource resumes at once; a cached bulk read serves them all.
    max_age = rt.settings.drift_interval if reason == "resume" else 0.0
    outcome = await reconcile(_resource(body), deps, max_age=max_age, attempt=retry)
    _settle(body, outcome, retry, reason, rt)


async def on_delete(*, body: kopf.Body, memo: kopf.Memo, retry: int, **kwargs: Any) -> None:
    """Finalizer: delete the ZStack service (or orphan it) before the object goes."""
    rt, deps = _deps(memo)
    rt.index = kwargs["uuid_index"]
    outcome = await finalize(_resource(body), deps, attempt=retry)
    uid = body.get("metadata", {}).get("uid", "")
    rt.due.pop(uid, None)
    rt.auth_seen.pop(uid, None)
    if outcome.done and not outcome.retry:
        rt.census.forget(uid)
        return
    _settle(body, outcome, retry, "delete", rt)


def _waiting_for_credentials(res: Resource) -> bool:
    """True when ZStack refused the credentials (ID.*): only a Secret change can help."""
    return str((res.status.get("error") or {}).get("code", "")).startswith("ID.")


def _interval(rt: Runtime, annotations: dict[str, str]) -> float:
    raw = annotations.get(ANNOTATION_DRIFT_INTERVAL)
    try:
        return max(1.0, float(raw)) if raw else rt.settings.drift_interval
    except ValueError:
        return rt.settings.drift_interval


async def on_tick(*, body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Drift check when due; also the slow re-check of rejected specs and credentials."""
    rt, deps = _deps(memo)
    rt.index = kwargs["uuid_index"]
    res = _resource(body)
    if not res.status.get("uuid") or body.get("metadata", {}).get("deletionTimestamp"):
        return
    now, interval = time.monotonic(), _interval(rt, dict(res.annotations))
    due = rt.due.setdefault(res.uid, now + random.uniform(0.1, 1.0) * interval)
    if _waiting_for_credentials(res) and rt.pool is not None:
        version = await rt.pool.credentials_version()
        if rt.auth_seen.setdefault(res.uid, version) != version:
            rt.auth_seen[res.uid] = version
            due = now
    if now < due:
        return
    rt.due[res.uid] = now + interval * random.uniform(0.9, 1.1)
    outcome = await reconcile(res, deps, max_age=0.0 if due == now else interval)
    if outcome.events:
        DRIFT_REPAIRS.labels(str(res.spec.get("managementPolicy", "Manage")).lower()).inc()
    try:
        _settle(body, outcome, 0, "drift", rt)
    except kopf.TemporaryError:
        rt.due[res.uid] = now + backoff(1)  # timers do not retry: come back on the next tick


def on_login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """Log in to Kubernetes like ``kubeapi`` does: in-cluster service account, else kubeconfig."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def register(settings: Settings, registry: kopf.OperatorRegistry) -> None:
    """Register every handler with intervals taken from the settings."""
    tick = min(_MAX_TICK, settings.drift_interval)
    kopf.on.login(registry=registry)(on_login)
    kopf.on.startup(registry=registry)(on_startup)
    kopf.on.cleanup(registry=registry)(on_cleanup)
    kopf.index(*_RESOURCE, registry=registry)(uuid_index)
    for decorator in (kopf.on.create, kopf.on.resume):
        decorator(*_RESOURCE, id="reconcile", registry=registry)(on_reconcile)
    kopf.on.update(*_RESOURCE, id="reconcile", registry=registry)(on_reconcile)
    kopf.on.delete(*_RESOURCE, id="finalize", registry=registry)(on_delete)
    # initial_delay: a new resource was just reconciled; its first drift look can wait a tick.
    kopf.timer(*_RESOURCE, id="drift", interval=tick, initial_delay=tick, registry=registry)(
        on_tick
    )


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
    memo = kopf.Memo(runtime=Runtime(settings))
    asyncio.run(
        kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=settings.cluster_wide,
            namespaces=list(settings.namespaces),
            memo=memo,
        )
    )
    return 0
