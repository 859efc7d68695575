"""Helpers of the chaos suite (tests/e2e/test_chaos.py): a fleet of ModelServices, disruption
running beside it, and the invariants every scenario must end with.

- ``Fleet``: N copies of deploy/samples/modelservice-basic.yaml with distinct names, applied in
  one ``kubectl apply -f -`` and read back in one ``kubectl get -o json``.
- ``Ledger``: the simulator's counters summed over its restarts (a restarted simulator starts
  counting from zero), ``restart_simulator`` that keeps that sum exact, and its jobs by state.
- ``Operator``: the operator process with a known health port; ``kill_repeatedly`` SIGKILLs
  and restarts it at random moments after it is ready.
- ``repeating``: run an action every so often in a background thread (session-expiry storms).
- ``assert_converged`` / ``delete_all_and_assert_clean``: what must hold after any chaos.

Everything here waits with bounded polls; nothing asserts on elapsed time.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.kube import Kube, KubectlError, wait_until
from tests.support.operator_fixtures import OperatorProcess, SimClient
from tests.support.sim_fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "samples" / "modelservice-basic.yaml"
#: What a create or delete of the whole fleet may take under chaos before the test gives up.
CONVERGE_TIMEOUT = 240.0


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    """The condition of that type in the object's status ({} when absent)."""
    for cond in obj.get("status", {}).get("conditions", []):
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def settled_problem(obj: dict[str, Any]) -> str | None:
    """Why an object is not Ready and Synced at its current generation (None when it is)."""
    generation = obj["metadata"].get("generation")
    status = obj.get("status", {})
    ready, synced = condition(obj, "Ready"), condition(obj, "Synced")
    if (ready.get("status"), ready.get("reason")) != ("True", "Available"):
        return f"Ready={ready.get('status')} {ready.get('reason')}: {ready.get('message')}"
    if (synced.get("status"), synced.get("reason")) != ("True", "ReconcileSuccess"):
        return f"Synced={synced.get('status')} {synced.get('reason')}: {synced.get('message')}"
    seen = (
        ready.get("observedGeneration"),
        synced.get("observedGeneration"),
        status.get("observedGeneration"),
    )
    if seen != (generation,) * 3:
        return f"observed generations {seen}, generation {generation}"
    if "pendingJob" in status or "error" in status:
        return f"left over: pendingJob={status.get('pendingJob')} error={status.get('error')}"
    return None


@dataclass
class Fleet:
    """N ModelServices built from the basic sample, named ``<prefix>-000`` and up."""

    kube: Kube
    namespace: str
    count: int
    prefix: str = "chaos"
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.names = [f"{self.prefix}-{i:03d}" for i in range(self.count)]

    def manifest(self, **spec: Any) -> str:
        """One multi-document YAML of every member, the sample's spec updated with ``spec``."""
        base: dict[str, Any] = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
        docs = []
        for name in self.names:
            doc = copy.deepcopy(base)
            doc["metadata"] = {"name": name, "namespace": self.namespace}
            doc["spec"].update({"name": name, **spec})
            docs.append(doc)
        return yaml.safe_dump_all(docs, sort_keys=False)

    def apply(self, **spec: Any) -> None:
        """Create or update every member with one ``kubectl apply -f -``."""
        self.kube.kubectl("apply", "-f", "-", input=self.manifest(**spec), timeout=120)

    def items(self) -> list[dict[str, Any]]:
        """Every ModelService in the namespace (members or not), as the API server has them."""
        result = self.kube.kubectl(
            "get", "modelservices", "-o", "json", namespace=self.namespace, timeout=60
        )
        items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
        return items

    def unsettled(self) -> dict[str, str]:
        """Members not yet Ready and Synced at their generation, with the reason why."""
        found = {obj["metadata"]["name"]: obj for obj in self.items()}
        out = {}
        for name in self.names:
            obj = found.get(name)
            problem = "missing" if obj is None else settled_problem(obj)
            if problem is not None:
                out[name] = problem
        return out

    def ready_count(self) -> int:
        """How many members are settled now (0 when the API server does not answer)."""
        try:
            return self.count - len(self.unsettled())
        except KubectlError:
            return 0

    def wait_settled(self, what: str, timeout: float = CONVERGE_TIMEOUT) -> list[dict[str, Any]]:
        """Wait until every member is Ready and Synced at its generation; return them all."""
        last: dict[str, str] = {}

        def settled() -> bool:
            nonlocal last
            last = self.unsettled()
            return not last

        try:
            self.kube.wait_until(settled, timeout=timeout, interval=1.0, message=what)
        except AssertionError as exc:
            sample = dict(list(last.items())[:5])
            raise AssertionError(f"{exc}; {len(last)} unsettled, e.g. {sample}") from None
        return self.items()

    def delete_all(self) -> None:
        """``kubectl delete modelservices --all --wait=false``: finalizers do the rest."""
        self.kube.kubectl(
            "delete", "modelservices", "--all", "--wait=false", namespace=self.namespace
        )

    def wait_gone(self, timeout: float = CONVERGE_TIMEOUT) -> None:
        """Wait until no ModelService is left; on timeout name the ones stuck and why."""
        left: list[dict[str, Any]] = []

        def gone() -> bool:
            nonlocal left
            left = self.items()
            return not left

        try:
            self.kube.wait_until(gone, timeout=timeout, interval=1.0, message="deletion")
        except AssertionError as exc:
            stuck = [
                (
                    o["metadata"]["name"],
                    o["metadata"].get("finalizers"),
                    condition(o, "Ready").get("message") or condition(o, "Synced").get("message"),
                )
                for o in left[:5]
            ]
            raise AssertionError(f"{exc}; {len(left)} left, e.g. {stuck}") from None


