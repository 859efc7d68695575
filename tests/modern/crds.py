"""What the tests in tests/modern read from ``crds/`` and send to the v1.36 server.

The CRDs as generated (never a copy), the CEL rules in them, minimal valid objects of each kind,
and thin kubectl wrappers whose failures keep kubectl's stderr: that text is what a user reads,
so the tests assert on it.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from dataclasses import dataclass
from typing import Any

from tests.support.kube import Kube
from tests.support.modern_fixtures import crd_documents

#: The field manager of every write, so managedFields can be checked against it.
MANAGER = "zstack-modern-tests"


@dataclass(frozen=True)
class Crd:
    """One CRD of ``crds/`` and its served version."""

    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc["spec"]["names"]["kind"])

    @property
    def plural(self) -> str:
        return str(self.doc["spec"]["names"]["plural"])

    @property
    def namespaced(self) -> bool:
        return bool(self.doc["spec"]["scope"] == "Namespaced")

    @property
    def version(self) -> dict[str, Any]:
        served = [v for v in self.doc["spec"]["versions"] if v.get("served", True)]
        assert len(served) == 1, "one served version: the tests would have to pick"
        return dict(served[0])

    @property
    def api_version(self) -> str:
        return f"{self.doc['spec']['group']}/{self.version['name']}"

    @property
    def schema(self) -> dict[str, Any]:
        return dict(self.version["schema"]["openAPIV3Schema"])


def crds() -> list[Crd]:
    return [Crd(doc) for doc in crd_documents()]


def crd(kind: str) -> Crd:
    return next(c for c in crds() if c.kind == kind)


@dataclass(frozen=True)
class Rule:
    """One ``x-kubernetes-validations`` entry and where it sits."""

    kind: str
    path: str  # "" for the root, else ".spec.vendorToSpecUuidsMap" and the like
    rule: str
    message: str

    @property
    def is_transition(self) -> bool:
        """Reads ``oldSelf``: runs on updates only (Kubernetes' "transition rule")."""
        return re.search(r"\boldSelf\b", self.rule) is not None

    @property
    def id(self) -> str:
        return f"{self.kind}{self.path or '<root>'}: {self.message[:48]}"


def _walk(kind: str, node: dict[str, Any], path: str) -> list[Rule]:
    found = [
        Rule(kind, path, str(v["rule"]), str(v["message"]))
        for v in node.get("x-kubernetes-validations", [])
    ]
    for name, child in node.get("properties", {}).items():
        found += _walk(kind, child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            found += _walk(kind, node[key], f"{path}[{key}]")
    return found


def all_rules() -> list[Rule]:
    """Every CEL rule of every CRD in ``crds/``: the list the tests must cover."""
    return [rule for c in crds() for rule in _walk(c.kind, c.schema, "")]


# A ZStack uuid: 32 lowercase hex digits. resourceUuid must also look like a version-4 uuid.
MODEL_CENTER = "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"

#: Minimal valid specs: the required fields of each kind and nothing else.
BASE_SPECS: dict[str, dict[str, Any]] = {
    "ModelService": {
        "yaml": "services: []\n",
        "requestCpu": 1,
        "requestMemory": 1024,
        "modelCenterUuid": MODEL_CENTER,
        "installPath": "/opt/svc",
        "startCommand": "python app.py",
    },
    "ZStackConnection": {
        "endpoint": "https://zstack.example.com",
        "credentialsSecretRef": {"name": "zstack-login"},
    },
    "ClusterZStackConnection": {
        "endpoint": "https://zstack.example.com",
        "credentialsSecretRef": {"name": "zstack-login"},
        "allowedNamespaces": ["team-a"],
    },
    "Model": {"installPath": "/models/m", "modelCenterUuid": MODEL_CENTER, "version": "2.0"},
    "ModelServiceDeployment": {
        "modelServiceRef": {"name": "svc"},
        "zoneUuid": "8f14e45fceea467a9b0c7d1e2f3a4b5c",
        "type": "Container",
    },
}


def unique_name(prefix: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")[:40].rstrip("-")
    return f"{slug}-{secrets.token_hex(3)}"


def new_object(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": crd(kind).api_version,
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


@dataclass(frozen=True)
class Objects:
    """Writes to one object through kubectl, the way a user (or the operator) makes them."""

    kube: Kube
    kind: str
    name: str
    namespace: str | None

    @property
    def ref(self) -> str:
        return f"{crd(self.kind).plural}/{self.name}"

    def _run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.kube.kubectl(*args, namespace=self.namespace, input=input, check=False)

    def create(self, spec: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        body = json.dumps(new_object(self.kind, self.name, spec))
        return self._run("create", f"--field-manager={MANAGER}", "-f", "-", input=body)

    def patch(self, body: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """A JSON merge patch of the main resource; ``None`` removes a field."""
        patch = json.dumps(body)
        return self._run(
            "patch", self.ref, "--type=merge", f"--field-manager={MANAGER}", "-p", patch
        )

    def patch_spec(self, changes: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.patch({"spec": changes})

    def patch_status(self, status: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """Through the status subresource, as the operator writes status."""
        patch = json.dumps({"status": status})
        return self._run(
            "patch",
            self.ref,
            "--subresource=status",
            "--type=merge",
            f"--field-manager={MANAGER}",
            "-p",
            patch,
        )

    def get(self) -> dict[str, Any]:
        result = self._run("get", self.ref, "-o", "json")
        assert result.returncode == 0, result.stderr
        obj: dict[str, Any] = json.loads(result.stdout)
        return obj

    def delete(self) -> None:
        self._run("delete", self.ref, "--wait=false", "--ignore-not-found")


def accepted(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, f"{what}: the server refused it:\n{result.stderr}"


def refused(result: subprocess.CompletedProcess[str], what: str, message: str | None) -> str:
    """Assert kubectl failed with ``message`` in what it printed; return that text."""
    assert result.returncode != 0, f"{what}: the server accepted it:\n{result.stdout}"
    if message is not None:
        assert message in result.stderr, f"{what}: expected {message!r} in:\n{result.stderr}"
    return result.stderr
