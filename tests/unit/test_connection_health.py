"""A connection's model centers in its status: read once per check, bounded, never a reason to
be un-Ready; a failing QueryModelCenter keeps the last list and is logged once (no network:
the client is a stub)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from zstack_operator import connection_status
from zstack_operator import resources as r
from zstack_operator.connection_health import Health, center_entries, read_centers, status_patch
from zstack_operator.connection_status import ConnectionController
from zstack_operator.zstack.ai_models import ModelCenterInventory
from zstack_operator.zstack.errors import ZStackAPIError, ZStackError, ZStackRESTError
from zstack_operator.zstack.models import ErrorCode

from tests.unit.test_connection_crd import admitted

CENTER = "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"


def uuid(n: int) -> str:
    return f"{n:032x}"


def center(n: int, name: str | None, **fields: Any) -> ModelCenterInventory:
    return ModelCenterInventory.model_validate({"uuid": uuid(n), "name": name, **fields})


class StubAi:
    """``client.ai`` with a canned QueryModelCenter answer (or error); records each call."""

    def __init__(self, answer: list[ModelCenterInventory] | ZStackError) -> None:
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    async def query_model_centers(self, conditions: Any = (), **kw: Any) -> Any:
        self.calls.append(kw)
        if isinstance(self.answer, ZStackError):
            raise self.answer
        return self.answer


class StubClient:
    def __init__(self, answer: list[ModelCenterInventory] | ZStackError) -> None:
        self.ai = StubAi(answer)


def ready(**kw: Any) -> Health:
    return Health(True, "Connected", "logged in", "5.5.22", "team-a", uuid(7), **kw)


def fits_the_crd(status: dict[str, Any]) -> list[str]:
    """What the API server would refuse in ``status`` once merged (a null removes a field)."""
    status = {k: v for k, v in status.items() if v is not None}
    spec = {"endpoint": "https://zstack.example.com", "credentialsSecretRef": {"name": "login"}}
    obj = {"apiVersion": r.API_VERSION, "kind": r.CONNECTION_KIND, "spec": spec, "status": status}
    return admitted(r.CONNECTION_KIND, obj)[1]


def test_entries_are_sorted_by_name_clipped_and_fit_the_crd() -> None:
    found = [
        center(
            3, "beta", status="Connected", url="http://b/" + "x" * 5000, managementIp="10.0.0.2"
        ),
        center(1, "Alpha", status="Disconnected", description="not listed", managementPort=8989),
        center(2, None),
        ModelCenterInventory.model_validate({"uuid": "not-a-zstack-uuid", "name": "odd"}),
        center(4, "n" * 300, status="S" * 100),
    ]
    entries = center_entries(found)
    assert [e["uuid"] for e in entries] == [uuid(2), uuid(1), uuid(3), uuid(4)]
    assert entries[1] == {"uuid": uuid(1), "name": "Alpha", "status": "Disconnected"}
    assert entries[2]["managementIp"] == "10.0.0.2"
    assert len(entries[2]["url"]) == 2048
    assert (len(entries[3]["name"]), len(entries[3]["status"])) == (255, 64)
    patch = status_patch(ready(centers=tuple(entries)), generation=1, used_by=0, old={})
    assert fits_the_crd(patch) == []
    assert r.ConnectionStatus.model_validate(patch).model_centers is not None


async def test_one_query_sorted_by_name_and_a_longer_list_is_said_to_be_cut() -> None:
    few = StubClient([center(1, "default")])
    centers, message = await read_centers(few)  # type: ignore[arg-type]
    assert centers == ({"uuid": uuid(1), "name": "default"},)
    assert message is None
    assert few.ai.calls == [{"limit": r.MAX_MODEL_CENTERS + 1, "sort": "+name"}]
    many = StubClient([center(n, f"c{n:03}") for n in range(1, r.MAX_MODEL_CENTERS + 2)])
    centers, message = await read_centers(many)  # type: ignore[arg-type]
    assert centers is not None
    assert len(centers) == r.MAX_MODEL_CENTERS
    assert centers[-1]["name"] == f"c{r.MAX_MODEL_CENTERS:03}"
    assert message == "more than 32 model centers: the first ones by name are listed"
    patch = status_patch(ready(centers=centers, centers_message=message), generation=1,
                         used_by=0, old={})  # fmt: skip
    assert fits_the_crd(patch) == []


@pytest.mark.parametrize(
    "error",
    [
        ZStackAPIError(
            ErrorCode(code="SYS.1006", details="permission denied"), api="QueryModelCenter"
        ),
        ZStackRESTError(404, "no mapping for /v1/ai/model-centers", api="QueryModelCenter"),
    ],
    ids=["refused", "no-ai-module"],
)
async def test_a_failed_query_keeps_the_last_list_and_says_why(error: ZStackError) -> None:
    centers, message = await read_centers(StubClient(error))  # type: ignore[arg-type]
    assert centers is None
    assert message is not None
    assert message.startswith("QueryModelCenter failed; modelCenters, if any, is from an earlier")
    assert str(error) in message
    health = ready(centers=centers, centers_message=message)
    assert health.centers_failed
    old = {"modelCenters": [{"uuid": CENTER, "name": "default"}]}
    patch = status_patch(health, generation=2, used_by=1, old=old)
    assert "modelCenters" not in patch  # a merge patch without it keeps the old list
    assert patch["modelCentersMessage"] == message
    assert [c["status"] for c in patch["conditions"]] == ["True", "False", "False"]
    assert fits_the_crd({**old, **patch}) == []


def test_success_clears_the_message_and_a_failed_login_touches_neither_field() -> None:
    patch = status_patch(ready(centers=()), generation=1, used_by=0, old={})
    assert patch["modelCenters"] == []
    assert patch["modelCentersMessage"] is None  # null: the merge patch removes it
    down = Health(False, "Unreachable", "connection refused")
    assert not down.centers_failed
    patch = status_patch(down, generation=1, used_by=0, old={"modelCenters": []})
    assert not {"modelCenters", "modelCentersMessage"} & set(patch)


class FakeKube:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    async def patch_status(self, *args: Any) -> None:
        self.patches.append(args[-1])


async def test_a_failing_query_is_logged_once_until_it_works_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    outcomes = iter(
        [
            ready(centers_message="QueryModelCenter failed; x"),
            ready(centers_message="QueryModelCenter failed; x"),
            ready(centers=({"uuid": CENTER},)),
            ready(centers_message="QueryModelCenter failed; y"),
        ]
    )

    async def probe(_pool: Any, _key: str) -> Health:
        return next(outcomes)

    monkeypatch.setattr(connection_status, "probe", probe)
    kube = FakeKube()
    controller = ConnectionController(None, kube, lambda _key: [], "ops")  # type: ignore[arg-type]
    body = {"metadata": {"namespace": "team-a", "name": "default", "generation": 1}}
    with caplog.at_level(logging.INFO, logger=connection_status.__name__):
        for _ in range(4):
            await controller.refresh(r.CONNECTION_KIND, body)
    said = [rec for rec in caplog.records if "QueryModelCenter" in rec.getMessage()]
    assert [rec.levelno for rec in said] == [logging.INFO, logging.INFO]
    assert said[0].getMessage() == (
        "ZStackConnection/team-a/default is Ready, but QueryModelCenter failed; x"
    )
    assert said[1].getMessage().endswith("failed; y")
    assert [("modelCenters" in p) for p in kube.patches] == [False, False, True, False]
