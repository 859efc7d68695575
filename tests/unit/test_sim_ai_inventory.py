"""The AI lifecycle inventories: deployment statuses over time, release shapes, capacity."""

from __future__ import annotations

import pytest
from zstack_operator.sim import DEFAULT_MODEL_CENTER_UUID, DEFAULT_MODEL_UUIDS, SimConfig
from zstack_operator.sim.ai_inventory import (
    DEPLOYING,
    FAILED,
    RUNNING,
    STARTING,
    center_inventory,
    group_inventory,
    group_status,
    model_inventory,
)
from zstack_operator.sim.ai_records import GroupRecord, ModelRecord
from zstack_operator.sim.runtime import SimContext
from zstack_operator.sim.server import build_context
from zstack_operator.sim.state import new_uuid
from zstack_operator.zstack.ai_models import (
    ModelCenterInventory,
    ModelInventory,
    ModelServiceInstanceGroupInventory,
)

from tests.unit.test_sim_state import service

T0 = 1_700_000_000.0


def group(*, fails: bool = False, kind: str = "Container", seconds: float = 10.0) -> GroupRecord:
    return GroupRecord(
        uuid=new_uuid(),
        seq=1,
        fields={
            "name": "g",
            "description": "d",
            "modelUuid": DEFAULT_MODEL_UUIDS[0],
            "type": kind,
            "modelServiceType": "Endpoint",
        },
        model_service_uuid="s" * 32,
        instances=[{"uuid": "i" * 32, "name": "g-0", "yaml": "y", "vmInstanceUuid": "v" * 32}],
        datasets=[{"uuid": "r" * 32, "datasetUuid": "d" * 32}],
        create_date=T0,
        last_op_date=T0,
        deploy_started_at=T0,
        deploy_seconds=seconds,
        fails=fails,
        owner="o" * 32,
    )


@pytest.fixture
def ctx() -> SimContext:
    context = build_context(SimConfig(time_zone="UTC"))
    context.port = 8080
    return context


@pytest.mark.parametrize(
    ("elapsed", "fails", "status", "changed"),
    [
        (0.0, False, DEPLOYING, T0),
        (4.9, False, DEPLOYING, T0),
        (5.0, False, STARTING, T0 + 5),
        (9.9, True, STARTING, T0 + 5),
        (10.0, False, RUNNING, T0 + 10),
        (99.0, True, FAILED, T0 + 10),
    ],
)
def test_a_deployment_moves_through_its_statuses(
    elapsed: float, fails: bool, status: str, changed: float
) -> None:
    assert group_status(group(fails=fails), T0 + elapsed) == (status, changed)


def test_a_zero_duration_deployment_is_running_at_once() -> None:
    assert group_status(group(seconds=0), T0)[0] == RUNNING


def test_urls_appear_only_once_running(ctx: SimContext) -> None:
    rec = group()
    starting = group_inventory(rec, ctx, T0 + 6)["instances"][0]
    assert starting["status"] == STARTING
    assert not {"url", "internalUrl", "urlMaps"} & starting.keys()
    running = group_inventory(rec, ctx, T0 + 10)["instances"][0]
    base = "http://127.0.0.1:8080/_sim/endpoints/" + "i" * 32
    assert running["url"] == base + "/"
    assert running["internalUrl"] == base + "/internal/"
    assert running["urlMaps"] == {"openai": base + "/v1", "health": base + "/health"}
    assert running["vm"] == {"uuid": "v" * 32, "name": "g-0", "state": "Running"}
    failed = group_inventory(group(fails=True), ctx, T0 + 10)["instances"][0]
    assert "url" not in failed
    assert failed["vm"]["state"] == "Stopped"


def test_the_newest_release_reports_description_name_and_account(ctx: SimContext) -> None:
    inv = group_inventory(group(), ctx, T0 + 10)
    assert list(inv) == [
        "uuid", "modelUuid", "name", "description", "modelServiceUuid", "instances",
        "datasetRefInventories", "status", "modelServiceType", "type", "createDate", "lastOpDate",
    ]  # fmt: skip
    instance = inv["instances"][0]
    assert (instance["name"], instance["accountUuid"]) == ("g-0", "o" * 32)
    assert inv["datasetRefInventories"] == [
        {"uuid": "r" * 32, "datasetUuid": "d" * 32, "modelServiceInstanceGroupUuid": inv["uuid"]}
    ]
    assert inv["lastOpDate"] == "Nov 14, 2023 10:13:30 PM"  # the Running transition
    parsed = ModelServiceInstanceGroupInventory.model_validate(inv)
    assert parsed.instances is not None
    assert parsed.instances[0].url_maps is not None


def test_5_1_20_has_no_description_instance_name_or_account() -> None:
    ctx = build_context(SimConfig(zstack_version="5.1.20"))
    inv = group_inventory(group(), ctx, T0)
    assert "description" not in inv
    assert not {"name", "accountUuid"} & inv["instances"][0].keys()


def test_a_centers_capacity_sums_its_models(ctx: SimContext) -> None:
    ctx.state.ai.models[DEFAULT_MODEL_UUIDS[0]].fields["size"] = 7
    extra = ModelRecord(
        new_uuid(),
        9,
        {"name": "x", "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID, "size": 5},
        T0,
        T0,
    )
    ctx.state.ai.save_model(extra)
    inv = center_inventory(ctx.state.ai.centers[DEFAULT_MODEL_CENTER_UUID], ctx)
    assert inv["capacity"]["modelUsedCapacity"] == 12
    assert inv["capacity"]["uuid"] == DEFAULT_MODEL_CENTER_UUID
    assert ModelCenterInventory.model_validate(inv).management_port == 8989


def test_a_model_never_reports_its_token_and_lists_its_bindings(ctx: SimContext) -> None:
    rec = ModelRecord(new_uuid(), 9, {"name": "x", "size": 0}, T0, T0, token="secret")
    svc_uuid = new_uuid()
    svc = service(ctx.state, "svc")
    svc.uuid = svc_uuid
    svc.refs = [{"uuid": "f" * 32, "modelUuid": rec.uuid}]
    ctx.state.save_service(svc)
    inv = model_inventory(rec, ctx)
    assert "token" not in inv
    assert inv["type"] == "LLM"
    assert inv["modelServiceRefs"] == [
        {"uuid": "f" * 32, "modelUuid": rec.uuid, "modelServiceUuid": svc_uuid}
    ]
    assert ModelInventory.model_validate(inv).service_uuids == {svc_uuid}
    assert "secret" not in repr(rec)
