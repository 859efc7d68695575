"""The install artifacts against a real API server: dry-runs, a real Helm install, its RBAC.

Server-side dry-runs send every object through the API server's admission and defaulting
without persisting it; the tests then check the server kept every field we sent, because an old
server silently drops fields it does not know. The Helm installs go through Helm's own Go code
(helm_python) in the test's namespace and are uninstalled afterwards; ``kubectl auth can-i``
as the chart's ServiceAccount then proves the bound rules are exactly the documented ones.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from tests.support.helm_chart import rbac_bound_to_user
from tests.support.kube import Kube

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "zstack-operator"
INSTALL_YAML = ROOT / "deploy" / "manifests" / "install.yaml"
OVERLAY = ROOT / "deploy" / "kustomize" / "overlays" / "example"
#: The namespace the plain manifests are rendered for; tests move them to their own.
RENDERED_NAMESPACE = "zstack-system"
#: The kinds the operator reconciles, granted alike: ModelService and the rest of the model chain.
CHAIN = (
    "modelservices.ai.zstack.io",
    "models.ai.zstack.io",
    "modelservicedeployments.ai.zstack.io",
)


def _docs(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def _assert_kept(sent: Any, got: Any, where: str) -> None:
    """Every field of ``sent`` is in ``got`` with the same value (the server may add more)."""
    if isinstance(sent, dict):
        assert isinstance(got, dict), f"{where}: server returned {got!r}"
        for key, value in sent.items():
            assert key in got, f"{where}.{key}: dropped by the server"
            _assert_kept(value, got[key], f"{where}.{key}")
    elif isinstance(sent, list):
        assert isinstance(got, list), f"{where}: server returned {got!r}"
        assert len(sent) == len(got), f"{where}: {len(sent)} items sent, {len(got)} kept"
        for index, (one, other) in enumerate(zip(sent, got, strict=True)):
            _assert_kept(one, other, f"{where}[{index}]")
    else:
        assert sent == got, f"{where}: sent {sent!r}, server has {got!r}"


def _as_stored(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as the server stores it where that differs by design: stringData becomes data."""
    if doc["kind"] != "Secret" or "stringData" not in doc:
        return doc
    stored = {key: value for key, value in doc.items() if key != "stringData"}
    stored["data"] = {
        key: base64.b64encode(value.encode()).decode() for key, value in doc["stringData"].items()
    }
    return stored


