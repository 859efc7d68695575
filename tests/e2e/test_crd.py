"""The generated CRD against a real API server: samples apply, bad objects are refused.

Uses the local control plane (tests/support/kube_fixtures.py). The operator is not running
here: these tests are about the schema the API server enforces, printer columns, explain
text, pruning, and that the pydantic models and the CRD agree on what is valid.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from zstack_operator import resources as r

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PATHS = sorted((ROOT / "deploy" / "samples").glob("*.yaml"))
MODEL_CENTER = "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"


def manifest(object_name: str, /, **spec: Any) -> dict[str, Any]:
    base = {
        "yaml": "services: []\n",
        "requestCpu": 1,
        "requestMemory": 1024,
        "modelCenterUuid": MODEL_CENTER,
        "installPath": "/opt/svc",
        "startCommand": "python app.py",
    }
    return {
        "apiVersion": r.API_VERSION,
        "kind": r.KIND,
        "metadata": {"name": object_name},
        "spec": {**base, **spec},
    }


def apply_unvalidated(kube: Any, obj: dict[str, Any], namespace: str, *, check: bool = True) -> Any:
    # --validate=false: the API server, not kubectl's client-side check, must do the refusing.
    return kube.kubectl(
        "apply",
        "--validate=false",
        "-f",
        "-",
        namespace=namespace,
        input=json.dumps(obj),
        check=check,
    )


def put_status(kube: Any, namespace: str, name: str, status: r.ModelServiceStatus) -> None:
    # kubectl v1.20 has no --subresource; PUT the status subresource through --raw.
    obj = kube.get(r.PLURAL, name, namespace)
    obj["status"] = status.manifest()
    path = f"/apis/{r.GROUP}/{r.VERSION}/namespaces/{namespace}/{r.PLURAL}/{name}/status"
    kube.kubectl("replace", "--raw", path, "-f", "-", input=json.dumps(obj))


def test_every_sample_is_accepted(kube: Any, modelservice_crd: Any, namespace: str) -> None:
    for path in SAMPLE_PATHS:
        kube.apply(path, namespace=namespace)
    listed = kube.kubectl("get", "zms", "-o", "json", namespace=namespace).stdout
    items = {item["metadata"]["name"]: item for item in json.loads(listed)["items"]}
    expected = {yaml.safe_load(p.read_text())["metadata"]["name"] for p in SAMPLE_PATHS}
    assert set(items) == expected
    for path in SAMPLE_PATHS:
        raw = yaml.safe_load(path.read_text())
        stored = items[raw["metadata"]["name"]]
        # Server-side defaults match the model's, and nothing the sample says was pruned.
        assert stored["spec"] == r.ModelServiceSpec.model_validate(raw["spec"]).manifest()
    assert items["keep-on-delete"]["spec"]["deletionPolicy"] == "Orphan"
    assert items["text-to-text"]["spec"]["deletionPolicy"] == "Delete"
    assert items["text-to-text"]["spec"]["managementPolicy"] == "Manage"


def test_printer_columns_short_name_and_category(
    kube: Any, modelservice_crd: Any, namespace: str
) -> None:
    kube.apply(ROOT / "deploy" / "samples" / "modelservice-basic.yaml", namespace=namespace)
    status = r.ModelServiceStatus(
        uuid="0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        version="2.0.1",
        conditions=[
            r.Condition(
                type=r.ConditionType.READY,
                status=r.ConditionStatus.TRUE,
                reason=r.ReadyReason.AVAILABLE,
                message="available",
                last_transition_time="2025-03-02T10:20:31Z",
            ),
            r.Condition(
                type=r.ConditionType.SYNCED,
                status=r.ConditionStatus.FALSE,
                reason=r.SyncedReason.RECONCILE_ERROR,
                message="ZStack unreachable; will retry",
                last_transition_time="2025-03-02T10:20:31Z",
            ),
        ],
    )
    put_status(kube, namespace, "text-to-text", status)
    lines = kube.kubectl("get", "zms", namespace=namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "UUID", "VERSION", "READY", "SYNCED", "AGE"]
    row = lines[1].split()
    assert row[:5] == ["text-to-text", "0a1b2c3d4e5f40718293a4b5c6d7e8f9", "2.0.1", "True", "False"]
    by_category = kube.kubectl("get", "zstack", "-o", "name", namespace=namespace).stdout
    assert by_category.split() == ["modelservice.ai.zstack.io/text-to-text"]


def test_explain_shows_field_descriptions(kube: Any, modelservice_crd: Any) -> None:
    # The API server publishes CRD schemas to OpenAPI asynchronously after the CRD is created.
    out = ""
    for _ in range(60):
        done = kube.kubectl("explain", "modelservice.spec.requestCpu", check=False)
        out = done.stdout
        if done.returncode == 0 and "Number of CPU cores" in out:
            break
        time.sleep(0.5)
    assert "requestCpu" in out
    assert "<integer>" in out
    assert "Number of CPU cores the service needs." in out
    memory = kube.kubectl("explain", "modelservice.spec.requestMemory").stdout
    assert "suggest MiB" in " ".join(memory.split())


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("cpu-wrong-type", {"requestCpu": "four"}, "spec.requestCpu"),
    ("cpu-not-integral", {"requestCpu": 1.5}, "spec.requestCpu"),
    ("cpu-below-minimum", {"requestCpu": 0}, "spec.requestCpu"),
    ("memory-below-minimum", {"requestMemory": 0}, "spec.requestMemory"),
    ("bad-type-enum", {"type": "Batch"}, "spec.type"),
    ("bool-wrong-type", {"system": "yes"}, "spec.system"),
    (
        "uppercase-uuid",
        {"modelCenterUuid": "5B1A1E0C6C2D4C8FB1F0A3D2E4C6B8A9"},
        "spec.modelCenterUuid",
    ),
    ("dashed-zone-uuid", {"zoneUuid": "8f14e45f-ceea-467a-9b0c-7d1e2f3a4b5c"}, "spec.zoneUuid"),
    (
        "resource-uuid-version",
        {"resourceUuid": "0a1b2c3d4e5f60718293a4b5c6d7e8f9"},
        "spec.resourceUuid",
    ),
    (
        "resource-uuid-variant",
        {"resourceUuid": "0a1b2c3d4e5f40717293a4b5c6d7e8f9"},
        "spec.resourceUuid",
    ),
    ("name-too-long", {"name": "n" * 256}, "spec.name"),
    ("description-too-long", {"description": "d" * 2049}, "spec.description"),
    ("install-path-too-long", {"installPath": "/" * 513}, "spec.installPath"),
    ("start-command-too-long", {"startCommand": "s" * 1025}, "spec.startCommand"),
    ("python-version-too-long", {"pythonVersion": "3" * 33}, "spec.pythonVersion"),
    ("source-too-long", {"source": "s" * 33}, "spec.source"),
    ("missing-yaml", {"yaml": None}, "spec.yaml"),
    ("missing-model-center", {"modelCenterUuid": None}, "spec.modelCenterUuid"),
    ("missing-start-command", {"startCommand": None}, "spec.startCommand"),
    (
        "image-missing-architecture",
        {"architectureImages": [{"dockerImage": "img:1"}]},
        "spec.architectureImages.cpuArchitecture",
    ),
    (
        "image-bad-architecture",
        {"architectureImages": [{"cpuArchitecture": "ARM64"}]},
        "spec.architectureImages.cpuArchitecture",
    ),
    (
        "image-bad-vm-image-uuid",
        {"architectureImages": [{"cpuArchitecture": "X86_64", "vmImageUuid": "img"}]},
        "spec.architectureImages.vmImageUuid",
    ),
    (
        "vendor-map-bad-uuid",
        {"vendorToSpecUuidsMap": {"NVIDIA": ["gpu-a100"]}},
        "spec.vendorToSpecUuidsMap",
    ),
    (
        "vendor-map-not-a-list",
        {"vendorToSpecUuidsMap": {"NVIDIA": "x"}},
        "spec.vendorToSpecUuidsMap",
    ),
    (
        "model-uuid-too-short",
        {"modelUuids": ["c4ca4238a0b94382b0c8d1e2f3a4b5c6", "c81e728d"]},
        "spec.modelUuids",
    ),
    ("tag-uuids-not-a-list", {"tagUuids": "5d41402abc4b4a76b9719d911017c592"}, "spec.tagUuids"),
    ("system-tag-not-a-string", {"systemTags": [7]}, "spec.systemTags"),
    ("bad-deletion-policy", {"deletionPolicy": "Retain"}, "spec.deletionPolicy"),
    ("bad-management-policy", {"managementPolicy": "ReadOnly"}, "spec.managementPolicy"),
    ("connection-ref-without-name", {"connectionRef": {}}, "spec.connectionRef.name"),
]


@pytest.mark.parametrize(("case", "spec", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_object_is_rejected(
    kube: Any, modelservice_crd: Any, namespace: str, case: str, spec: dict[str, Any], field: str
) -> None:
    obj = manifest(f"bad-{case}", **spec)
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    with pytest.raises(ValidationError):
        r.ModelService.model_validate(obj)  # the model agrees with the API server
    done = apply_unvalidated(kube, obj, namespace, check=False)
    assert done.returncode != 0, f"{case} was accepted"
    assert "is invalid" in done.stderr
    # Servers before 1.2x leave list indices out of field paths ("spec.modelUuids").
    assert field in re.sub(r"\[\d+\]", "", done.stderr), done.stderr
    missing = kube.kubectl(
        "get", r.PLURAL, obj["metadata"]["name"], namespace=namespace, check=False
    )
    assert missing.returncode != 0


def test_object_without_spec_is_rejected(kube: Any, modelservice_crd: Any, namespace: str) -> None:
    obj = {"apiVersion": r.API_VERSION, "kind": r.KIND, "metadata": {"name": "no-spec"}}
    done = apply_unvalidated(kube, obj, namespace, check=False)
    assert done.returncode != 0
    assert "spec: Required value" in done.stderr


def test_unknown_fields_are_pruned(kube: Any, modelservice_crd: Any, namespace: str) -> None:
    obj = manifest(
        "pruned",
        replicas=3,
        architectureImages=[{"cpuArchitecture": "X86_64", "dockerImage": "i:1", "gpu": "a100"}],
        connectionRef={"name": "lab", "namespace": "other"},
    )
    apply_unvalidated(kube, obj, namespace)
    spec = kube.get(r.PLURAL, "pruned", namespace)["spec"]
    assert "replicas" not in spec
    assert spec["architectureImages"] == [{"cpuArchitecture": "X86_64", "dockerImage": "i:1"}]
    assert spec["connectionRef"] == {"kind": "ZStackConnection", "name": "lab"}
    assert spec["requestCpu"] == 1


def test_model_round_trips_through_the_api_server(
    kube: Any, modelservice_crd: Any, namespace: str
) -> None:
    spec = r.ModelServiceSpec(
        name="round trip",
        description="every field set",
        yaml="services:\n  - name: a\n    ports: [3000]\n",
        request_cpu=3,
        request_memory=3072,
        zone_uuid="8f14e45fceea467a9b0c7d1e2f3a4b5c",
        model_center_uuid=MODEL_CENTER,
        gpu_compute_capability="8.6",
        install_path="/opt/rt",
        system=False,
        start_command="python rt.py",
        python_version="3.11",
        conda_version="24.7.1",
        type="ModelEval",
        framework="Diffusers",
        resource_uuid="0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        tag_uuids=["5d41402abc4b4a76b9719d911017c592"],
        source="Other",
        model_uuids=["c4ca4238a0b94382b0c8d1e2f3a4b5c6"],
        architecture_images=[
            r.ArchitectureImageSpec(
                cpu_architecture="AARCH64",
                vm_image_uuid="3f2b1c4d5e6f47a8b9c0d1e2f3a4b5c6",
                docker_image="img:arm",
            )
        ],
        support_distributed=True,
        container_command="/bin/sh",
        container_args="-c run",
        vendor_to_spec_uuids_map={"NVIDIA": ["9a8b7c6d5e4f43a2b1c0d9e8f7a6b5c4"]},
        system_tags=["s::t"],
        user_tags=["u"],
        connection_ref=r.ConnectionRef(name="lab"),
        deletion_policy="Orphan",
        management_policy="Observe",
    )
    obj = r.ModelService(metadata={"name": "round-trip"}, spec=spec)
    kube.apply(yaml.safe_dump(obj.manifest()), namespace=namespace)
    stored = r.ModelService.model_validate(kube.get(r.PLURAL, "round-trip", namespace))
    assert stored.spec == spec
    assert stored.status is None

    status = r.ModelServiceStatus(
        uuid="0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        version="1",
        has_new_version=True,
        size=42,
        create_date="2025-03-01T10:20:30Z",
        last_op_date="2025-03-02T10:20:30.123+08:00",
        observed_generation=1,
        conditions=[
            r.Condition(
                type="Synced",
                status="False",
                reason="Rejected",
                message="SYS.1007: invalid",
                last_transition_time="2025-03-02T10:20:31Z",
                observed_generation=1,
            )
        ],
        error=r.StatusError(
            code="SYS.1007", details="bad", causes=[r.ErrorCause(code="SYS.1000", details="db")]
        ),
        pending_job=r.PendingJob(
            uuid="3c59dc048e8850243be8079a5c74d079",
            action="Bind",
            started_at="2025-03-02T10:20:30Z",
        ),
        created_with=r.CreatedWith(zone_uuid="8f14e45fceea467a9b0c7d1e2f3a4b5c", user_tags=["u"]),
    )
    put_status(kube, namespace, "round-trip", status)
    stored = r.ModelService.model_validate(kube.get(r.PLURAL, "round-trip", namespace))
    assert stored.status == status
    assert stored.spec == spec


def test_status_is_a_subresource(kube: Any, modelservice_crd: Any, namespace: str) -> None:
    obj = manifest("status-ignored")
    obj["status"] = {"uuid": "0a1b2c3d4e5f40718293a4b5c6d7e8f9"}
    apply_unvalidated(kube, copy.deepcopy(obj), namespace)
    assert "status" not in kube.get(r.PLURAL, "status-ignored", namespace)
