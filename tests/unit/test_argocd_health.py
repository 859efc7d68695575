"""deploy/argocd/health.lua under Lua 5.1, the dialect of Argo CD's gopher-lua.

The cases live in deploy/argocd/health_test.yaml (Argo CD's own format, so the check can go
upstream unchanged). Each runs under lupa's bundled PUC Lua 5.1 and, when Debian's ``lua5.1`` is
installed, under that interpreter as well, fed the object the way Argo CD feeds it: a global
``obj`` built from the resource's JSON.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ARGOCD = Path(__file__).resolve().parents[2] / "deploy" / "argocd"
SCRIPT = ARGOCD / "health.lua"
CASES: list[dict[str, Any]] = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())["tests"]
LUA51 = shutil.which("lua5.1")


def _lupa_runtime() -> Any:
    try:
        module = importlib.import_module("lupa.lua51")
    except ImportError:  # lupa builds without the 5.1 runtime expose only the default one
        module = importlib.import_module("lupa")
    return module.LuaRuntime(unpack_returned_tuples=True)


def _run_lupa(obj: dict[str, Any]) -> dict[str, str]:
    lua = _lupa_runtime()
    assert lua.eval("_VERSION") == "Lua 5.1", "health.lua must be checked under Lua 5.1"
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(SCRIPT.read_text())
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


def _run_lua51_binary(obj: dict[str, Any]) -> dict[str, str]:
    assert LUA51 is not None
    program = (
        f"obj = {_lua_literal(obj)}\n"
        f"local hs = dofile({json.dumps(str(SCRIPT))})\n"
        "io.write(hs.status, '\\n', hs.message or '')\n"
    )
    result = subprocess.run(
        [LUA51, "-"], input=program, capture_output=True, text=True, check=True, timeout=30
    )
    status, _, message = result.stdout.partition("\n")
    return {"status": status, "message": message} if message else {"status": status}


def _case_id(case: dict[str, Any]) -> str:
    return Path(case["inputPath"]).stem


def _load(case: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((ARGOCD / case["inputPath"]).read_text())
    return obj


def test_cases_cover_every_outcome() -> None:
    """Every Argo CD status the check can return has at least one case, and no case is unused."""
    statuses = {case["healthStatus"]["status"] for case in CASES}
    assert statuses == {"Healthy", "Progressing", "Degraded", "Suspended"}
    used = {ARGOCD / case["inputPath"] for case in CASES}
    assert used == set((ARGOCD / "testdata").glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_health_under_lupa_lua51(case: dict[str, Any]) -> None:
    assert _run_lupa(_load(case)) == case["healthStatus"]


@pytest.mark.skipif(LUA51 is None, reason="Debian's lua5.1 is not installed")
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_health_under_lua51_binary(case: dict[str, Any]) -> None:
    assert _run_lua51_binary(_load(case)) == case["healthStatus"]


def test_unknown_reason_with_ready_false_is_progressing() -> None:
    """A reason the check does not know must never read as Healthy or Degraded."""
    obj = _load(CASES[0])
    obj["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "reason": "SomethingNew", "observedGeneration": 2},
        {"type": "Synced", "status": "False", "reason": "SomethingNew", "observedGeneration": 2},
    ]
    assert _run_lupa(obj) == {"status": "Progressing", "message": "Not ready: SomethingNew"}


def test_argocd_cm_snippet_carries_the_script() -> None:
    """The argocd-cm snippet users paste holds exactly health.lua under Argo CD's key."""
    cm = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert cm["kind"] == "ConfigMap"
    assert cm["metadata"] == {
        "name": "argocd-cm",
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
    }
    assert cm["data"] == {
        "resource.customizations.health.ai.zstack.io_ModelService": SCRIPT.read_text()
    }