@dataclass
class Totals:
    """The counters that matter for duplicates, summed over simulator processes."""

    create_requests: Counter[str]
    created: Counter[str]
    requests: dict[str, Counter[str]]

    def count(self, api: str, outcome: str | None = None) -> int:
        """Requests to ``api`` that ended with ``outcome`` (any outcome when None)."""
        outcomes = self.requests.get(api, Counter())
        return sum(outcomes.values()) if outcome is None else outcomes[outcome]


def _totals(snapshots: list[dict[str, Any]]) -> Totals:
    requests: dict[str, Counter[str]] = {}
    for snap in snapshots:
        for api, outcomes in snap["requests"].items():
            requests.setdefault(api, Counter()).update(outcomes)
    return Totals(
        create_requests=sum((Counter(s["createRequests"]) for s in snapshots), Counter()),
        created=sum((Counter(s["created"]) for s in snapshots), Counter()),
        requests=requests,
    )


@dataclass
class Ledger:
    """The simulator's counters since the test began, across restarts of its process."""

    zstack: SimClient
    finished: list[dict[str, Any]] = field(default_factory=list)

    def totals(self) -> Totals:
        """Counters of every earlier simulator process plus the running one."""
        return _totals([*self.finished, self.zstack.counters()])

    def jobs(self, api: str) -> Counter[str]:
        """Jobs of ``api`` by state (running, held, succeeded, failed), across restarts."""
        reply = httpx.get(f"{self.zstack.url}/_sim/jobs", timeout=30)
        reply.raise_for_status()
        return Counter(j["state"] for j in reply.json()["jobs"] if j["api"] == api)

    def restart_simulator(self) -> None:
        """Stop the simulator mid-run and start it again on its port with its SQLite state.

        First it stops answering (``outage``: every request is reset) and stops finishing jobs
        (``holdJobs``); once nothing is in flight its counters are final and kept here. Held
        jobs are in the state file and finish in the new process, which counts them: no
        creation is counted twice or lost, so duplicates stay visible across the restart.
        """
        self.zstack.faults(outage=True, holdJobs=True)

        def quiet() -> dict[str, Any] | None:
            snap = self.zstack.counters()
            return snap if snap["inFlight"] == 0 else None

        self.finished.append(wait_until(quiet, timeout=30, interval=0.05, message="no request"))
        self.zstack.handle.restart()


@dataclass
class Operator:
    """An operator process with a known health port, so the test can tell when it is up."""

    process: OperatorProcess
    url: str

    @classmethod
    def start(cls, factory: Callable[..., OperatorProcess]) -> Operator:
        """``zstack-operator run`` for the test namespace, serving /readyz on a free port."""
        port = free_port()
        process = factory("--health-address", f"127.0.0.1:{port}")
        return cls(process, f"http://127.0.0.1:{port}")

    def ready(self) -> bool:
        """/readyz answers 200: start-up finished and the Kubernetes API answers."""
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def kill_repeatedly(
        self, rng: random.Random, progress: Callable[[], int], *, max_delay: float
    ) -> list[int]:
        """SIGKILL and restart the operator 3-5 times, each at a random moment of its work.

        Each kill comes 0 to ``max_delay`` seconds after the process is ready, so that it hits
        the operator at work rather than Python importing kopf. Returns ``progress()`` as it
        was at each kill.
        """
        seen: list[int] = []
        for _ in range(rng.randint(3, 5)):
            wait_until(self.ready, timeout=60, interval=0.05, message="the operator is ready")
            time.sleep(rng.uniform(0.0, max_delay))
            seen.append(progress())
            self.process.kill()
            self.process.restart()
        sys.stdout.write(f"killed the operator {len(seen)} times; progress at each kill: {seen}\n")
        return seen


