"""The chart's namespaced RBAC is enough for the operator, and every permission in it is needed.

The operator runs as the dev cluster's static-token user ``zstack-operator``, bound to exactly
the Roles the Helm chart renders for one watched namespace with the credentials Secret beside
the ModelServices. With them the whole life of a ModelService works and nothing is ever
forbidden. Then each (rule, verb) of the rendered Roles is taken away in turn, and each case
names what breaks: the API server's "cannot VERB resource" in the operator's log and what the
user sees on the resource. A grant without a case fails ``test_every_grant_has_a_case``, so a
rule added to the chart must come with proof that it is needed.

Models and ModelServiceDeployments get the ModelService grants; their cases run once the
operator registers handlers for the kind (``operator_watches``), and skip until then.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import kopf
import pytest
import yaml
from zstack_operator import handlers
from zstack_operator.settings import SecretRef, Settings
from zstack_operator.sim import DEFAULT_MODEL_CENTER_UUID, DEFAULT_ZONE_UUID

from tests.e2e.test_operator import apply, cond, ready, sample, wait_cond
from tests.support.helm_chart import CHART, rbac_bound_to_user, render
from tests.support.kube import Kube, wait_until
from tests.support.operator_fixtures import SECRET_NAME, OperatorProcess, SimClient

pytestmark = pytest.mark.e2e

USER = "zstack-operator"
#: An HTTP 403 or the API server's "forbidden" in any spelling (uuids are 8-4-4-4-12 hex, so
#: "403" never stands alone inside one).
# Not after a comma, colon or dot: a log line's milliseconds (",403") or a port is no refusal.
FORBIDDEN = re.compile(r"(?<![,:.])\b403\b|forbidden", re.IGNORECASE)
#: How long a case watches a resource the operator must not touch. The happy path puts the
#: finalizer on within a second, so a few seconds is ample to see "never".
UNTOUCHED_FOR = 4.0


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def chart_rbac(chart: helm_python.Chart, namespace: str) -> list[dict[str, Any]]:
    """The chart's Roles and RoleBindings for ``namespace``, bound to the user."""
    values = {
        "watchNamespaces": [namespace],
        "credentials": {"existingSecret": SECRET_NAME, "existingSecretNamespace": namespace},
    }
    # Installed into that namespace, so the leader-election Role lands beside the Secret.
    docs = rbac_bound_to_user(list(render(chart, values, namespace=namespace).values()), USER)
    assert not [d for d in docs if d["kind"].startswith("Cluster")], "namespaced mode only"
    return docs