def _for_server(kube: Kube, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as Helm would render it for this server: before 1.21 the PodDisruptionBudget is
    policy/v1beta1 (the chart asks .Capabilities; an offline render assumes a current server).
    The plain manifests say in docs/high-availability.md that they need 1.21 for it."""
    if doc["kind"] == "PodDisruptionBudget" and kube.server_minor < 21:
        assert doc["apiVersion"] == "policy/v1"
        return {**doc, "apiVersion": "policy/v1beta1"}
    return doc


def _dry_run(kube: Kube, docs: list[dict[str, Any]]) -> None:
    """Server-side dry-run of ``docs``; each must be accepted and come back intact.

    The CRD goes on its own: kubectl validates against the server's OpenAPI, and servers older
    than 1.25 do not know x-kubernetes-validations, so there it is sent unvalidated (the way
    docs/install.md tells users to apply it).
    """
    crds = [doc for doc in docs if doc["kind"] == "CustomResourceDefinition"]
    others = [_for_server(kube, doc) for doc in docs if doc["kind"] != "CustomResourceDefinition"]
    if crds:
        validate = "--validate=false" if kube.server_minor < 25 else "--validate=strict"
        kube.kubectl("apply", "--dry-run=server", validate, "-f", "-", input=_dump(crds))
    result = kube.kubectl("apply", "--dry-run=server", "-o", "json", "-f", "-", input=_dump(others))
    answer = json.loads(result.stdout)
    returned = answer["items"] if answer.get("kind") == "List" else [answer]
    by_key = {(obj["kind"], obj["metadata"]["name"]): obj for obj in returned}
    assert len(by_key) == len(others)
    for doc in others:
        key = (doc["kind"], doc["metadata"]["name"])
        _assert_kept(_as_stored(doc), by_key[key], f"{key[0]}/{key[1]}")


def _moved(text: str, namespace: str) -> list[dict[str, Any]]:
    """Plain manifests rendered for zstack-system, moved into ``namespace`` (which exists)."""
    assert re.search(rf"\b{RENDERED_NAMESPACE}\b", text)
    return _docs(re.sub(rf"\b{RENDERED_NAMESPACE}\b", namespace, text))


def _rendered_chart(values: dict[str, Any] | None, release: str, namespace: str) -> str:
    with helm_python.Chart.load(CHART) as chart:
        manifests = chart.render(values, name=release, namespace=namespace, is_install=True)
    return "\n---\n".join(text for name, text in manifests.items() if name.endswith(".yaml"))


def test_chart_default_values_dry_run(
    kube: Kube, namespace: str, modelservice_crd: list[str]
) -> None:
    assert "modelservices.ai.zstack.io" in modelservice_crd
    docs = _docs(_rendered_chart(None, "zstack-operator", namespace))
    assert {doc["kind"] for doc in docs} >= {"ClusterRole", "ClusterRoleBinding", "Deployment"}
    _dry_run(kube, docs)


def test_chart_namespaced_dry_run(kube: Kube, namespace: str, modelservice_crd: list[str]) -> None:
    values = {
        "watchNamespaces": [namespace],
        "zstack": {
            "endpoint": "https://zstack.example:8443",
            "tls": {"caBundle": "-----BEGIN CERTIFICATE-----\n"},
        },
        "credentials": {"create": True, "accessKeyId": "id", "accessKeySecret": "secret"},
    }
    docs = _docs(_rendered_chart(values, "zso", namespace))
    assert not [doc for doc in docs if doc["kind"].startswith("Cluster")]
    _dry_run(kube, docs)


def test_install_yaml_dry_run(kube: Kube, namespace: str, modelservice_crd: list[str]) -> None:
    docs = _moved(INSTALL_YAML.read_text(encoding="utf-8"), namespace)
    assert [doc["kind"] for doc in docs][:2] == ["Namespace", "CustomResourceDefinition"]
    _dry_run(kube, docs)


def test_kustomize_example_overlay_dry_run(
    kube: Kube, namespace: str, modelservice_crd: list[str]
) -> None:
    version = json.loads(kube.kubectl("version", "--client", "-o", "json").stdout)
    kustomize = str(version.get("kustomizeVersion", "v0"))
    if int(kustomize.lstrip("v").split(".")[0]) < 4:
        pytest.skip(f"kubectl's kustomize {kustomize} predates the overlay's syntax (needs v4+)")
    built = kube.kubectl("kustomize", str(OVERLAY)).stdout
    docs = _moved(built, namespace)
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    (operator,) = deployment["spec"]["template"]["spec"]["containers"]
    assert operator["image"] == "registry.example.com/platform/zstack-operator:0.1.0"
    assert {"name": "ZSTACK_ENDPOINT", "value": "https://zstack.example.com:8080"} in operator[
        "env"
    ]
    _dry_run(kube, docs)


@pytest.fixture
def chart_without_crds(tmp_path: Path) -> Path:
    """The chart minus crds/: the CRD is the modelservice_crd fixture's, and Helm 4 applies
    crds/ server-side, which servers before 1.25 refuse for x-kubernetes-validations."""
    copy = tmp_path / "zstack-operator"
    shutil.copytree(CHART, copy, ignore=shutil.ignore_patterns("crds"))
    return copy


@pytest.fixture
def helm(kube: Kube, namespace: str) -> Iterator[helm_python.Config]:
    with helm_python.Config(kubeconfig_path=kube.kubeconfig, namespace=namespace) as config:
        yield config


def _can(kube: Kube, account: str, *check: str) -> bool:
    result = kube.kubectl("auth", "can-i", *check, f"--as={account}", check=False)
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


def _install(helm: helm_python.Config, chart: Path, release: str, values: dict[str, Any]) -> None:
    release_info = helm.install(str(chart), release, values)
    assert release_info["status"] == "deployed"


def test_helm_install_namespaced_grants_exactly_the_rules(
    kube: Kube,
    namespace: str,
    modelservice_crd: list[str],
    chart_without_crds: Path,
    helm: helm_python.Config,
) -> None:
    values = {
        "watchNamespaces": [namespace],
        "zstack": {"endpoint": "http://zstack.example:8080"},
        "credentials": {"create": True, "accountName": "admin", "password": "password"},
    }
    _install(helm, chart_without_crds, "zso", values)
    try:
        secret = kube.get("secret", "zso-zstack-operator-credentials", namespace)
        assert set(secret["data"]) == {"accountName", "password"}
        deployment = kube.get("deployment", "zso-zstack-operator", namespace)
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "zso-zstack-operator"
        assert deployment["spec"]["replicas"] == 2
        # Installed against a live server, Helm asks it which PodDisruptionBudget API it has.
        budget = kube.get("poddisruptionbudget", "zso-zstack-operator", namespace)
        expected = "policy/v1" if kube.server_minor >= 21 else "policy/v1beta1"
        assert budget["apiVersion"] == expected
        account = f"system:serviceaccount:{namespace}:zso-zstack-operator"
        allowed = [
            *(
                ("-n", namespace, verb, kind)
                for kind in CHAIN
                for verb in ("get", "list", "watch", "patch")
            ),
            *(("-n", namespace, "patch", kind, "--subresource=status") for kind in CHAIN),
            ("-n", namespace, "create", "events"),
            ("-n", namespace, "get", "secret/zso-zstack-operator-credentials"),
            ("-n", namespace, "create", "leases.coordination.k8s.io"),
            ("-n", namespace, "get", "leases.coordination.k8s.io/zso-zstack-operator"),
            ("-n", namespace, "update", "leases.coordination.k8s.io/zso-zstack-operator"),
        ]
        denied = [
            ("-n", namespace, "get", "leases.coordination.k8s.io/another-lease"),
            ("-n", namespace, "update", "leases.coordination.k8s.io/another-lease"),
            ("-n", namespace, "delete", "leases.coordination.k8s.io/zso-zstack-operator"),
            ("-n", namespace, "list", "leases.coordination.k8s.io"),
            *(("--all-namespaces", "list", kind) for kind in CHAIN),
            *(("-n", "default", "watch", kind) for kind in CHAIN),
            *(
                ("-n", namespace, verb, kind)
                for kind in CHAIN
                for verb in ("create", "update", "delete")
            ),
            *(("-n", namespace, "get", kind, "--subresource=status") for kind in CHAIN),
            *(("-n", namespace, "update", kind, "--subresource=status") for kind in CHAIN),
            ("-n", namespace, "get", "secret/some-other-secret"),
            ("-n", namespace, "list", "secrets"),
            ("-n", namespace, "update", "events"),
            ("list", "namespaces"),
            ("get", "customresourcedefinitions.apiextensions.k8s.io"),
        ]
        assert [c for c in allowed if not _can(kube, account, *c)] == []
        assert [c for c in denied if _can(kube, account, *c)] == []
    finally:
        helm.uninstall("zso")
    assert kube.get_or_none("deployment", "zso-zstack-operator", namespace) is None


def test_helm_install_cluster_wide_reaches_every_namespace(
    kube: Kube,
    namespace: str,
    modelservice_crd: list[str],
    chart_without_crds: Path,
    helm: helm_python.Config,
) -> None:
    # A release name unique to this test keeps its ClusterRole apart from any other.
    release = f"zso-{namespace[-6:]}"
    _install(helm, chart_without_crds, release, {"zstack": {"endpoint": "http://z.example:8080"}})
    try:
        fullname = f"{release}-zstack-operator"
        role = kube.get("clusterrole", fullname)
        assert [rule["resources"] for rule in role["rules"]] == [
            ["modelservices"],
            ["modelservices/status"],
            ["models"],
            ["models/status"],
            ["modelservicedeployments"],
            ["modelservicedeployments/status"],
            ["events"],
            ["zstackconnections"],
            ["zstackconnections/status"],
            ["clusterzstackconnections"],
            ["clusterzstackconnections/status"],
        ]
        account = f"system:serviceaccount:{namespace}:{fullname}"
        for kind in CHAIN:
            assert _can(kube, account, "--all-namespaces", "watch", kind)
            assert _can(kube, account, "-n", "default", "patch", kind, "--subresource=status")
            assert not _can(kube, account, "-n", "default", "delete", kind)
        assert _can(kube, account, "-n", "default", "create", "events")
        assert _can(kube, account, "-n", namespace, "get", f"secret/{fullname}-credentials")
        assert not _can(kube, account, "-n", "default", "get", f"secret/{fullname}-credentials")
        assert not _can(kube, account, "--all-namespaces", "list", "secrets")
    finally:
        helm.uninstall(release)
    assert kube.get_or_none("clusterrole", f"{release}-zstack-operator") is None


def test_chart_rbac_bound_to_a_user_holds_for_its_own_token(
    kube: Kube, namespace: str, modelservice_crd: list[str]
) -> None:
    """The namespaced rules, bound to the dev cluster's ``zstack-operator`` user (its own token,
    not impersonation, on the dev cluster): the identity an operator process would run as."""
    values = {"watchNamespaces": [namespace]}
    docs = _docs(_rendered_chart(values, "zso-user", namespace))
    kube.apply(_dump(rbac_bound_to_user(docs, "zstack-operator")), namespace=namespace)
    user = "zstack-operator"

    def can(*check: str) -> bool:
        result = kube.kubectl("auth", "can-i", *check, "-n", namespace, user=user, check=False)
        return result.stdout.strip() == "yes"

    for kind in CHAIN:
        assert can("watch", kind)
        assert can("patch", kind, "--subresource=status")
        assert not can("delete", kind)
    assert can("create", "events")
    assert can("get", "secret/zso-user-zstack-operator-credentials")
    assert not can("get", "secret/anything-else")
    assert not can("list", "secrets")