@contextlib.contextmanager
def repeating(action: Callable[[], None], every: float) -> Iterator[list[int]]:
    """Run ``action`` every ``every`` seconds in a thread until the block ends.

    Yields a one-element list holding how many times it ran (for the test to check that the
    disruption really happened). An action that raises stops the test at the block's end.
    """
    runs = [0]
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        while not stop.wait(every):
            try:
                action()
            except BaseException as exc:  # re-raised in the test's thread at the block's end
                errors.append(exc)
                return
            runs[0] += 1

    thread = threading.Thread(target=loop, name="chaos-repeat", daemon=True)
    thread.start()
    try:
        yield runs
    finally:
        stop.set()
        thread.join(timeout=30)
    if errors:
        raise errors[0]


def assert_converged(
    fleet: Fleet, ledger: Ledger, *, failures_expected: bool, generation: int = 1
) -> dict[str, str]:
    """Every member Ready at ``generation``, one ZStack service each, no duplicate create.

    Returns name -> ZStack uuid. The create accounting is the strongest statement the
    simulator's counters allow: ``created`` is exactly 1 per resource uuid and 0 for anything
    else; ``createRequests`` (AddModelService requests that reached the API, by resourceUuid)
    names only our uuids, and every request beyond the first one per uuid is matched by a
    failure ZStack reported: a failed AddModelService job (e.g. session expired, uuid taken)
    or the REST layer's 400 "Duplicate job uuid" (a resend after a lost reply). Without
    chaos that causes failures, there are none of those, so each uuid has exactly 1 request.
    """
    items = fleet.wait_settled(f"all {fleet.count} ModelServices Ready at generation {generation}")
    by_name = {o["metadata"]["name"]: o for o in items}
    assert sorted(by_name) == sorted(fleet.names), f"ModelServices: {sorted(by_name)}"
    uuids: dict[str, str] = {}
    for name, obj in by_name.items():
        assert obj["metadata"]["generation"] == generation, f"{name}: {obj['metadata']}"
        uuid = obj["status"]["uuid"]
        assert uuid == obj["metadata"]["uid"].replace("-", ""), f"{name}: uuid {uuid}"
        uuids[name] = uuid
    wanted = set(uuids.values())
    assert len(wanted) == fleet.count, f"{fleet.count} resources share {len(wanted)} uuids"

    services = {s["uuid"]: s for s in fleet_services(ledger.zstack)}
    unknown, missing = sorted(set(services) - wanted), sorted(wanted - set(services))
    assert (unknown, missing) == ([], []), (
        f"ZStack has {len(services)} services for {len(wanted)} resources; "
        f"unknown: {unknown[:5]}, missing: {missing[:5]}"
    )
    for name, uuid in uuids.items():
        service, status = services[uuid], by_name[name]["status"]
        assert service["name"] == name, f"{name}: ZStack calls {uuid} {service['name']!r}"
        assert service["version"] == status["version"], (
            f"{name}: ZStack has version {service['version']}, status {status['version']}"
        )

    totals = ledger.totals()
    twice = {u: n for u, n in totals.created.items() if n != 1}
    assert (twice, set(totals.created)) == ({}, wanted), f"created more than once: {twice}"
    strangers = set(totals.create_requests) - wanted
    assert set(totals.create_requests) == wanted, f"creates for uuids of no resource: {strangers}"
    extra = sum(totals.create_requests.values()) - len(wanted)
    failed = ledger.jobs("AddModelService")["failed"]
    duplicates = totals.count("AddModelService", "400")
    assert extra == failed + duplicates, (
        f"{extra} create requests beyond one per resource, but only {failed} failed create jobs "
        f"and {duplicates} duplicate-job answers explain them"
    )
    sys.stdout.write(
        f"creates: {sum(totals.create_requests.values())} requests for {len(wanted)} resources, "
        f"{failed} failed jobs, {duplicates} duplicate-job answers, "
        f"{totals.count('LogInByAccount')} logins\n"
    )
    if not failures_expected:
        assert (failed, duplicates) == (0, 0), f"{failed} failed creates, {duplicates} resent"
        repeated = {u: n for u, n in totals.create_requests.items() if n != 1}
        assert repeated == {}, f"create requests beyond one per resource: {repeated}"
    return uuids


def fleet_services(zstack: SimClient) -> list[dict[str, Any]]:
    """Every model service ZStack has (any owner)."""
    return zstack.services()


def delete_all_and_assert_clean(fleet: Fleet, ledger: Ledger) -> None:
    """Delete every member; then nothing is left: objects, finalizers, ZStack services."""
    fleet.delete_all()
    fleet.wait_gone()
    assert_clean(fleet, ledger)


def assert_clean(fleet: Fleet, ledger: Ledger) -> None:
    """No ModelService (so no stuck finalizer) and no ZStack service; no create after a delete."""
    left = [o["metadata"]["name"] for o in fleet.items()]
    assert left == [], f"ModelServices left: {left}"
    leaked = [s["uuid"] for s in fleet_services(ledger.zstack)]
    assert leaked == [], f"{len(leaked)} ZStack services left behind, e.g. {leaked[:5]}"
    twice = {u: n for u, n in ledger.totals().created.items() if n != 1}
    assert twice == {}, f"created again after its delete: {twice}"
