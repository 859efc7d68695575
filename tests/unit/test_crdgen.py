"""Unit tests of crdgen: the committed CRDs are current, structural, described and validating.

ModelService's CRD in detail here; the connection kinds' own shape in test_connection_crd.py.
The file-level and structural checks run for every kind crdgen renders.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy.adapter import json_to_cel
from pydantic import BaseModel
from zstack_operator import cli, crdgen
from zstack_operator import resources as r
from zstack_operator.zstack.models import UUID32_PATTERN, ZSTACK_UUID_PATTERN

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
COMMITTED = CRDS / "modelservice.yaml"
KINDS = [k.kind for k in crdgen.KINDS]


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return crdgen.build_crd()


@pytest.fixture(scope="module", params=KINDS)
def any_version(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The one version of each kind's CRD (the tests that use it run once per kind)."""
    versions: list[dict[str, Any]] = crdgen.build_crd(request.param)["spec"]["versions"]
    assert len(versions) == 1
    return versions[0]


@pytest.fixture(scope="module")
def version(crd: dict[str, Any]) -> dict[str, Any]:
    versions: list[dict[str, Any]] = crd["spec"]["versions"]
    assert len(versions) == 1
    return versions[0]


@pytest.fixture(scope="module")
def spec_schema(version: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (path, schema) for every schema node below ``node``."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


# --- the file ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_committed_crd_is_current(kind: str) -> None:
    name = f"{kind.lower()}.yaml"
    assert (CRDS / name).read_text() == crdgen.render_crd(kind), (
        f"crds/{name} is stale: run `python -m zstack_operator.crdgen`"
    )


def test_one_file_per_kind_and_modelservice_first() -> None:
    assert list(crdgen.render_all()) == [
        "modelservice.yaml",
        "zstackconnection.yaml",
        "clusterzstackconnection.yaml",
        "model.yaml",
        "modelservicedeployment.yaml",
    ]
    assert crdgen.render_crd() == crdgen.render_crd(r.KIND)


def test_rendering_is_deterministic_across_processes(tmp_path: Path) -> None:
    outputs = []
    for seed in ("0", "12345"):
        out = tmp_path / f"crds-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, "-m", "zstack_operator.crdgen", "--output-dir", str(out)],
            check=True,
            env=env,
            cwd=tmp_path,
        )
        outputs.append({p.name: p.read_text() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1] == crdgen.render_all()


def test_default_output_is_crds_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert crdgen.main([]) == 0
    assert {p.name for p in (tmp_path / "crds").iterdir()} == set(crdgen.render_all())
    assert crdgen.main(["--check"]) == 0


def test_check_passes_on_current_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "crds"
    assert crdgen.main(["--output-dir", str(out)]) == 0
    assert crdgen.main(["--check", "--output-dir", str(out)]) == 0
    assert capsys.readouterr().out == ""


def test_check_detects_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crdgen.main(["--output-dir", str(tmp_path)]) == 0
    out = tmp_path / "modelservice.yaml"
    stale = crdgen.render_crd().replace("maxLength: 2048", "maxLength: 1024")
    out.write_text(stale)
    assert crdgen.main(["--check", "--output-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "-                maxLength: 1024" in captured.out
    assert "+                maxLength: 2048" in captured.out
    assert captured.out.startswith(f"--- {out} (committed)\n+++ {out} (generated)\n")
    assert "zstackconnection.yaml" not in captured.out, "only the stale file differs"
    assert "is stale" in captured.err
    assert out.read_text() == stale, "--check must not write"


def test_check_detects_a_stale_connection_crd(tmp_path: Path) -> None:
    assert crdgen.main(["--output-dir", str(tmp_path)]) == 0
    path = tmp_path / "clusterzstackconnection.yaml"
    path.write_text(path.read_text().replace("maxItems: 256", "maxItems: 255"))
    assert crdgen.main(["--check", "--output-dir", str(tmp_path)]) == 1


@pytest.mark.parametrize("missing", list(crdgen.render_all()))
def test_check_fails_when_a_file_is_missing(tmp_path: Path, missing: str) -> None:
    assert crdgen.main(["--output-dir", str(tmp_path)]) == 0
    (tmp_path / missing).unlink()
    assert crdgen.main(["--check", "--output-dir", str(tmp_path)]) == 1


def test_writing_leaves_current_files_and_others_alone(tmp_path: Path) -> None:
    assert crdgen.main(["--output-dir", str(tmp_path)]) == 0
    (tmp_path / "README").write_text("mine")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert crdgen.main(["--output-dir", str(tmp_path)]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_cli_crd_command_prints_the_modelservice_crd(capsys: pytest.CaptureFixture[str]) -> None:
    assert "zstack_operator.crdgen" in cli.COMMAND_MODULES
    assert cli.main(["crd"]) == 0
    assert capsys.readouterr().out == crdgen.render_crd()


def test_cli_crd_all_prints_every_crd(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crd", "--all"]) == 0
    out = capsys.readouterr().out
    assert out == crdgen.render_stream()
    assert list(yaml.safe_load_all(out)) == [crdgen.build_crd(kind) for kind in KINDS]


def test_cli_crd_kind_picks_crds(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crd", "--kind", "ZStackConnection", "--kind", "ClusterZStackConnection"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["spec"]["names"]["kind"] for d in docs] == KINDS[1:3]


@pytest.mark.parametrize("kind", KINDS)
def test_the_file_is_one_yaml_document(kind: str) -> None:
    docs = list(yaml.safe_load_all((CRDS / f"{kind.lower()}.yaml").read_text()))
    assert docs == [crdgen.build_crd(kind)]


# --- the CRD around the schema -----------------------------------------------------------------


def test_names_scope_and_subresources(crd: dict[str, Any], version: dict[str, Any]) -> None:
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"] == {"name": "modelservices.ai.zstack.io"}
    assert crd["spec"]["group"] == "ai.zstack.io"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"] == {
        "kind": "ModelService",
        "listKind": "ModelServiceList",
        "plural": "modelservices",
        "singular": "modelservice",
        "shortNames": ["zms"],
        "categories": ["zstack"],
    }
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns(version: dict[str, Any]) -> None:
    columns = {c["name"]: (c["type"], c["jsonPath"]) for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["UUID", "VERSION", "READY", "SYNCED", "AGE", "LAST-CHANGE"]
    assert columns["UUID"] == ("string", ".status.uuid")
    assert columns["VERSION"] == ("string", ".status.version")
    assert columns["READY"] == ("string", '.status.conditions[?(@.type=="Ready")].status')
    assert columns["SYNCED"] == ("string", '.status.conditions[?(@.type=="Synced")].status')
    assert columns["AGE"] == ("date", ".metadata.creationTimestamp")
    assert columns["LAST-CHANGE"] == ("date", ".status.lastOpDate")  # 5.1.x has no version
    wide = [c["name"] for c in version["additionalPrinterColumns"] if c.get("priority") == 1]
    assert wide == ["LAST-CHANGE"]


# --- structural schema ---------------------------------------------------------------------------


FORBIDDEN_KEYS = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title", "nullable", "const"}


def test_schema_is_structural(any_version: dict[str, Any]) -> None:
    root = any_version["schema"]["openAPIV3Schema"]
    for path, node in walk(root):
        assert not FORBIDDEN_KEYS & node.keys(), (
            f"{path or '<root>'}: {FORBIDDEN_KEYS & node.keys()}"
        )
        assert "type" in node, f"{path}: every node needs a type in a structural schema"
        assert "x-kubernetes-preserve-unknown-fields" not in node, path
        if "properties" in node:
            assert "additionalProperties" not in node, path
        assert node.get("default", "") is not None, f"{path}: null default"
    assert root["required"] == ["spec"]


def test_every_property_has_a_description(any_version: dict[str, Any]) -> None:
    root = any_version["schema"]["openAPIV3Schema"]
    for path, node in walk(root):
        if path.endswith(("[]", "{}")):
            continue  # array items and map values are described by their field
        if path == ".metadata":
            assert node == {"type": "object"}, "the API server forbids more on metadata"
            continue
        text = node.get("description", "")
        assert len(text) > 10, f"{path or '<root>'} has no useful description"
        assert "``" not in text, f"{path}: Python docstring markup leaked into the CRD"


def test_descriptions_say_units_and_defaults(spec_schema: dict[str, Any]) -> None:
    props = spec_schema["properties"]
    assert props["requestCpu"]["description"] == "Number of CPU cores the service needs."
    assert "ZStack does not document the unit" in props["requestMemory"]["description"]
    assert "(1024, 8192) suggest MiB" in props["requestMemory"]["description"]
    assert "Defaults to metadata.name" in props["name"]["description"]


def test_required_exactly_where_the_api_requires(spec_schema: dict[str, Any]) -> None:
    assert spec_schema["required"] == [
        "yaml",
        "requestCpu",
        "requestMemory",
        "modelCenterUuid",
        "installPath",
        "startCommand",
    ]


def test_field_order_follows_the_api_page(spec_schema: dict[str, Any]) -> None:
    assert list(spec_schema["properties"]) == [
        "name",
        "description",
        "yaml",
        "requestCpu",
        "requestMemory",
        "zoneUuid",
        "modelCenterUuid",
        "gpuComputeCapability",
        "installPath",
        "system",
        "startCommand",
        "pythonVersion",
        "condaVersion",
        "type",
        "framework",
        "resourceUuid",
        "tagUuids",
        "source",
        "modelUuids",
        "modelRefs",
        "architectureImages",
        "supportDistributed",
        "containerCommand",
        "containerArgs",
        "vendorToSpecUuidsMap",
        "systemTags",
        "userTags",
        "connectionRef",
        "adoptionPolicy",
        "deletionPolicy",
        "managementPolicy",
    ]


def test_types_limits_and_enums(spec_schema: dict[str, Any]) -> None:
    p = spec_schema["properties"]
    assert p["requestCpu"] == {
        "description": "Number of CPU cores the service needs.",
        "type": "integer",
        "format": "int32",
        "minimum": 1,
        "maximum": 2**31 - 1,
    }
    assert (p["requestMemory"]["type"], p["requestMemory"]["minimum"]) == ("integer", 1)
    assert p["type"]["enum"] == ["Endpoint", "FineTune", "ModelEval", "App"]
    assert p["system"]["type"] == p["supportDistributed"]["type"] == "boolean"
    limits = {name: p[name].get("maxLength") for name in p if "maxLength" in p[name]}
    assert limits == {
        "name": 255,
        "description": 2048,
        "yaml": 65536,
        "zoneUuid": 32,
        "modelCenterUuid": 32,
        "gpuComputeCapability": 32,
        "installPath": 512,
        "startCommand": 1024,
        "pythonVersion": 32,
        "condaVersion": 32,
        "framework": 255,
        "resourceUuid": 32,
        "source": 32,
        "containerCommand": 4096,
        "containerArgs": 4096,
    }
    image = p["architectureImages"]["items"]
    assert image["required"] == ["cpuArchitecture"]
    assert image["properties"]["cpuArchitecture"]["enum"] == ["X86_64", "AARCH64"]
    assert image["properties"]["dockerImage"]["maxLength"] == 255
    assert p["vendorToSpecUuidsMap"]["type"] == "object"
    assert p["vendorToSpecUuidsMap"]["additionalProperties"] == {
        "type": "array",
        "maxItems": 64,
        "items": {"type": "string", "pattern": UUID32_PATTERN, "maxLength": 32},
    }
    assert p["vendorToSpecUuidsMap"]["maxProperties"] == 16
    for tags in ("systemTags", "userTags"):
        assert p[tags]["items"] == {"type": "string", "maxLength": 1024}
    assert p["deletionPolicy"]["enum"] == ["Delete", "Orphan"]
    assert p["deletionPolicy"]["default"] == "Delete"
    assert p["managementPolicy"]["enum"] == ["Manage", "Observe"]
    assert p["managementPolicy"]["default"] == "Manage"
    assert p["connectionRef"]["required"] == ["name"]


def test_every_uuid_has_a_pattern(version: dict[str, Any]) -> None:
    root = version["schema"]["openAPIV3Schema"]
    seen = []
    for path, node in walk(root):
        last = path.rsplit(".", 1)[-1]
        if last.endswith("Uuid") or last == "uuid":
            want = ZSTACK_UUID_PATTERN if last == "resourceUuid" else UUID32_PATTERN
            assert node.get("pattern") == want, path
            seen.append(path)
        if last.endswith("Uuids"):
            assert node["items"]["pattern"] == UUID32_PATTERN, path
            seen.append(path)
    assert ".spec.architectureImages[].vmImageUuid" in seen
    assert ".status.pendingJob.uuid" in seen
    assert len(seen) >= 10


def test_status_schema(version: dict[str, Any]) -> None:
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    props = status["properties"]
    assert list(props) == [
        "uuid",
        "version",
        "hasNewVersion",
        "size",
        "createDate",
        "lastOpDate",
        "observedGeneration",
        "conditions",
        "error",
        "pendingJob",
        "createdWith",
        "failedJobs",
        "handled",
        "connection",
    ]
    conditions = props["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert conditions["items"]["properties"]["lastTransitionTime"]["format"] == "date-time"
    assert "type" in conditions["items"]["required"]
    causes = props["error"]["properties"]["causes"]["items"]["properties"]
    assert list(causes) == ["code", "description", "details", "elaboration"]
    assert props["pendingJob"]["properties"]["action"]["enum"] == [
        "Create",
        "Update",
        "Delete",
        "Bind",
        "Unbind",
        "Deploy",
    ]
    assert list(props["createdWith"]["properties"]) == [
        "zoneUuid",
        "tagUuids",
        "systemTags",
        "userTags",
    ]


def test_structural_schema_refuses_unions_it_cannot_express() -> None:
    class Union(BaseModel):
        value: int | str

    with pytest.raises(ValueError, match="structural"):
        crdgen.structural_schema(Union)


def _unbounded(schema: dict[str, Any], where: str) -> list[str]:
    """Every string, list and map below ``schema`` without a size bound (enums and patterns
    of a fixed width count as bounds only together with maxLength)."""
    out: list[str] = []
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and "enum" not in schema:
        out.append(where)
    if kind == "array":
        if "maxItems" not in schema:
            out.append(where)
        out += _unbounded(schema["items"], f"{where}[]")
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                out.append(where)
            out += _unbounded(extra, f"{where}{{}}")
        for name, prop in schema.get("properties", {}).items():
            out += _unbounded(prop, f"{where}.{name}")
    return out


def test_every_string_list_and_map_of_the_spec_is_bounded(any_version: dict[str, Any]) -> None:
    """The largest object the schema admits must still fit etcd and work end to end."""
    spec = any_version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert _unbounded(spec, "spec") == []


# --- CEL immutability rules ----------------------------------------------------------------------

# zoneUuid is create-only (ZStack does not report it): the operator, not CEL, compares it.
IMMUTABLE = ["modelCenterUuid", "installPath", "system", "condaVersion", "resourceUuid"]


def test_cel_rules_have_the_expected_shape(version: dict[str, Any]) -> None:
    """Root-level: only there can a rule read status (immutable once ZStack holds it)."""
    root = version["schema"]["openAPIV3Schema"]
    rules = root["x-kubernetes-validations"]
    assert "x-kubernetes-validations" not in root["properties"]["spec"]
    assert [list(rule) for rule in rules] == [["rule", "message"]] * len(IMMUTABLE)
    held = "!has(oldSelf.status) || !has(oldSelf.status.uuid)"
    for field, rule in zip(IMMUTABLE, rules, strict=True):
        assert rule["rule"] == (
            f"{held} || !has(oldSelf.spec.{field}) || "
            f"(has(self.spec.{field}) && self.spec.{field} == oldSelf.spec.{field})"
        )
        assert rule["message"] == (
            f"spec.{field} is immutable once the service exists in ZStack (status.uuid is set): "
            "it cannot be changed or removed"
        )
    assert rules == r.immutability_rules()


def _evaluate(rule: str, new: dict[str, Any], old: dict[str, Any]) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(rule))
    result = program.evaluate({"self": json_to_cel(new), "oldSelf": json_to_cel(old)})
    return bool(result)


BASE = {
    "zoneUuid": "8f14e45fceea467a9b0c7d1e2f3a4b5c",
    "modelCenterUuid": "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9",
    "installPath": "/opt/a",
    "system": False,
    "condaVersion": "24.7.1",
    "resourceUuid": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
    "name": "n",
}
CHANGED = {
    "zoneUuid": "0f14e45fceea467a9b0c7d1e2f3a4b5c",
    "modelCenterUuid": "0b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9",
    "installPath": "/opt/b",
    "system": True,
    "condaVersion": "23.1.0",
    "resourceUuid": "1a1b2c3d4e5f40718293a4b5c6d7e8f9",
}


HELD = {"uuid": "0a1b2c3d4e5f40718293a4b5c6d7e8f9"}


def obj(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"spec": spec, **({"status": status} if status is not None else {})}


@pytest.mark.parametrize("field", IMMUTABLE)
def test_cel_rule_semantics(version: dict[str, Any], field: str) -> None:
    rule = next(
        v["rule"]
        for v in version["schema"]["openAPIV3Schema"]["x-kubernetes-validations"]
        if f"oldSelf.spec.{field})" in v["rule"]
    )
    without = {k: v for k, v in BASE.items() if k != field}
    held = obj(BASE, HELD)
    assert _evaluate(rule, obj(BASE), held), "unchanged must pass"
    assert _evaluate(rule, obj({**BASE, "name": "renamed"}), held), "other fields may change"
    assert not _evaluate(rule, obj({**BASE, field: CHANGED[field]}), held), "a change must fail"
    assert not _evaluate(rule, obj(without), held), "removal must fail"
    assert _evaluate(rule, obj(BASE), obj(without, HELD)), "adding a field never set is allowed"
    # Before ZStack holds the service, a value it rejected can be corrected.
    assert _evaluate(rule, obj({**BASE, field: CHANGED[field]}), obj(BASE)), "no status yet"
    assert _evaluate(rule, obj({**BASE, field: CHANGED[field]}), obj(BASE, {"version": "1"}))
