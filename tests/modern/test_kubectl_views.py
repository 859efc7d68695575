"""What ``kubectl get`` and ``kubectl explain`` 1.36 show of our kinds on a 1.36 server.

Printer columns are rendered by the server (Table responses) from ``additionalPrinterColumns``;
``explain`` reads the OpenAPI v3 the server publishes for each CRD. Both are read from the CRDs
in ``crds/``, so a new column or field is checked without touching these tests.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.modern.crds import BASE_SPECS, Crd, Objects, accepted, crd, crds, unique_name
from tests.support.kube import Kube

NOW = "2026-11-30T08:00:00Z"
_CONDITIONS = [
    {"type": "Ready", "status": "True", "reason": "LoggedIn", "lastTransitionTime": NOW},
    {"type": "Synced", "status": "False", "reason": "Pending", "lastTransitionTime": NOW},
]
#: A status that fills every column, per kind.
STATUS: dict[str, dict[str, Any]] = {
    "ModelService": {
        "uuid": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        "version": "3",
        "lastOpDate": NOW,
        "conditions": _CONDITIONS,
    },
    "ZStackConnection": {
        "zstackVersion": "5.3.28",
        "account": "admin",
        "usedBy": 7,
        "lastChecked": NOW,
        "conditions": _CONDITIONS[:1],
    },
}
STATUS["ClusterZStackConnection"] = STATUS["ZStackConnection"]
STATUS["Model"] = {
    "uuid": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
    "modelCenterUuid": "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9",
    "conditions": _CONDITIONS,
}
STATUS["ModelServiceDeployment"] = {
    "uuid": "1a1b2c3d4e5f40718293a4b5c6d7e8f9",
    "status": "Running",
    "readyInstances": "1/1",
    "endpoint": "http://10.0.0.8:8000/",
    "conditions": _CONDITIONS,
}
_CONDITION_PATH = re.compile(r'^\.status\.conditions\[\?\(@\.type=="(\w+)"\)\]\.(\w+)$')


def _lookup(obj: dict[str, Any], json_path: str) -> Any:
    """The value of one of the JSONPath shapes crdgen writes (a plain path, or a condition)."""
    match = _CONDITION_PATH.match(json_path)
    if match:
        conditions = obj.get("status", {}).get("conditions", [])
        found = [c for c in conditions if c["type"] == match.group(1)]
        return found[0][match.group(2)] if found else None
    assert re.fullmatch(r"(\.\w+)+", json_path), f"a new JSONPath shape: {json_path}"
    value: Any = obj
    for key in json_path.lstrip(".").split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _table(text: str) -> list[dict[str, str]]:
    """kubectl's aligned table as rows of ``{header: cell}`` (headers may contain one space)."""
    lines = text.rstrip("\n").splitlines()
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", header)]
    names = [header[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    return [
        {
            name: line[a:b].strip()
            for name, a, b in zip(names, starts, [*starts[1:], None], strict=True)
        }
        for line in lines[1:]
    ]


def _expected_cell(column: dict[str, Any], obj: dict[str, Any]) -> str | None:
    """The text the column must show, or None where it is a relative time ("5m", "335d")."""
    value = _lookup(obj, column["jsonPath"])
    if column["type"] == "date":
        return None
    if value is None:
        return "<none>"
    if isinstance(value, list):
        # A list shown in a string column: the server prints it as JSON.
        return "[" + ",".join(f'"{v}"' for v in value) + "]"
    return str(value)


@pytest.mark.parametrize("kind", [c.kind for c in crds()])
def test_printer_columns(modern_kube: Kube, kind: str) -> None:
    definition: Crd = crd(kind)
    columns = definition.version["additionalPrinterColumns"]
    obj = Objects(
        modern_kube,
        kind,
        unique_name("columns"),
        unique_name("cols") if definition.namespaced else None,
    )
    accepted(obj.create(BASE_SPECS[kind]), "create")
    accepted(obj.patch_status(STATUS[kind]), "status")
    stored = obj.get()

    wide = modern_kube.kubectl("get", obj.ref, "-o", "wide", namespace=obj.namespace).stdout
    (row,) = _table(wide)
    assert list(row) == ["NAME", *(c["name"] for c in columns)]
    assert row["NAME"] == obj.name
    for column in columns:
        expected = _expected_cell(column, stored)
        if expected is None:
            assert re.fullmatch(r"\d+[smhdy]\w*", row[column["name"]]), (column, row)
        else:
            assert row[column["name"]] == expected, column

    narrow = modern_kube.kubectl("get", obj.ref, namespace=obj.namespace).stdout
    (row,) = _table(narrow)
    assert list(row) == ["NAME", *(c["name"] for c in columns if not c.get("priority"))]
    # The plural and every short name list the same object.
    for resource in [definition.plural, *definition.doc["spec"]["names"].get("shortNames", [])]:
        listed = modern_kube.kubectl("get", resource, "-o", "name", namespace=obj.namespace)
        assert f"/{obj.name}" in listed.stdout


def _schema_at(definition: Crd, path: str) -> tuple[str | None, dict[str, Any]]:
    """The description of the field at ``path`` and its sub-fields (an array's: its items')."""
    node = definition.schema
    for part in path.split("."):
        node = node["properties"][part]
    fields = node.get("items", node).get("properties", {})
    return node.get("description"), fields


def _words(text: str) -> str:
    return " ".join(text.split())


EXPLAINED = [
    ("ModelService", "spec"),
    ("ModelService", "spec.connectionRef"),
    ("ModelService", "status.conditions"),
    ("ZStackConnection", "spec"),
    ("ZStackConnection", "spec.credentialsSecretRef"),
    ("ClusterZStackConnection", "spec"),
    ("ClusterZStackConnection", "status"),
]


@pytest.mark.parametrize(("kind", "path"), EXPLAINED, ids=[f"{k}.{p}" for k, p in EXPLAINED])
def test_explain_prints_the_crd_descriptions(modern_kube: Kube, kind: str, path: str) -> None:
    definition = crd(kind)
    description, fields = _schema_at(definition, path)
    # The singular, as the README writes it (`kubectl explain modelservice.spec`).
    singular = definition.doc["spec"]["names"]["singular"]
    result = modern_kube.kubectl(
        "explain", f"{singular}.{path}", f"--api-version={definition.api_version}"
    )
    text = _words(result.stdout)
    assert f"KIND: {kind}" in text
    assert f"VERSION: {definition.version['name']}" in text
    assert f"FIELD: {path.rsplit('.', 1)[-1]} <" in text
    assert description, f"{kind}.{path} has no description"
    assert _words(description) in text
    assert fields, f"{kind}.{path} has no fields to explain"
    for name, field in fields.items():
        assert re.search(rf"\b{name} <", text), f"field {name} missing from explain"
        assert _words(field["description"]) in text, f"description of {path}.{name}"