def grants(docs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Every (resource, verb) the Roles in ``docs`` grant."""
    return {
        (resource, verb)
        for doc in docs
        if doc["kind"] == "Role"
        for rule in doc["rules"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def without(docs: list[dict[str, Any]], resource: str, verb: str) -> list[dict[str, Any]]:
    """``docs`` with one verb on one resource taken away (a rule left with no verb goes)."""
    docs = copy.deepcopy(docs)
    for doc in docs:
        if doc["kind"] != "Role":
            continue
        rules = []
        for rule in doc["rules"]:
            if resource in rule["resources"] and verb in rule["verbs"]:
                assert rule["resources"] == [resource], "one resource per rule keeps cases exact"
                rule["verbs"] = [v for v in rule["verbs"] if v != verb]
            if rule["verbs"]:
                rules.append(rule)
        doc["rules"] = rules
    assert (resource, verb) not in grants(docs)
    return docs


@dataclass
class Scenario:
    """One namespace, one simulator, and the operator started as the RBAC-bound user."""

    kube: Kube
    namespace: str
    zstack: SimClient
    start_operator: Callable[..., OperatorProcess]
    op: OperatorProcess | None = None

    def start(self, *extra: str, **options: Any) -> OperatorProcess:
        # The Lease the chart's Role names: the release's fullname.
        self.op = self.start_operator("--lease-name", "zstack-operator", *extra, **options)
        return self.op

    def create(self, **spec: Any) -> str:
        return apply(self.kube, self.namespace, sample(**spec))

    def obj(self, name: str) -> dict[str, Any]:
        return self.kube.get("modelservice", name, self.namespace)

    def denied(self, verb: str, resource: str) -> None:
        """Wait until the operator's log shows the API server refusing ``verb`` on ``resource``."""
        assert self.op is not None
        op, needle = self.op, f'cannot {verb} resource "{resource}"'
        wait_until(lambda: needle in op.logs(), timeout=60, message=f"the log says {needle!r}")

    def untouched(self, name: str) -> None:
        """Never reconciled: no finalizer, no status, and ZStack never heard of it."""
        deadline = time.monotonic() + UNTOUCHED_FOR
        while True:
            obj = self.obj(name)
            assert obj["metadata"].get("finalizers") is None, obj["metadata"]
            assert "status" not in obj, obj["status"]
            assert self.zstack.services() == []
            if time.monotonic() >= deadline:
                return
            time.sleep(0.5)


def _no_list(s: Scenario) -> None:
    s.start()
    name = s.create()
    s.denied("list", "modelservices")
    s.untouched(name)


def _no_watch(s: Scenario) -> None:
    s.start()
    # The initial list still works, so the object is created only once the watch is refused:
    # then nothing but a watch could ever bring it to the operator.
    s.denied("watch", "modelservices")
    name = s.create()
    s.untouched(name)


def _no_patch(s: Scenario) -> None:
    s.start()
    name = s.create()
    s.denied("patch", "modelservices")  # kopf adds its finalizer before any handler runs
    s.untouched(name)


def _no_status_patch(s: Scenario) -> None:
    s.start()
    name = s.create()
    s.denied("patch", "modelservices/status")
    obj = s.obj(name)
    assert obj["metadata"]["finalizers"] == ["ai.zstack.io/finalizer"]
    assert "uuid" not in obj.get("status", {})
    # No write comes before the create (docs/writes.md): the create's job uuid is derived from
    # the object, so a retried pass asks that job instead of sending a second create.
    assert s.op is not None
    op, needle = s.op, 'cannot patch resource "modelservices/status"'
    wait_until(lambda: op.logs().count(needle) >= 2, timeout=60, message="a retried pass")
    assert s.zstack.requests("AddModelService") == 1
    created = s.zstack.counters()["created"]
    assert created == {obj["metadata"]["uid"].replace("-", ""): 1}, created


def _no_get(s: Scenario) -> None:
    s.start(drift_interval=2)
    name = s.create()
    uuid = ready(s.kube, s.namespace, name)["status"]["uuid"]
    s.zstack.delete_behind_our_back(uuid)
    # The drift loop reads the object when its check comes due: without get, no check runs.
    s.denied("get", "modelservices")
    assert s.zstack.service(uuid) is None
    assert s.zstack.requests("AddModelService") == 1


def _no_events(s: Scenario) -> None:
    s.start()
    name = s.create()
    ready(s.kube, s.namespace, name)  # Events are auxiliary: the service itself is fine
    s.denied("create", "events")  # kopf retries each Event for a minute, then drops it
    assert s.kube.events(s.namespace, name) == []


def _no_secret(s: Scenario) -> None:
    s.start()
    name = s.create()
    obj = wait_cond(s.kube, s.namespace, name, "Synced", "False", "ConnectionUnavailable")
    message = cond(obj, "Synced")["message"]
    assert f"may not read credentials Secret {s.namespace}/{SECRET_NAME}" in message
    assert 'cannot get resource "secrets"' in message
    assert cond(obj, "Ready").get("status") != "True"
    assert "uuid" not in obj["status"]
    assert s.zstack.requests("LogInByAccount") == 0


def _connection(s: Scenario) -> str:
    """A ZStackConnection to the simulator through the credentials Secret (readable by name)."""
    doc = {
        "apiVersion": "ai.zstack.io/v1alpha1",
        "kind": "ZStackConnection",
        "metadata": {"name": "zs", "namespace": s.namespace},
        "spec": {
            "endpoint": s.zstack.url,
            "allowInsecureHTTP": True,
            "credentialsSecretRef": {"name": SECRET_NAME},
        },
    }
    s.kube.apply(yaml.safe_dump(doc), namespace=s.namespace)
    return "zs"


def _unknown_connection(s: Scenario) -> None:
    name = s.create(connectionRef={"name": "zs"})
    obj = wait_cond(s.kube, s.namespace, name, "Synced", "False", "ConnectionUnavailable")
    assert "ZStackConnection/zs does not exist" in cond(obj, "Synced")["message"]
    assert s.zstack.services() == []


def _no_connection_list(s: Scenario) -> None:
    s.start()
    _connection(s)
    s.denied("list", "zstackconnections")
    _unknown_connection(s)


def _no_connection_watch(s: Scenario) -> None:
    s.start()
    s.denied("watch", "zstackconnections")  # the initial list worked: only a watch could tell
    _connection(s)
    _unknown_connection(s)


def _no_connection_patch(s: Scenario) -> None:
    s.start()
    _connection(s)
    s.denied("patch", "zstackconnections")  # kopf's finalizer, which guards a deletion in use
    ready(s.kube, s.namespace, s.create(connectionRef={"name": "zs"}))  # the connection works
    assert s.kube.get("zstackconnection", "zs", s.namespace)["metadata"].get("finalizers") is None


def _no_connection_status_patch(s: Scenario) -> None:
    s.start()
    _connection(s)
    s.denied("patch", "zstackconnections/status")
    ready(s.kube, s.namespace, s.create(connectionRef={"name": "zs"}))
    assert "status" not in s.kube.get("zstackconnection", "zs", s.namespace)


def _no_secret_watch(s: Scenario) -> None:
    s.start()
    assert s.op is not None
    op = s.op
    needle = f"cannot watch Secret {s.namespace}/{SECRET_NAME}"
    wait_until(lambda: needle in op.logs(), timeout=60, message=f"the log says {needle!r}")
    assert "reading it every 5 s instead" in op.logs()
    ready(s.kube, s.namespace, s.create())  # still works: the Secret is polled by get


def _no_lease_create(s: Scenario) -> None:
    s.start()
    name = s.create()
    s.denied("create", "leases")  # the first replica cannot make the Lease: all stand by
    s.untouched(name)


def _no_lease_get(s: Scenario) -> None:
    s.start()
    name = s.create()
    s.denied("get", "leases")
    s.untouched(name)


def _no_lease_update(s: Scenario) -> None:
    # Creating the Lease makes it the leader, but it can never renew: it stops acting once the
    # renew deadline (2 s of a 3 s lease) passes, and cannot take its Lease back.
    op = s.start("--lease-duration", "3")
    s.denied("update", "leases")
    needle = "lost the leadership (no renewal of the Lease"
    wait_until(lambda: needle in op.logs(), timeout=60, message=f"the log says {needle!r}")
    assert "standing by again" in op.logs()
    name = s.create()
    s.untouched(name)


# --- Models and ModelServiceDeployments: the ModelService grants, one kind at a time -----------


def operator_watches(plural: str) -> bool:
    """Whether the operator registers any handler for ``plural`` (ai.zstack.io)."""
    registry = kopf.OperatorRegistry()
    settings = Settings(endpoint="http://zstack.invalid", credentials_secret=SecretRef("ns", "s"))
    handlers.register(settings, registry)
    # kopf keeps its handlers in private per-cause registries; each names its resource.
    found = [
        handler.selector
        for holder in (registry._changing, registry._watching, registry._indexing)
        for handler in holder.get_all_handlers()
        if handler.selector is not None
    ]
    return any(plural in (sel.any_name, sel.plural) for sel in found)


@dataclass(frozen=True)
class ChainKind:
    """A kind of the model chain, as the cases below create and inspect it."""

    plural: str
    #: The ZStack API that creates its resource: never called while the operator cannot act.
    create_api: str

    @property
    def resource(self) -> str:
        return f"{self.plural}.ai.zstack.io"

    def doc(self, s: Scenario, service: str | None = None) -> dict[str, Any]:
        """The object to create; a deployment's ModelService is created Ready unless given."""
        if self.plural == "models":
            kind = "Model"
            spec: dict[str, Any] = {
                "installPath": "/models/qwen2-7b",
                "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID,
            }
        else:
            kind = "ModelServiceDeployment"
            if service is None:
                # A ModelService that is there and Ready: only the deployment is held back.
                service = s.create()
                ready(s.kube, s.namespace, service)
            spec = {
                "modelServiceRef": {"name": service},
                "zoneUuid": DEFAULT_ZONE_UUID,
                "type": "Container",
                "dockerImage": "registry.example/vllm:0.6",
            }
        meta = {"name": "chain", "namespace": s.namespace}
        return {"apiVersion": "ai.zstack.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}

    def create(self, s: Scenario) -> str:
        return apply(s.kube, s.namespace, self.doc(s))

    def obj(self, s: Scenario, name: str) -> dict[str, Any]:
        return s.kube.get(self.resource, name, s.namespace)

    def untouched(self, s: Scenario, name: str) -> None:
        """Never reconciled: no finalizer, no status, and ZStack was never asked to create it."""
        deadline = time.monotonic() + UNTOUCHED_FOR
        while True:
            obj = self.obj(s, name)
            assert obj["metadata"].get("finalizers") is None, obj["metadata"]
            assert "status" not in obj, obj["status"]
            assert s.zstack.requests(self.create_api) == 0
            if time.monotonic() >= deadline:
                return
            time.sleep(0.5)

    def ready(self, s: Scenario, name: str) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            obj = self.obj(s, name)
            c = cond(obj, "Ready")
            current = c.get("observedGeneration") == obj["metadata"]["generation"]
            return obj if c.get("status") == "True" and current else None

        return wait_until(check, timeout=90, message=f"{self.plural}/{name} Ready")


MODELS = ChainKind("models", "AddModel")
DEPLOYMENTS = ChainKind("modelservicedeployments", "DeployModelService")


def _chain_cases(kind: ChainKind) -> dict[tuple[str, str], Callable[[Scenario], None]]:
    """The ModelService cases for another kind: what breaks without each of its five grants."""

    def watched(s: Scenario) -> None:
        if not operator_watches(kind.plural):
            pytest.skip(f"the operator does not reconcile {kind.plural} yet")

    def no_list(s: Scenario) -> None:
        watched(s)
        s.start()
        name = kind.create(s)
        s.denied("list", kind.plural)
        kind.untouched(s, name)

    def no_watch(s: Scenario) -> None:
        watched(s)
        s.start()
        s.denied("watch", kind.plural)  # the initial list worked: only a watch could tell
        name = kind.create(s)
        kind.untouched(s, name)

    def no_patch(s: Scenario) -> None:
        watched(s)
        s.start()
        name = kind.create(s)
        s.denied("patch", kind.plural)  # kopf adds its finalizer before any handler runs
        kind.untouched(s, name)

    def no_status_patch(s: Scenario) -> None:
        watched(s)
        s.start()
        name = kind.create(s)
        s.denied("patch", f"{kind.plural}/status")
        obj = kind.obj(s, name)
        assert obj["metadata"]["finalizers"] == ["ai.zstack.io/finalizer"]
        assert "uuid" not in obj.get("status", {})
        assert s.op is not None
        op, needle = s.op, f'cannot patch resource "{kind.plural}/status"'
        wait_until(lambda: op.logs().count(needle) >= 2, timeout=60, message="a retried pass")
        if kind is DEPLOYMENTS:
            # status.pendingJob is written before the Deploy is sent: no write, no Deploy.
            assert s.zstack.requests(kind.create_api) == 0
        else:
            # However many passes are retried, ZStack is asked to create the model once at most.
            assert s.zstack.requests(kind.create_api) <= 1

    def no_get(s: Scenario) -> None:
        watched(s)
        s.start()
        name = kind.create(s)
        # Every pass reads the object afresh inside its lock (kopf's copy can predate the last
        # status write): without get, no pass gets as far as ZStack.
        s.denied("get", kind.plural)
        assert "status" not in kind.obj(s, name)
        assert s.zstack.requests(kind.create_api) == 0

    return {
        (kind.plural, "get"): no_get,
        (kind.plural, "list"): no_list,
        (kind.plural, "watch"): no_watch,
        (kind.plural, "patch"): no_patch,
        (f"{kind.plural}/status", "patch"): no_status_patch,
    }


#: What breaks without each grant of the chart's Roles.
CASES: dict[tuple[str, str], Callable[[Scenario], None]] = {
    ("modelservices", "get"): _no_get,
    ("modelservices", "list"): _no_list,
    ("modelservices", "watch"): _no_watch,
    ("modelservices", "patch"): _no_patch,
    ("modelservices/status", "patch"): _no_status_patch,
    ("events", "create"): _no_events,
    ("secrets", "get"): _no_secret,
    ("secrets", "watch"): _no_secret_watch,
    ("zstackconnections", "list"): _no_connection_list,
    ("zstackconnections", "watch"): _no_connection_watch,
    ("zstackconnections", "patch"): _no_connection_patch,
    ("zstackconnections/status", "patch"): _no_connection_status_patch,
    ("leases", "create"): _no_lease_create,
    ("leases", "get"): _no_lease_get,
    ("leases", "update"): _no_lease_update,
    **_chain_cases(MODELS),
    **_chain_cases(DEPLOYMENTS),
}


@pytest.fixture
def user_kubeconfig(kube: Kube) -> Path:
    if USER not in kube.user_kubeconfigs:
        pytest.skip(f"needs the dev cluster's token user {USER!r} (impersonation cannot run it)")
    return kube.user_kubeconfigs[USER]


@pytest.fixture
def scenario(
    kube: Kube,
    namespace: str,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Any,
    user_kubeconfig: Path,
) -> Scenario:
    return Scenario(
        kube,
        namespace,
        zstack,
        lambda *extra, **kw: operator_factory(*extra, kubeconfig=user_kubeconfig, **kw),
    )


def test_every_grant_has_a_case(chart: helm_python.Chart) -> None:
    assert grants(chart_rbac(chart, "team-a")) == set(CASES)


def test_the_chart_rules_are_enough_for_the_whole_life_of_a_service(
    chart: helm_python.Chart, scenario: Scenario
) -> None:
    kube, ns, zstack = scenario.kube, scenario.namespace, scenario.zstack
    kube.apply(yaml.safe_dump_all(chart_rbac(chart, ns)), namespace=ns)
    op = scenario.start()

    name = scenario.create()
    obj = ready(kube, ns, name)
    uuid = obj["status"]["uuid"]
    assert obj["metadata"]["finalizers"] == ["ai.zstack.io/finalizer"]
    assert zstack.service(uuid)["requestCpu"] == 4

    scenario.create(requestCpu=8)
    obj = wait_until(
        lambda: (o := ready(kube, ns, name))["metadata"]["generation"] == 2 and o,
        timeout=60,
        message="the update is applied",
    )
    assert cond(obj, "Synced")["reason"] == "ReconcileSuccess"
    assert zstack.service(uuid)["requestCpu"] == 8
    assert "Available" in [e["reason"] for e in kube.events(ns, name)]

    kube.kubectl("delete", "modelservice", name, "--wait=true", namespace=ns)
    assert kube.get_or_none("modelservice", name, ns) is None
    assert zstack.service(uuid) is None
    assert zstack.requests("DeleteModelService") == 1

    forbidden = [line for line in op.logs().splitlines() if FORBIDDEN.search(line)]
    assert forbidden == []


@pytest.mark.parametrize(("resource", "verb"), list(CASES), ids=[f"{r}-{v}" for r, v in CASES])
def test_each_grant_is_needed(
    chart: helm_python.Chart, scenario: Scenario, resource: str, verb: str
) -> None:
    ns = scenario.namespace
    scenario.kube.apply(yaml.safe_dump_all(without(chart_rbac(chart, ns), resource, verb)), ns)
    CASES[resource, verb](scenario)


def test_the_chart_rules_are_enough_for_the_whole_model_chain(
    chart: helm_python.Chart, scenario: Scenario
) -> None:
    """A Model, a ModelService serving it and a deployment of both: created, Ready, deleted."""
    if not (operator_watches(MODELS.plural) and operator_watches(DEPLOYMENTS.plural)):
        pytest.skip("the operator does not reconcile models and modelservicedeployments yet")
    kube, ns = scenario.kube, scenario.namespace
    kube.apply(yaml.safe_dump_all(chart_rbac(chart, ns)), namespace=ns)
    op = scenario.start()

    model = MODELS.create(scenario)
    MODELS.ready(scenario, model)
    service = scenario.create(modelRefs=[{"name": model}])
    ready(kube, ns, service)
    deployment = DEPLOYMENTS.doc(scenario, service)
    deployment["spec"]["modelRef"] = {"name": model}
    name = apply(kube, ns, deployment)
    obj = DEPLOYMENTS.ready(scenario, name)
    assert obj["status"]["endpoint"]

    for resource, gone in (
        (DEPLOYMENTS.resource, name),
        ("modelservice", service),
        (MODELS.resource, model),
    ):
        kube.kubectl("delete", resource, gone, "--wait=true", namespace=ns, timeout=120)
        assert kube.get_or_none(resource, gone, ns) is None

    forbidden = [line for line in op.logs().splitlines() if FORBIDDEN.search(line)]
    assert forbidden == []
