"""The generated install artifacts are current, the chart's tenancy RBAC is narrow, and the image
build reads what it is sent.

``hack/render-manifests.py`` derives the CRD copies, the kustomize base, install.yaml and the
argocd-cm snippet from crds/, the Helm chart and the health checks; these tests regenerate them
in memory and fail on any difference, the way crdgen's check guards crds/.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python
import pytest
import yaml
from zstack_operator import crdgen

from tests.support.helm_chart import (
    CHART,
    CLUSTER_RULES,
    CONNECTION_SECRET_RULES,
    NS,
    Objects,
    render,
    secret_rule,
)

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
CRD_FILES = list(crdgen.render_all())


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_manifests", ROOT / "hack" / "render-manifests.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    files: dict[Path, str] = _load_script().render()
    return files


def test_generated_files_are_up_to_date(generated: dict[Path, str]) -> None:
    stale = []
    for path, want in generated.items():
        have = path.read_text(encoding="utf-8") if path.is_file() else ""
        if have != want:
            diff = difflib.unified_diff(
                have.splitlines(), want.splitlines(), str(path), "regenerated", lineterm="", n=1
            )
            stale.append("\n".join(list(diff)[:40]))
    assert not stale, "run .venv/bin/python hack/render-manifests.py\n" + "\n\n".join(stale)


def test_the_script_copies_every_crd_crdgen_writes() -> None:
    assert list(_load_script().CRD_FILES) == CRD_FILES


@pytest.mark.parametrize("name", CRD_FILES)
@pytest.mark.parametrize(
    "directory", ["deploy/helm/zstack-operator/crds", "deploy/kustomize/base/crds"]
)
def test_crd_copies_are_identical_to_crds(directory: str, name: str) -> None:
    assert (ROOT / directory / name).read_bytes() == (CRDS / name).read_bytes()
    assert {p.name for p in (ROOT / directory).glob("*.yaml")} == set(CRD_FILES)


def test_install_yaml_creates_dependencies_first() -> None:
    docs = [
        d for d in yaml.safe_load_all((ROOT / "deploy/manifests/install.yaml").read_text()) if d
    ]
    kinds = [doc["kind"] for doc in docs]
    assert kinds == [
        "Namespace",
        *["CustomResourceDefinition"] * len(CRD_FILES),
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
    ]
    operator = 1 + len(CRD_FILES)  # the first document after the CRDs
    assert [doc["metadata"]["name"] for doc in docs[1:operator]] == [
        "modelservices.ai.zstack.io",
        "zstackconnections.ai.zstack.io",
        "clusterzstackconnections.ai.zstack.io",
        "models.ai.zstack.io",
        "modelservicedeployments.ai.zstack.io",
    ]
    labels: list[dict[str, str]] = [doc["metadata"].get("labels", {}) for doc in docs[operator:]]
    assert all("helm.sh/chart" not in x and "app.kubernetes.io/managed-by" not in x for x in labels)
    assert {doc["metadata"].get("namespace") for doc in docs[operator:]} == {"zstack-system", None}
    (cluster_role,) = [doc for doc in docs if doc["kind"] == "ClusterRole"]
    assert cluster_role["rules"] == CLUSTER_RULES, "the default install reads no tenant Secrets"


def test_kustomize_base_lists_exactly_its_generated_files() -> None:
    base = ROOT / "deploy" / "kustomize" / "base"
    kustomization: dict[str, Any] = yaml.safe_load((base / "kustomization.yaml").read_text())
    on_disk = {str(p.relative_to(base)) for p in base.rglob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


# --- tenancy.secretNamespaces: which Secrets the operator may read --------------------------------


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def _secret_grants(objects: Objects) -> dict[tuple[str, str, str | None], list[dict[str, Any]]]:
    """Every (Cluster)Role rule on Secrets, by the object that holds it."""
    return {
        key: [rule for rule in doc["rules"] if "secrets" in rule["resources"]]
        for key, doc in objects.items()
        if key[0] in ("ClusterRole", "Role")
        and any("secrets" in rule["resources"] for rule in doc["rules"])
    }


@pytest.mark.parametrize("namespaces", [["team-a", NS], ["*"]], ids=["listed", "all"])
def test_lint_with_tenancy_values(namespaces: list[str]) -> None:
    values = {"tenancy": {"secretNamespaces": namespaces}}
    report = helm_python.lint(CHART, values, strict=True, namespace=NS, kube_version="v1.20.2")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []


def test_default_grants_no_secret_but_the_operators_own(chart: helm_python.Chart) -> None:
    objects = render(chart)
    assert _secret_grants(objects) == {
        ("Role", "zstack-operator-credentials-reader", NS): secret_rule(
            "zstack-operator-credentials"
        )
    }
    assert not [key for key in objects if key[1].endswith("-connection-secrets")]


def test_listed_namespaces_get_a_role_each(chart: helm_python.Chart) -> None:
    objects = render(chart, {"tenancy": {"secretNamespaces": ["team-a", "team-b"]}})
    grants = _secret_grants(objects)
    assert grants == {
        ("Role", "zstack-operator-credentials-reader", NS): secret_rule(
            "zstack-operator-credentials"
        ),
        ("Role", "zstack-operator-connection-secrets", "team-a"): CONNECTION_SECRET_RULES,
        ("Role", "zstack-operator-connection-secrets", "team-b"): CONNECTION_SECRET_RULES,
    }
    for ns in ("team-a", "team-b"):
        binding = objects["RoleBinding", "zstack-operator-connection-secrets", ns]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "zstack-operator-connection-secrets",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "zstack-operator", "namespace": NS}
        ]
    assert objects["ClusterRole", "zstack-operator", None]["rules"] == CLUSTER_RULES


def test_the_operators_namespace_can_be_listed_too(chart: helm_python.Chart) -> None:
    """For ClusterZStackConnections, whose Secrets live beside the operator."""
    objects = render(chart, {"tenancy": {"secretNamespaces": [NS]}})
    assert objects["Role", "zstack-operator-connection-secrets", NS]["rules"] == (
        CONNECTION_SECRET_RULES
    )
    assert ("Role", "zstack-operator-credentials-reader", NS) in objects


def test_star_grants_secrets_cluster_wide_and_nothing_per_namespace(
    chart: helm_python.Chart,
) -> None:
    objects = render(chart, {"tenancy": {"secretNamespaces": ["*"]}})
    cluster_role = objects["ClusterRole", "zstack-operator", None]
    assert cluster_role["rules"] == CLUSTER_RULES + CONNECTION_SECRET_RULES
    assert not [key for key in objects if key[1].endswith("-connection-secrets")]


def test_namespaced_mode_with_listed_secret_namespaces(chart: helm_python.Chart) -> None:
    values = {"watchNamespaces": ["team-a"], "tenancy": {"secretNamespaces": ["team-a"]}}
    objects = render(chart, values)
    assert not [key for key in objects if key[0].startswith("Cluster")]
    assert objects["Role", "zstack-operator-connection-secrets", "team-a"]["rules"] == (
        CONNECTION_SECRET_RULES
    )


def test_no_rbac_means_no_secret_roles_either(chart: helm_python.Chart) -> None:
    values = {"rbac": {"create": False}, "tenancy": {"secretNamespaces": ["team-a"]}}
    assert _secret_grants(render(chart, values)) == {}


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"tenancy": {"secretNamespaces": ["*", "team-a"]}}, "must be the only entry"),
        (
            {"tenancy": {"secretNamespaces": ["*"]}, "watchNamespaces": ["team-a"]},
            "list the namespaces instead",
        ),
        ({"tenancy": {"secretNamespaces": ["Team-A"]}}, "/tenancy/secretNamespaces/0"),
        ({"tenancy": {"secretNamespaces": ["a", "a"]}}, "/tenancy/secretNamespaces"),
        ({"tenancy": {"secretNamespaces": "team-a"}}, "/tenancy/secretNamespaces"),
        ({"tenancy": {"namespaces": []}}, "namespaces"),
    ],
    ids=["star-and-more", "star-namespaced", "bad-name", "duplicate", "not-a-list", "typo"],
)
def test_refused_tenancy_values(
    chart: helm_python.Chart, values: dict[str, Any], error: str
) -> None:
    with pytest.raises(Exception, match=re.escape(error)):
        render(chart, values)


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_image_runs_the_operator_as_a_number() -> None:
    dockerfile = _dockerfile()
    assert re.findall(r"^USER (.+)$", dockerfile, re.M) == ["65532:65532"]
    assert re.findall(r"^ENTRYPOINT (.+)$", dockerfile, re.M) == ['["zstack-operator", "run"]']
    assert re.findall(r"^ARG PYTHON_IMAGE=(.+)$", dockerfile, re.M) == [
        "python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7"
    ]
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2


def test_dockerignore_sends_every_file_the_build_copies() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = set()
    for line in _dockerfile().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(line.split()[1:-1])
    assert copied == allowed
    assert all((ROOT / path).exists() for path in copied)
