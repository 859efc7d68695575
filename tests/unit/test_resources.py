"""Unit tests of the ModelService pydantic models (resources): samples, params, status."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from zstack_operator import resources as r
from zstack_operator.resources import fields as ft
from zstack_operator.zstack.models import (
    AddModelServiceParam,
    CpuArchitecture,
    ErrorCode,
    ServiceType,
)

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "samples"
SAMPLE_PATHS = sorted(SAMPLES_DIR.glob("*.yaml"))

MODEL_CENTER = "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"
ZONE = "8f14e45fceea467a9b0c7d1e2f3a4b5c"
UUID = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"


def minimal_spec(**extra: Any) -> dict[str, Any]:
    return {
        "yaml": "services: []\n",
        "requestCpu": 1,
        "requestMemory": 512,
        "modelCenterUuid": MODEL_CENTER,
        "installPath": "/opt/svc",
        "startCommand": "python app.py",
        **extra,
    }


def load_sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SAMPLES_DIR / name).read_text())
    return data


# --- constants and vocabulary (a stable contract: kubectl wait, Argo CD health checks) ---------


def test_names_and_annotations() -> None:
    assert (r.GROUP, r.VERSION, r.KIND, r.PLURAL, r.SINGULAR) == (
        "ai.zstack.io",
        "v1alpha1",
        "ModelService",
        "modelservices",
        "modelservice",
    )
    assert r.API_VERSION == "ai.zstack.io/v1alpha1"
    assert r.SHORT_NAMES == ["zms"]
    assert r.CATEGORIES == ["zstack"]
    assert r.ANNOTATION_PAUSED == "ai.zstack.io/paused"
    assert r.ANNOTATION_RECONCILE_REQUESTED == "ai.zstack.io/reconcile-requested-at"
    assert r.ANNOTATION_DRIFT_INTERVAL == "ai.zstack.io/drift-interval"
    assert r.FINALIZER == "ai.zstack.io/finalizer"


def test_condition_vocabulary() -> None:
    assert [c.value for c in r.ConditionType] == ["Ready", "Synced", "Reconciling", "Stalled"]
    assert [c.value for c in r.ConditionStatus] == ["True", "False", "Unknown"]
    assert [c.value for c in r.ReadyReason] == [
        "Available",
        "Creating",
        "Updating",
        "Deleting",
        "NotFound",
        "Unavailable",
        "NotCreated",
        "Deploying",
        "Failed",
        "WaitingForDependency",
    ]
    assert [c.value for c in r.EventReason] == [
        "DriftRepaired",
        "DriftDetected",
        "Recreated",
        "Adopted",
        "UnsupportedFields",
    ]
    assert [c.value for c in r.SyncedReason] == [
        "ReconcileSuccess",
        "ReconcileError",
        "Rejected",
        "InvalidSpec",
        "ImmutableFieldChanged",
        "Paused",
        "Observing",
        "NotOwned",
        "ConnectionUnavailable",
        "WaitingForDependency",
    ]
    assert [a.value for a in r.JobAction] == [
        "Create",
        "Update",
        "Delete",
        "Bind",
        "Unbind",
        "Deploy",
    ]
    assert [p.value for p in r.DeletionPolicy] == ["Delete", "Orphan"]
    assert [p.value for p in r.ManagementPolicy] == ["Manage", "Observe"]


# --- the spec mirrors AddModelServiceParam -------------------------------------------------------


def test_spec_has_every_param_field_with_the_same_type() -> None:
    spec_fields = r.ModelServiceSpec.model_fields
    hints = typing.get_type_hints(r.ModelServiceSpec)
    param_hints = typing.get_type_hints(AddModelServiceParam)
    assert set(AddModelServiceParam.model_fields) == set(ft.PARAM)
    for name, info in AddModelServiceParam.model_fields.items():
        assert name in spec_fields
        assert spec_fields[name].alias == info.alias
        if name == "name":
            assert hints[name] == str | None
        elif name == "architecture_images":
            assert hints[name] == list[r.ArchitectureImageSpec] | None
        else:
            # get_type_hints drops Annotated[...] metadata (patterns, limits): bare types.
            assert hints[name] == param_hints[name]
        assert spec_fields[name].is_required() == (info.is_required() and name != "name")
    extra = set(spec_fields) - set(ft.PARAM)
    assert extra == set(ft.REQUEST) | set(ft.having(ft.Role.OPERATOR))


def test_required_fields() -> None:
    required = {n for n, f in r.ModelServiceSpec.model_fields.items() if f.is_required()}
    assert required == {
        "yaml",
        "request_cpu",
        "request_memory",
        "model_center_uuid",
        "install_path",
        "start_command",
    }


def test_defaults_of_operator_fields() -> None:
    spec = r.ModelServiceSpec.model_validate(minimal_spec())
    assert spec.deletion_policy is r.DeletionPolicy.DELETE
    assert spec.management_policy is r.ManagementPolicy.MANAGE
    assert spec.connection_ref is None
    assert spec.name is None


def test_immutable_fields_follow_zstack() -> None:
    assert r.immutable_fields() == [
        "modelCenterUuid",
        "installPath",
        "system",
        "condaVersion",
        "resourceUuid",
    ]
    snake = {r.ModelServiceSpec.model_fields[n].alias: n for n in r.ModelServiceSpec.model_fields}
    assert tuple(snake[f] for f in r.immutable_fields()) == ft.IMMUTABLE


# --- samples ---------------------------------------------------------------------------------


def test_there_is_a_sample_per_notable_option() -> None:
    specs = [load_sample(p.name)["spec"] for p in SAMPLE_PATHS]
    assert len(SAMPLE_PATHS) >= 7
    assert any(s.get("modelUuids") for s in specs)
    assert any(s.get("architectureImages") and s.get("vendorToSpecUuidsMap") for s in specs)
    assert any(s.get("supportDistributed") is True for s in specs)
    assert any(s.get("deletionPolicy") == "Orphan" for s in specs)
    assert any(
        s.get("managementPolicy") == "Observe" and s.get("resourceUuid") == UUID for s in specs
    )
    assert any(s.get("tagUuids") and s.get("systemTags") and s.get("userTags") for s in specs)
    assert any(s.get("containerCommand") and s.get("containerArgs") for s in specs)
    names = [load_sample(p.name)["metadata"]["name"] for p in SAMPLE_PATHS]
    assert len(set(names)) == len(names), "samples must apply side by side in one namespace"


@pytest.mark.parametrize("path", SAMPLE_PATHS, ids=[p.stem for p in SAMPLE_PATHS])
def test_sample_validates_and_round_trips(path: Path) -> None:
    raw = yaml.safe_load(path.read_text())
    obj = r.ModelService.model_validate(raw)
    assert obj.api_version == r.API_VERSION
    assert obj.kind == r.KIND
    # The API server applies the same two defaults, so this is also what kubectl get shows.
    defaulted = {
        "deletionPolicy": "Delete",
        "managementPolicy": "Manage",
        "adoptionPolicy": "Never",
        **raw["spec"],
    }
    assert obj.manifest() == {**raw, "spec": defaulted}
    param = obj.spec.to_add_param(default_name=obj.metadata["name"], resource_uuid=UUID)
    service_yaml = yaml.safe_load(param.yaml)
    assert service_yaml["services"][0]["readyz"].startswith("/")


def test_seed_example_sample() -> None:
    spec = r.ModelService.model_validate(load_sample("modelservice-basic.yaml")).spec
    assert spec.name == "text to text model service"
    assert spec.description == "This is text to text model service you can chose model"
    assert (spec.request_cpu, spec.request_memory) == (4, 1024)
    assert spec.model_center_uuid == MODEL_CENTER
    assert spec.zone_uuid == ZONE


# --- to_add_param / param_fields -----------------------------------------------------------------


def test_to_add_param_sends_only_what_the_user_set() -> None:
    spec = r.ModelServiceSpec.model_validate(
        minimal_spec(
            systemTags=["a::b"],
            userTags=["u"],
            deletionPolicy="Orphan",
            managementPolicy="Manage",
            connectionRef={"name": "lab"},
        )
    )
    param = spec.to_add_param(default_name="from-metadata", resource_uuid=UUID)
    assert param.wire() == {
        "name": "from-metadata",
        "yaml": "services: []\n",
        "requestCpu": 1,
        "requestMemory": 512,
        "modelCenterUuid": MODEL_CENTER,
        "installPath": "/opt/svc",
        "startCommand": "python app.py",
        "resourceUuid": UUID,
    }


def test_to_add_param_keeps_the_spec_name_and_nested_values() -> None:
    spec = r.ModelServiceSpec.model_validate(load_sample("modelservice-architectures.yaml")["spec"])
    spec = spec.model_copy(update={"name": "explicit", "type": ServiceType.FINE_TUNE})
    wire = spec.to_add_param(default_name="ignored", resource_uuid=UUID).wire()
    assert wire["name"] == "explicit"
    assert wire["type"] == "FineTune"
    assert wire["supportDistributed"] is True
    assert wire["architectureImages"] == [
        {
            "cpuArchitecture": "X86_64",
            "vmImageUuid": "3f2b1c4d5e6f47a8b9c0d1e2f3a4b5c6",
            "dockerImage": "registry.example.com/ai/inference:1.4.0-amd64",
        },
        {
            "cpuArchitecture": "AARCH64",
            "dockerImage": "registry.example.com/ai/inference:1.4.0-arm64",
        },
    ]
    assert wire["vendorToSpecUuidsMap"]["Huawei"] == ["7e6d5c4b3a2941f0e9d8c7b6a5f4e3d2"]


def test_to_add_param_uses_the_uuid_the_operator_chose() -> None:
    other = "9f86d081884c4d659a2feaa0c55ad015"
    spec = r.ModelServiceSpec.model_validate(minimal_spec(resourceUuid=other))
    assert spec.to_add_param(default_name="n", resource_uuid=UUID).resource_uuid == UUID


def test_to_add_param_sends_empty_lists_the_user_wrote() -> None:
    spec = r.ModelServiceSpec.model_validate(minimal_spec(modelUuids=[]))
    assert spec.to_add_param(default_name="n", resource_uuid=UUID).wire()["modelUuids"] == []


def test_values_of_the_param_fields() -> None:
    spec = r.ModelServiceSpec.model_validate(
        minimal_spec(
            type="App",
            userTags=["u"],
            architectureImages=[{"cpuArchitecture": "AARCH64", "dockerImage": "img:1"}],
            deletionPolicy="Orphan",
        )
    )
    fields = spec.values(ft.PARAM, default_name="from-metadata")
    assert fields == {
        "name": "from-metadata",
        "yaml": "services: []\n",
        "request_cpu": 1,
        "request_memory": 512,
        "model_center_uuid": MODEL_CENTER,
        "install_path": "/opt/svc",
        "start_command": "python app.py",
        "type": ServiceType.APP,
        "architecture_images": [
            {"cpu_architecture": CpuArchitecture.AARCH64, "docker_image": "img:1"}
        ],
    }


# --- validation mirrors the CRD ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"requestCpu": 0}, "requestCpu"),
        ({"requestMemory": 0}, "requestMemory"),
        ({"requestCpu": "four"}, "requestCpu"),
        ({"requestCpu": "4"}, "requestCpu"),
        ({"requestCpu": True}, "requestCpu"),
        ({"requestMemory": 1.5}, "requestMemory"),
        ({"system": "yes"}, "system"),
        ({"supportDistributed": 1}, "supportDistributed"),
        ({"type": "Batch"}, "type"),
        ({"modelCenterUuid": "5B1A1E0C6C2D4C8FB1F0A3D2E4C6B8A9"}, "modelCenterUuid"),
        ({"zoneUuid": "8f14e45f-ceea-467a-9b0c-7d1e2f3a4b5c"}, "zoneUuid"),
        ({"resourceUuid": "0a1b2c3d4e5f60718293a4b5c6d7e8f9"}, "resourceUuid"),
        ({"resourceUuid": "0a1b2c3d4e5f40717293a4b5c6d7e8f9"}, "resourceUuid"),
        ({"name": "n" * 256}, "name"),
        ({"description": "d" * 2049}, "description"),
        ({"installPath": "/" * 513}, "installPath"),
        ({"startCommand": "x" * 1025}, "startCommand"),
        ({"pythonVersion": "3" * 33}, "pythonVersion"),
        ({"source": "s" * 33}, "source"),
        ({"modelUuids": ["c4ca4238a0b94382b0c8d1e2f3a4b5c"]}, "modelUuids"),
        ({"architectureImages": [{"dockerImage": "x"}]}, "architectureImages"),
        ({"architectureImages": [{"cpuArchitecture": "ARM"}]}, "architectureImages"),
        ({"vendorToSpecUuidsMap": {"NVIDIA": ["nope"]}}, "vendorToSpecUuidsMap"),
        ({"deletionPolicy": "Retain"}, "deletionPolicy"),
        ({"connectionRef": {}}, "connectionRef"),
        ({"unknownField": 1}, "unknownField"),
    ],
)
def test_invalid_spec_is_rejected(override: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        r.ModelServiceSpec.model_validate(minimal_spec(**override))
    assert info.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize("missing", ["yaml", "requestCpu", "modelCenterUuid", "startCommand"])
def test_missing_required_field_is_rejected(missing: str) -> None:
    data = minimal_spec()
    del data[missing]
    with pytest.raises(ValidationError) as info:
        r.ModelServiceSpec.model_validate(data)
    assert info.value.errors()[0]["loc"] == (missing,)


def test_snake_case_names_are_accepted_too() -> None:
    spec = r.ModelServiceSpec(
        yaml="y",
        request_cpu=2,
        request_memory=3,
        model_center_uuid=MODEL_CENTER,
        install_path="/p",
        start_command="s",
    )
    assert spec.manifest()["requestCpu"] == 2


# --- status --------------------------------------------------------------------------------------


def full_status() -> r.ModelServiceStatus:
    return r.ModelServiceStatus(
        uuid=UUID,
        version="1.2.0",
        has_new_version=False,
        size=123456,
        create_date="2025-03-01T10:20:30Z",
        last_op_date="2025-03-02T10:20:30+00:00",
        observed_generation=3,
        conditions=[
            r.Condition(
                type=r.ConditionType.READY,
                status=r.ConditionStatus.TRUE,
                reason=r.ReadyReason.AVAILABLE,
                last_transition_time="2025-03-02T10:20:31Z",
                observed_generation=3,
            ),
            r.Condition(
                type=r.ConditionType.SYNCED,
                status=r.ConditionStatus.FALSE,
                reason=r.SyncedReason.REJECTED,
                message="invalid argument",
                last_transition_time="2025-03-02T10:20:31Z",
            ),
        ],
        error=r.StatusError(code="SYS.1007", details="bad", causes=[r.ErrorCause(code="X.1")]),
        pending_job=r.PendingJob(
            uuid="3c59dc048e8850243be8079a5c74d079",
            action=r.JobAction.CREATE,
            started_at="2025-03-02T10:20:30Z",
            generation=3,
        ),
        created_with=r.CreatedWith(zone_uuid=ZONE, tag_uuids=[], system_tags=["a"], user_tags=[]),
    )


def test_status_serialises_with_camel_case_and_round_trips() -> None:
    status = full_status()
    data = status.manifest()
    assert data["hasNewVersion"] is False
    assert data["lastOpDate"] == "2025-03-02T10:20:30+00:00"
    assert data["conditions"][0] == {
        "type": "Ready",
        "status": "True",
        "reason": "Available",
        "message": "",
        "lastTransitionTime": "2025-03-02T10:20:31Z",
        "observedGeneration": 3,
    }
    assert data["pendingJob"] == {
        "uuid": "3c59dc048e8850243be8079a5c74d079",
        "action": "Create",
        "startedAt": "2025-03-02T10:20:30Z",
        "generation": 3,
    }
    assert data["createdWith"] == {
        "zoneUuid": ZONE,
        "tagUuids": [],
        "systemTags": ["a"],
        "userTags": [],
    }
    assert r.ModelServiceStatus.model_validate(data) == status


def test_status_reading_ignores_unknown_keys() -> None:
    status = r.ModelServiceStatus.model_validate({"uuid": UUID, "kopf": {"progress": {}}})
    assert status.uuid == UUID
    assert status.conditions == []


def test_status_error_flattens_the_cause_chain() -> None:
    error = ErrorCode.model_validate(
        {
            "code": "SYS.1006",
            "description": "An operation failed",
            "details": "outer",
            "cause": {
                "code": "SYS.1007",
                "details": "middle",
                "elaboration": "hint",
                "cause": {"code": "SYS.1000", "description": "internal", "opaque": {"x": 1}},
            },
        }
    )
    flat = r.StatusError.from_error_code(error)
    assert flat.manifest() == {
        "code": "SYS.1006",
        "description": "An operation failed",
        "details": "outer",
        "causes": [
            {"code": "SYS.1007", "details": "middle", "elaboration": "hint"},
            {"code": "SYS.1000", "description": "internal"},
        ],
    }
    assert r.StatusError.from_error_code(ErrorCode(code="ID.1000")).causes == []


@pytest.mark.parametrize(
    "value", ["2025-03-02", "2025-03-02T10:20:30", "yesterday", "2025-03-02 10:20:30Z"]
)
def test_timestamps_must_be_rfc3339(value: str) -> None:
    with pytest.raises(ValidationError, match="RFC 3339"):
        r.Condition(type="Ready", status="True", reason="Available", last_transition_time=value)


def test_format_rfc3339() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    assert r.format_rfc3339(datetime(2025, 3, 2, 10, 20, 30, 999, tzinfo=UTC)) == (
        "2025-03-02T10:20:30Z"
    )
    east = timezone(timedelta(hours=8))
    assert r.format_rfc3339(datetime(2025, 3, 2, 18, 0, tzinfo=east)) == "2025-03-02T10:00:00Z"
    assert r.format_rfc3339(datetime(2025, 3, 2, 18, 0)) == "2025-03-02T18:00:00Z"


@pytest.mark.parametrize(
    "job",
    [
        {"uuid": "short", "action": "Create", "startedAt": "2025-03-02T10:20:30Z"},
        {
            "uuid": "3c59dc048e8850243be8079a5c74d079",
            "action": "Clone",
            "startedAt": "2025-03-02T10:20:30Z",
        },
    ],
)
def test_pending_job_validation(job: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        r.PendingJob.model_validate(job)


def test_whole_object_round_trip() -> None:
    obj = r.ModelService(
        metadata={"name": "x", "namespace": "ns", "uid": "u"},
        spec=r.ModelServiceSpec.model_validate(minimal_spec()),
        status=full_status(),
    )
    data = obj.manifest()
    assert data["apiVersion"] == "ai.zstack.io/v1alpha1"
    assert data["kind"] == "ModelService"
    assert data["spec"]["deletionPolicy"] == "Delete"
    assert r.ModelService.model_validate(data) == obj


def test_docs_table_lists_every_spec_field() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "modelservice.md").read_text()
    rows = [
        line.split("|")[1].strip().strip("`") for line in doc.splitlines() if line.startswith("| `")
    ]
    aliases = [f.alias for f in r.ModelServiceSpec.model_fields.values()]
    assert [row for row in rows if row in aliases] == aliases
