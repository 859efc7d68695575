"""Every sample in deploy/samples/ applies server-side on Kubernetes 1.36, and again as a no-op.

``kubectl apply --server-side`` (kubectl 1.36, strict field validation) is how a user, Argo CD
or Flux applies them today; the v1.20 e2e tests cover client-side apply. A sample the 1.36
server would prune, warn about or refuse fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.modern.crds import MANAGER, crd, crds, unique_name
from tests.support.kube import Kube

SAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "samples"
SAMPLE_FILES = sorted(SAMPLES.rglob("*.yaml"))
#: Core-API objects beside the custom resources (the Secret a connection names). This server is
#: the apiextensions API server alone: it has no core API (/api is 404), so it cannot serve them;
#: the v1.20 e2e tests apply them with everything else.
CORE_KINDS = {"Secret", "Namespace", "ConfigMap"}


def _documents(path: Path) -> list[dict[str, Any]]:
    docs = yaml.safe_load_all(path.read_text(encoding="utf-8"))
    return [doc for doc in docs if isinstance(doc, dict)]


def _custom_resources(path: Path) -> list[dict[str, Any]]:
    ours = {c.api_version for c in crds()}
    found = []
    for doc in _documents(path):
        if doc.get("apiVersion") in ours:
            found.append(doc)
        else:
            # Anything else must be a core object this server cannot serve, not a new kind.
            assert doc.get("apiVersion") == "v1", f"{path.name}: {doc.get('apiVersion')}"
            assert doc.get("kind") in CORE_KINDS, f"{path.name}: {doc.get('kind')}"
    return found


#: The files with custom resources; the others (a connection's Secret) hold core objects only,
#: which _custom_resources() checks in test_every_sample_file_is_covered.
CR_FILES = [path for path in SAMPLE_FILES if _custom_resources(path)]


def test_every_sample_file_is_covered() -> None:
    assert len(CR_FILES) >= 5
    assert {doc["kind"] for path in CR_FILES for doc in _custom_resources(path)} == {
        c.kind for c in crds()
    }
    for path in set(SAMPLE_FILES) - set(CR_FILES):
        kinds = {doc["kind"] for doc in _documents(path)}
        assert kinds <= CORE_KINDS, f"{path.name}: {kinds}"


def _apply(kube: Kube, doc: dict[str, Any], namespace: str | None) -> str:
    result = kube.kubectl(
        "apply",
        "--server-side",
        f"--field-manager={MANAGER}",
        "-f",
        "-",
        namespace=namespace,
        input=json.dumps(doc),
    )
    # Warnings (unknown or duplicate fields, deprecated API) would show up here.
    assert "Warning" not in result.stderr, result.stderr
    return result.stdout


def _get_with_managed_fields(kube: Kube, ref: str, namespace: str | None) -> dict[str, Any]:
    # kubectl >= 1.21 leaves managedFields out of its output unless asked.
    result = kube.kubectl("get", ref, "-o", "json", "--show-managed-fields", namespace=namespace)
    obj: dict[str, Any] = json.loads(result.stdout)
    return obj


@pytest.mark.parametrize("path", CR_FILES, ids=[str(p.relative_to(SAMPLES)) for p in CR_FILES])
def test_sample_applies_server_side_and_reapplies_as_a_no_op(modern_kube: Kube, path: Path) -> None:
    docs = _custom_resources(path)
    namespace = unique_name("samples")
    for doc in docs:
        kind = crd(doc["kind"])
        ns = (doc["metadata"].get("namespace") or namespace) if kind.namespaced else None
        # Cluster-scoped samples have fixed names: take the object away again first.
        name = doc["metadata"]["name"]
        ref = f"{kind.plural}/{name}"
        if not kind.namespaced:
            modern_kube.kubectl("delete", ref, "--ignore-not-found", "--wait=true")

        out = _apply(modern_kube, doc, ns)
        assert f"/{name} serverside-applied" in out, out
        first = modern_kube.get(kind.plural, name, ns)

        _apply(modern_kube, doc, ns)
        again = _get_with_managed_fields(modern_kube, ref, ns)
        # A no-op: nothing written, so neither resourceVersion nor generation moved.
        assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        assert again["metadata"]["generation"] == 1

        managers = [
            (entry["manager"], entry["operation"]) for entry in again["metadata"]["managedFields"]
        ]
        assert managers == [(MANAGER, "Apply")]
        owned = again["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
        # The manager owns exactly the spec fields the sample sets, not the server's defaults.
        assert {key.removeprefix("f:") for key in owned} == set(doc["spec"])
