"""The Argo CD health checks under Lua 5.1, the dialect of Argo CD's gopher-lua.

Two checks: deploy/argocd/health.lua (ModelService, Model and ModelServiceDeployment, which share
the condition vocabulary) and deploy/argocd/connection/health.lua (ZStackConnection and
ClusterZStackConnection). The cases of each live in the health_test.yaml
beside it (Argo CD's own format, so a check can go upstream unchanged). Each runs under lupa's
bundled PUC Lua 5.1 and, when Debian's ``lua5.1`` is installed, under that interpreter as well,
fed the object the way Argo CD feeds it: a global ``obj`` built from the resource's JSON.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from zstack_operator import resources as r
from zstack_operator import status as st
from zstack_operator.resources import deployment as rd
from zstack_operator.resources import model as rm

ARGOCD = Path(__file__).resolve().parents[2] / "deploy" / "argocd"
SCRIPT = ARGOCD / "health.lua"
CONNECTION = ARGOCD / "connection"
CONNECTION_SCRIPT = CONNECTION / "health.lua"
LUA51 = shutil.which("lua5.1")


def _cases(directory: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load((directory / "health_test.yaml").read_text())[
        "tests"
    ]
    return cases


CASES = _cases(ARGOCD)
CONNECTION_CASES = _cases(CONNECTION)
#: (script, directory of its testdata, case) for every case of both checks.
ALL_CASES = [(SCRIPT, ARGOCD, case) for case in CASES] + [
    (CONNECTION_SCRIPT, CONNECTION, case) for case in CONNECTION_CASES
]


def _lupa_runtime() -> Any:
    try:
        module = importlib.import_module("lupa.lua51")
    except ImportError:  # lupa builds without the 5.1 runtime expose only the default one
        module = importlib.import_module("lupa")
    return module.LuaRuntime(unpack_returned_tuples=True)


def _run_lupa(obj: dict[str, Any], script: Path = SCRIPT) -> dict[str, str]:
    lua = _lupa_runtime()
    assert lua.eval("_VERSION") == "Lua 5.1", "health.lua must be checked under Lua 5.1"
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script.read_text())
    return {key: result[key] for key in ("status", "message") if result[key] is not None}


def _lua_literal(value: Any) -> str:
    """``value`` (parsed JSON) as Lua source: objects and arrays become tables, arrays 1-based."""
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"[{json.dumps(k)}] = {_lua_literal(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "{" + ", ".join(_lua_literal(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    return json.dumps(value)  # numbers, and strings with JSON escapes Lua also understands


def _run_lua51_binary(obj: dict[str, Any], script: Path = SCRIPT) -> dict[str, str]:
    assert LUA51 is not None
    program = (
        f"obj = {_lua_literal(obj)}\n"
        f"local hs = dofile({json.dumps(str(script))})\n"
        "io.write(hs.status, '\\n', hs.message or '')\n"
    )
    result = subprocess.run(
        [LUA51, "-"], input=program, capture_output=True, text=True, check=True, timeout=30
    )
    status, _, message = result.stdout.partition("\n")
    return {"status": status, "message": message} if message else {"status": status}


def _case_id(case: tuple[Path, Path, dict[str, Any]]) -> str:
    script, _, data = case
    prefix = "connection-" if script == CONNECTION_SCRIPT else ""
    return prefix + Path(data["inputPath"]).stem


def _load(case: dict[str, Any], directory: Path = ARGOCD) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((directory / case["inputPath"]).read_text())
    return obj


@pytest.mark.parametrize(
    ("directory", "cases", "outcomes"),
    [
        (ARGOCD, CASES, {"Healthy", "Progressing", "Degraded", "Suspended"}),
        (CONNECTION, CONNECTION_CASES, {"Healthy", "Progressing", "Degraded"}),
    ],
    ids=["modelservice", "connection"],
)
def test_cases_cover_every_outcome(
    directory: Path, cases: list[dict[str, Any]], outcomes: set[str]
) -> None:
    """Every Argo CD status the check can return has at least one case, and no case is unused."""
    assert {case["healthStatus"]["status"] for case in cases} == outcomes
    used = {directory / case["inputPath"] for case in cases}
    assert used == set((directory / "testdata").glob("*.yaml"))


@pytest.mark.parametrize("case", ALL_CASES, ids=_case_id)
def test_health_under_lupa_lua51(case: tuple[Path, Path, dict[str, Any]]) -> None:
    script, directory, data = case
    assert _run_lupa(_load(data, directory), script) == data["healthStatus"]


@pytest.mark.skipif(LUA51 is None, reason="Debian's lua5.1 is not installed")
@pytest.mark.parametrize("case", ALL_CASES, ids=_case_id)
def test_health_under_lua51_binary(case: tuple[Path, Path, dict[str, Any]]) -> None:
    script, directory, data = case
    assert _run_lua51_binary(_load(data, directory), script) == data["healthStatus"]


def test_unknown_reason_with_ready_false_is_progressing() -> None:
    """A reason the check does not know must never read as Healthy or Degraded."""
    obj = _load(CASES[0])
    obj["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "reason": "SomethingNew", "observedGeneration": 2},
        {"type": "Synced", "status": "False", "reason": "SomethingNew", "observedGeneration": 2},
    ]
    assert _run_lupa(obj) == {"status": "Progressing", "message": "Not ready: SomethingNew"}


def test_argocd_cm_snippet_carries_the_scripts() -> None:
    """The argocd-cm snippet users paste holds exactly the scripts under Argo CD's keys."""
    cm = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert cm["kind"] == "ConfigMap"
    assert cm["metadata"] == {
        "name": "argocd-cm",
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
    }
    connection = CONNECTION_SCRIPT.read_text()
    assert cm["data"] == {
        "resource.customizations.health.ai.zstack.io_ModelService": SCRIPT.read_text(),
        "resource.customizations.health.ai.zstack.io_ZStackConnection": connection,
        "resource.customizations.health.ai.zstack.io_ClusterZStackConnection": connection,
        "resource.customizations.health.ai.zstack.io_Model": SCRIPT.read_text(),
        "resource.customizations.health.ai.zstack.io_ModelServiceDeployment": SCRIPT.read_text(),
    }


