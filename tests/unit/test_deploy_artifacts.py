"""The generated install artifacts are current, and the image build reads what it is sent.

``hack/render-manifests.py`` derives the CRD copies, the kustomize base, install.yaml and the
argocd-cm snippet from crds/, the Helm chart and the health checks; these tests regenerate them
in memory and fail on any difference, the way crdgen's check guards crds/.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from zstack_operator import crdgen

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
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
    ]
    assert [doc["metadata"]["name"] for doc in docs[1:4]] == [
        "modelservices.ai.zstack.io",
        "zstackconnections.ai.zstack.io",
        "clusterzstackconnections.ai.zstack.io",
    ]
    labels: list[dict[str, str]] = [doc["metadata"].get("labels", {}) for doc in docs[4:]]
    assert all("helm.sh/chart" not in x and "app.kubernetes.io/managed-by" not in x for x in labels)
    assert {doc["metadata"].get("namespace") for doc in docs[4:]} == {"zstack-system", None}


def test_kustomize_base_lists_exactly_its_generated_files() -> None:
    base = ROOT / "deploy" / "kustomize" / "base"
    kustomization: dict[str, Any] = yaml.safe_load((base / "kustomization.yaml").read_text())
    on_disk = {str(p.relative_to(base)) for p in base.rglob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_image_runs_the_operator_as_a_number() -> None:
    dockerfile = _dockerfile()
    assert re.findall(r"^USER (.+)$", dockerfile, re.M) == ["65532:65532"]
    assert re.findall(r"^ENTRYPOINT (.+)$", dockerfile, re.M) == ['["zstack-operator", "run"]']
    assert re.findall(r"^ARG PYTHON_IMAGE=(.+)$", dockerfile, re.M) == ["python:3.11-slim"]
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
