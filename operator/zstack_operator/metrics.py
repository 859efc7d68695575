"""Prometheus metrics of the operator, and the ZStack client observer that feeds them.

One registry per process (``REGISTRY``) so tests and the benchmark can read values directly.
Names follow Prometheus conventions: ``zstack_operator_`` prefix, ``_total`` counters, base units.
The registry also carries prometheus_client's standard process, platform and GC collectors
(``process_*``, ``python_info``, ``python_gc_*``): it is not the library's default registry,
which would have had them, so they are added here explicitly.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

REGISTRY = CollectorRegistry(auto_describe=True)
#: CPU seconds, resident and virtual memory, open and max file descriptors, start time.
ProcessCollector(registry=REGISTRY)
#: python_info{implementation, major, minor, patchlevel, version}.
PlatformCollector(registry=REGISTRY)
#: Objects collected and uncollectable, and collections, per GC generation.
GCCollector(registry=REGISTRY)

RECONCILES = Counter(
    "zstack_operator_reconciles_total",
    "Reconcile passes by kind (ModelService, Model, ModelServiceDeployment), trigger and result "
    "(ok, retry, terminal, requeue).",
    ["kind", "trigger", "result"],
    registry=REGISTRY,
)
ZSTACK_REQUESTS = Counter(
    "zstack_operator_zstack_requests_total",
    "ZStack HTTP requests by API and outcome (HTTP status, or the transport error).",
    ["api", "outcome"],
    registry=REGISTRY,
)
ZSTACK_LATENCY = Histogram(
    "zstack_operator_zstack_request_duration_seconds",
    "Latency of ZStack HTTP requests by API.",
    ["api"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
ZSTACK_IN_FLIGHT = Gauge(
    "zstack_operator_zstack_requests_in_flight",
    "ZStack HTTP requests currently in flight.",
    registry=REGISTRY,
)
JOB_POLLS = Counter(
    "zstack_operator_zstack_job_polls_total",
    "Polls of ZStack api-jobs by API.",
    ["api"],
    registry=REGISTRY,
)
DRIFT_REPAIRS = Counter(
    "zstack_operator_drift_repairs_total",
    "Drift checks that found ZStack changed behind the operator's back: repaired (manage) "
    "or reported (observe).",
    ["mode"],
    registry=REGISTRY,
)
OUT_OF_BAND_DELETIONS = Counter(
    "zstack_operator_out_of_band_deletions_total",
    "Model services found deleted in ZStack outside Kubernetes (and created again).",
    registry=REGISTRY,
)
RESOURCES = Gauge(
    "zstack_operator_resources",
    "Resources by kind (ModelService, Model, ModelServiceDeployment), condition type, status "
    "and reason.",
    ["kind", "condition", "status", "reason"],
    registry=REGISTRY,
)

LEADER = Gauge(
    "zstack_operator_leader",
    "1 while this replica holds the leader-election Lease and reconciles, 0 while it stands by.",
    ["identity"],
    registry=REGISTRY,
)


class ClientMetrics:
    """The ZStack client's ``RequestObserver``: counts requests, latency, in-flight, polls."""

    def on_request(self, api: str, outcome: str, seconds: float) -> None:
        """Count one finished request."""
        ZSTACK_REQUESTS.labels(api, outcome).inc()
        ZSTACK_LATENCY.labels(api).observe(seconds)

    def on_in_flight(self, delta: int) -> None:
        """Track requests entering (+1) and leaving (-1) the wire."""
        ZSTACK_IN_FLIGHT.inc(delta)

    def on_job_poll(self, api: str) -> None:
        """Count one api-job poll."""
        JOB_POLLS.labels(api).inc()


class ConditionCensus:
    """Keeps ``zstack_operator_resources`` equal to the conditions of the live resources."""

    def __init__(self) -> None:
        self._by_uid: dict[str, list[tuple[str, str, str, str]]] = {}

    def set(self, uid: str, conditions: list[tuple[str, str, str]], kind: str) -> None:
        """Record the (type, status, reason) triples of one resource of ``kind``."""
        self.forget(uid)
        self._by_uid[uid] = [(kind, *labels) for labels in conditions]
        for labels in self._by_uid[uid]:
            RESOURCES.labels(*labels).inc()

    def forget(self, uid: str) -> None:
        """Remove a resource that is gone."""
        for labels in self._by_uid.pop(uid, []):
            RESOURCES.labels(*labels).dec()

    def clear(self) -> None:
        """Forget every resource: this replica no longer watches them (it stands by)."""
        for uid in list(self._by_uid):
            self.forget(uid)