# --- the ModelService, Model and ModelServiceDeployment check ------------------------------------

#: Each kind the check serves -> the pydantic models of its spec and status.
KINDS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    r.KIND: (r.ModelServiceSpec, r.ModelServiceStatus),
    rm.MODEL_KIND: (rm.ModelSpec, rm.ModelStatus),
    rd.DEPLOYMENT_KIND: (rd.DeploymentSpec, rd.DeploymentStatus),
}


def test_check_knows_exactly_the_terminal_reasons() -> None:
    """The Lua TERMINAL table is the operator's TERMINAL_REASONS (those that set Stalled)."""
    table = re.search(r"local TERMINAL = \{(.*?)\n\}", SCRIPT.read_text(), re.S)
    assert table is not None
    names = set(re.findall(r"(\w+) = true", table.group(1)))
    assert names == {str(reason) for reason in st.TERMINAL_REASONS}


def test_cases_cover_each_kind_and_are_valid_objects() -> None:
    outcomes: dict[str, set[str]] = {}
    for case in CASES:
        obj = _load(case)
        spec_model, status_model = KINDS[obj["kind"]]
        # Objects the API server and the operator could hold. The check reads no spec, and the
        # ModelService cases keep the short spec they were written with.
        if obj["kind"] != r.KIND:
            spec_model.model_validate(obj["spec"])
        status_model.model_validate(obj.get("status") or {})
        for condition in (obj.get("status") or {}).get("conditions", []):
            assert condition["type"] in set(r.ConditionType)
        outcomes.setdefault(obj["kind"], set()).add(case["healthStatus"]["status"])
    assert set(outcomes) == set(KINDS)
    for kind, seen in outcomes.items():
        assert seen >= {"Healthy", "Progressing", "Degraded"}, kind


