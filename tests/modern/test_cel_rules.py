"""Every CEL rule of every CRD in ``crds/`` runs on a real Kubernetes 1.36 API server.

The rules are read from the generated CRDs, so a new rule without a case here fails
``test_rule_is_enforced_by_the_server``; a case for a rule that no longer exists fails
``test_every_case_belongs_to_a_rule``. The cel-python unit tests (tests/unit/test_crdgen.py,
tests/unit/test_connection_crd.py) check the expressions; these check what only a server shows:
that it compiles them within its cost budget, runs transition rules on updates only, reads the
status the status subresource wrote, and tells the user the rule's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.modern.crds import (
    BASE_SPECS,
    Objects,
    Rule,
    accepted,
    all_rules,
    crd,
    crds,
    unique_name,
)
from tests.support.kube import Kube

HELD_UUID = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
GPU_SPEC = "9c1b2a3d4e5f40718293a4b5c6d7e8f9"

#: For each immutable spec field: a first value and a different valid one.
IMMUTABLE_VALUES: dict[str, tuple[Any, Any]] = {
    "modelCenterUuid": ("5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9", "0b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"),
    "installPath": ("/opt/a", "/opt/b"),
    "system": (False, True),
    "condaVersion": ("24.7.1", "23.1.0"),
    "resourceUuid": ("0a1b2c3d4e5f40718293a4b5c6d7e8f9", "1a1b2c3d4e5f40718293a4b5c6d7e8f9"),
}
_IMMUTABLE = re.compile(r"!has\(oldSelf\.spec\.(\w+)\)")


@dataclass(frozen=True)
class Case:
    """Spec changes (over the kind's minimal spec) the rule must let through and must refuse."""

    accepted: tuple[dict[str, Any], ...]
    refused: tuple[dict[str, Any], ...]


_HTTP = (
    "an http:// endpoint sends the password hash and session ids in clear text: use https://, "
    "or set allowInsecureHTTP: true (labs only)"
)
_HTTP_CASE = Case(
    accepted=(
        {"endpoint": "https://zstack.example.com"},
        {"endpoint": "http://zstack.lab:8080", "allowInsecureHTTP": True},
    ),
    refused=(
        # allowInsecureHTTP absent: the schema default (false) is what the rule reads.
        {"endpoint": "http://zstack.lab:8080"},
        {"endpoint": "http://zstack.lab:8080", "allowInsecureHTTP": False},
    ),
)

#: The non-transition rules, by kind and message (the message is what the user reads).
CASES: dict[tuple[str, str], Case] = {
    ("ModelService", "vendor names are at most 64 characters"): Case(
        accepted=(
            {"vendorToSpecUuidsMap": {"NVIDIA": [GPU_SPEC]}},
            {"vendorToSpecUuidsMap": {"V" * 64: [GPU_SPEC]}},
        ),
        refused=(
            {"vendorToSpecUuidsMap": {"V" * 65: [GPU_SPEC]}},
            {"vendorToSpecUuidsMap": {"NVIDIA": [GPU_SPEC], "x" * 200: []}},
        ),
    ),
    ("ZStackConnection", _HTTP): _HTTP_CASE,
    ("ClusterZStackConnection", _HTTP): _HTTP_CASE,
    ("ModelServiceDeployment", "set exactly one of modelServiceRef and modelServiceUuid"): Case(
        accepted=({"name": "group"},),
        refused=({"modelServiceUuid": HELD_UUID},),
    ),
    ("ModelServiceDeployment", "set at most one of modelRef and modelUuid"): Case(
        accepted=({"modelRef": {"name": "m"}}, {"modelUuid": HELD_UUID}),
        refused=({"modelRef": {"name": "m"}, "modelUuid": HELD_UUID},),
    ),
    ("ClusterZStackConnection", "'*' (every namespace) must be the only entry"): Case(
        accepted=({"allowedNamespaces": ["*"]}, {"allowedNamespaces": ["team-a", "team-b"]}),
        refused=({"allowedNamespaces": ["*", "team-a"]}, {"allowedNamespaces": ["team-a", "*"]}),
    ),
}

RULES = all_rules()


def _where(rule: Rule) -> str:
    """How the server names the rule's place in its message (``<nil>`` for the root)."""
    return f"{rule.path.lstrip('.') or '<nil>'}: Invalid value"


def test_the_crds_have_rules() -> None:
    # Guards the derivation itself: parsing nothing would make every other test vacuous.
    ruled = {c.kind for c in crds()} - {"Model"}  # Model's spec needs no rule
    assert {rule.kind for rule in RULES} == ruled
    assert any(rule.is_transition for rule in RULES)


def test_every_case_belongs_to_a_rule() -> None:
    plain = {(rule.kind, rule.message) for rule in RULES if not rule.is_transition}
    assert set(CASES) <= plain, f"cases for rules no CRD has: {set(CASES) - plain}"
    immutable = {_immutable_field(rule) for rule in RULES if rule.is_transition}
    assert set(IMMUTABLE_VALUES) <= immutable, f"stale: {set(IMMUTABLE_VALUES) - immutable}"


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_rule_is_enforced_by_the_server(modern_kube: Kube, rule: Rule) -> None:
    if rule.is_transition:
        _immutable_field_scenario(modern_kube, rule)
    else:
        _plain_rule_scenario(modern_kube, rule)


def _immutable_field(rule: Rule) -> str:
    match = _IMMUTABLE.search(rule.rule)
    assert match, f"a transition rule that is not an immutability rule needs a scenario: {rule}"
    return match.group(1)


def _objects(kube: Kube, kind: str, prefix: str) -> Objects:
    namespace = unique_name("cel") if crd(kind).namespaced else None
    return Objects(kube, kind, unique_name(prefix), namespace)


def _refused(result: Any, what: str, rule: Rule) -> None:
    assert result.returncode != 0, f"{what}: the server accepted it:\n{result.stdout}"
    text = result.stderr
    assert rule.message in text, f"{what}: expected the rule's message in:\n{text}"
    assert _where(rule) in text, f"{what}: expected {_where(rule)!r} in:\n{text}"


def _immutable_field_scenario(kube: Kube, rule: Rule) -> None:
    field = _immutable_field(rule)
    assert field in IMMUTABLE_VALUES, f"spec.{field} is immutable now: add it to IMMUTABLE_VALUES"
    first, changed = IMMUTABLE_VALUES[field]
    required = field in crd(rule.kind).schema["properties"]["spec"].get("required", [])
    obj = _objects(kube, rule.kind, f"immutable-{field}")
    others = {k: v for k, v in BASE_SPECS[rule.kind].items() if k != field}
    # Removing a required field is refused by the schema before any rule; set it back instead.
    unset = first if required else None

    # Before ZStack holds the service (no status.uuid) a value it rejected can be corrected.
    if required:
        accepted(obj.create({**others, field: first}), "create")
    else:
        accepted(obj.create(others), "create without the field")
        accepted(obj.patch_spec({field: first}), "first set, no status")
    accepted(obj.patch_spec({field: changed}), "change, no status")
    accepted(obj.patch_spec({field: unset}), "remove (or reset), no status")
    accepted(obj.patch_status({"version": "1"}), "status without uuid")
    accepted(obj.patch_spec({field: changed}), "change, status without uuid")
    accepted(obj.patch_spec({field: unset}), "remove (or reset), status without uuid")

    # The operator records the ZStack uuid through the status subresource: now it is held.
    accepted(obj.patch_status({"uuid": HELD_UUID}), "status.uuid via the status subresource")
    assert obj.get()["status"]["uuid"] == HELD_UUID
    if not required:
        accepted(obj.patch_spec({field: first}), "first set after status.uuid")
    accepted(obj.patch_spec({"description": "still editable"}), "other field, this one unchanged")
    accepted(obj.patch_spec({field: first}), "the same value again")

    _refused(obj.patch_spec({field: changed}), "change after status.uuid", rule)
    if required:
        result = obj.patch_spec({field: None})
        assert result.returncode != 0, f"removal of required spec.{field} was accepted"
        assert "Required value" in result.stderr, result.stderr
    else:
        _refused(obj.patch_spec({field: None}), "removal after status.uuid", rule)
    # Status sent to the main resource is ignored (status subresource): it cannot unlock spec.
    unlock = obj.patch({"status": None, "spec": {field: changed}})
    _refused(unlock, "change with status: null on the main resource", rule)
    stored = obj.get()
    assert stored["spec"][field] == first
    assert stored["status"]["uuid"] == HELD_UUID


def _plain_rule_scenario(kube: Kube, rule: Rule) -> None:
    case = CASES.get((rule.kind, rule.message))
    assert case is not None, (
        f"no test case for the CEL rule {rule.rule!r} of {rule.kind}{rule.path}: "
        "add accepted and refused specs to CASES"
    )
    base = BASE_SPECS[rule.kind]
    valid: Objects | None = None
    for number, changes in enumerate(case.accepted):
        obj = _objects(kube, rule.kind, f"ok-{number}")
        accepted(obj.create({**base, **changes}), f"create with {changes}")
        valid = valid or obj
    assert valid is not None, "a case needs an accepted spec to update from"
    for number, changes in enumerate(case.refused):
        obj = _objects(kube, rule.kind, f"bad-{number}")
        _refused(obj.create({**base, **changes}), f"create with {changes}", rule)
        # Not a transition rule: it runs on every update as well.
        _refused(valid.patch_spec(changes), f"update to {changes}", rule)
