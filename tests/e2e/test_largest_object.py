"""The largest ModelService the CRD admits works end to end: create, update, delete.

Every string at its maxLength, every list at its maxItems, every map at its maxProperties,
read from the generated CRD itself (so a looser bound fails here, not in production). Before
0.2 a spec over about 256 KiB was created in ZStack and then every kopf patch failed
("metadata.annotations: Too long": kopf's diff base was a copy of the spec in an annotation),
so the finalizer stayed forever. Applied with ``kubectl create`` and ``patch``: a client-side
``kubectl apply`` copies the object into an annotation of its own and cannot carry it.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_operator import cond, ready, wait_cond
from tests.support.kube import Kube
from tests.support.operator_fixtures import SimClient

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "modelservice.yaml"
NAME = "largest"
CENTER = "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"


def _spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return dict(schema["properties"]["spec"]["properties"])


def _text(length: int, seed: str) -> str:
    return (seed * (length // len(seed) + 1))[:length]


def _uuid(i: int, salt: str) -> str:
    return uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{salt}/{i}").hex


def largest_spec(models: list[str], tag_patterns: list[str]) -> dict[str, Any]:
    props = _spec_schema()
    tag = props["systemTags"]["items"]["maxLength"]
    vendors = props["vendorToSpecUuidsMap"]
    per_vendor = vendors["additionalProperties"]["maxItems"]
    return {
        "name": _text(props["name"]["maxLength"], "n"),
        "description": _text(props["description"]["maxLength"], "a long description; "),
        "yaml": _text(props["yaml"]["maxLength"], "services:\n- name: api\n  port: 8080\n"),
        "requestCpu": props["requestCpu"]["maximum"],
        "requestMemory": 1024,
        "modelCenterUuid": CENTER,
        "gpuComputeCapability": _text(props["gpuComputeCapability"]["maxLength"], "8"),
        "installPath": "/" + _text(props["installPath"]["maxLength"] - 1, "opt/svc/"),
        "startCommand": _text(props["startCommand"]["maxLength"], "python serve.py "),
        "pythonVersion": _text(props["pythonVersion"]["maxLength"], "3"),
        "condaVersion": _text(props["condaVersion"]["maxLength"], "2"),
        "framework": _text(props["framework"]["maxLength"], "vLLM"),
        "source": _text(props["source"]["maxLength"], "Other"),
        "tagUuids": tag_patterns,
        "modelUuids": models,
        "architectureImages": [
            {"cpuArchitecture": "X86_64", "dockerImage": _text(255, "registry/x86:1")},
            {"cpuArchitecture": "AARCH64", "dockerImage": _text(255, "registry/arm:1")},
        ],
        "containerCommand": _text(props["containerCommand"]["maxLength"], "run "),
        "containerArgs": _text(props["containerArgs"]["maxLength"], "--flag "),
        "vendorToSpecUuidsMap": {
            _text(64, f"vendor{v}-"): [_uuid(i, f"spec{v}") for i in range(per_vendor)]
            for v in range(vendors["maxProperties"])
        },
        "systemTags": [f"k{i}::" + _text(tag - 4 - len(str(i)), "v") for i in range(64)],
        "userTags": [f"u{i}::" + _text(tag - 4 - len(str(i)), "w") for i in range(64)],
    }


def test_the_largest_object_the_schema_admits_is_created_updated_and_deleted(
    kube: Kube,
    namespace: str,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Any,
    tmp_path: Path,
) -> None:
    operator_factory()
    count = _spec_schema()["modelUuids"]["maxItems"]
    models = [zstack.add_model(_uuid(i, "model")) for i in range(count)]
    # ZStack checks tagUuids against the account's tag patterns (SYS.1003 otherwise).
    patterns = [zstack.add_tag_pattern() for _ in range(_spec_schema()["tagUuids"]["maxItems"])]
    doc = {
        "apiVersion": "ai.zstack.io/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": NAME},
        "spec": largest_spec(models, patterns),
    }
    manifest = tmp_path / "largest.json"
    manifest.write_text(json.dumps(doc))
    size = manifest.stat().st_size
    assert size > 256 * 1024, f"not the largest object: {size} bytes"

    kube.kubectl("create", "-f", str(manifest), namespace=namespace)
    obj = ready(kube, namespace, NAME)
    uuid = obj["status"]["uuid"]
    service = zstack.service(uuid)
    assert service is not None
    assert len(service["yaml"]) == len(doc["spec"]["yaml"].rstrip())
    assert zstack.counters()["created"] == {uuid: 1}

    patch = {"spec": {"yaml": _text(len(doc["spec"]["yaml"]), "services:\n- name: v2\n")}}
    kube.kubectl(
        "patch", "modelservice", NAME, "--type=merge", "-p", json.dumps(patch), namespace=namespace
    )
    obj = wait_cond(kube, namespace, NAME, "Synced", "True", "ReconcileSuccess")
    assert obj["metadata"]["generation"] == 2
    assert cond(obj, "Ready")["status"] == "True"
    assert zstack.service(uuid)["yaml"].startswith("services:\n- name: v2")  # type: ignore[index]

    kube.kubectl("delete", "modelservice", NAME, "--wait=true", "--timeout=90s",
                 namespace=namespace)  # fmt: skip
    assert kube.get_or_none("modelservice", NAME, namespace) is None
    assert zstack.service(uuid) is None