def test_deployment_cases_cover_its_serving_states() -> None:
    """A deployment that serves (with its endpoint), deploys, failed, and waits for its service."""
    by_reason: dict[str, list[dict[str, Any]]] = {}
    for case in CASES:
        obj = _load(case)
        if obj["kind"] != rd.DEPLOYMENT_KIND or obj["metadata"].get("deletionTimestamp"):
            continue
        for condition in (obj.get("status") or {}).get("conditions", []):
            if condition["type"] == "Ready":
                by_reason.setdefault(condition["reason"], []).append(case)
    assert set(by_reason) >= {
        r.ReadyReason.AVAILABLE,
        r.ReadyReason.DEPLOYING,
        r.ReadyReason.FAILED,
        r.ReadyReason.WAITING_FOR_DEPENDENCY,
    }
    serving = [
        c for c in by_reason[r.ReadyReason.AVAILABLE] if c["healthStatus"]["status"] == "Healthy"
    ]
    assert any(_load(c)["status"]["endpoint"] in c["healthStatus"]["message"] for c in serving)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "reason", sorted(set(r.ReadyReason) - {r.ReadyReason.AVAILABLE, r.ReadyReason.DELETING})
)
def test_every_ready_reason_has_a_defined_outcome(kind: str, reason: str) -> None:
    """Ready=False for the current spec: Degraded only for Failed, which waiting does not fix."""
    obj = _load(CASES[0])
    obj["kind"] = kind
    obj["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "reason": reason, "observedGeneration": 2},
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "observedGeneration": 2},
    ]
    want = "Degraded" if reason == r.ReadyReason.FAILED else "Progressing"
    assert _run_lupa(obj)["status"] == want


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("reason", sorted(r.SyncedReason))
def test_every_synced_reason_has_a_defined_outcome(kind: str, reason: str) -> None:
    """Synced=False for the current spec: Degraded exactly for the terminal reasons."""
    obj = _load(CASES[0])
    obj["kind"] = kind
    obj["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "reason": "Creating", "observedGeneration": 2},
        {"type": "Synced", "status": "False", "reason": reason, "observedGeneration": 2},
    ]
    want = {r.SyncedReason.PAUSED: "Suspended"}.get(
        r.SyncedReason(reason), "Degraded" if reason in st.TERMINAL_REASONS else "Progressing"
    )
    assert _run_lupa(obj)["status"] == want


# --- the connection check ------------------------------------------------------------------------


def test_connection_check_knows_exactly_the_terminal_reasons() -> None:
    """The Lua TERMINAL table is the operator's CONNECTION_TERMINAL_REASONS, no more, no less."""
    table = re.search(r"local TERMINAL = \{(.*?)\n\}", CONNECTION_SCRIPT.read_text(), re.S)
    assert table is not None
    names = set(re.findall(r"(\w+) = true", table.group(1)))
    assert names == {str(reason) for reason in r.CONNECTION_TERMINAL_REASONS}


def test_connection_cases_cover_both_kinds_and_are_valid_objects() -> None:
    kinds = set()
    for case in CONNECTION_CASES:
        obj = _load(case, CONNECTION)
        kinds.add(obj["kind"])
        model = (
            r.ZStackConnection if obj["kind"] == r.CONNECTION_KIND else r.ClusterZStackConnection
        )
        model.model_validate(obj)  # the cases are objects the operator could have written
        for condition in (obj.get("status") or {}).get("conditions", []):
            assert condition["type"] in r.CONNECTION_CONDITION_TYPES
    assert kinds == {r.CONNECTION_KIND, r.CLUSTER_CONNECTION_KIND}


@pytest.mark.parametrize("reason", sorted(r.ConnectionReason))
def test_every_connection_reason_has_a_defined_outcome(reason: str) -> None:
    """Ready=False with any reason of the vocabulary: Degraded exactly for the terminal ones."""
    obj = _load(CONNECTION_CASES[0], CONNECTION)
    obj["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "reason": reason, "observedGeneration": 2}
    ]
    want = "Degraded" if reason in r.CONNECTION_TERMINAL_REASONS else "Progressing"
    assert _run_lupa(obj, CONNECTION_SCRIPT)["status"] == want
