"""Every client operation against the simulator, in its async (202 + poll) and sync modes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from zstack_operator.sim import DEFAULT_MODEL_UUIDS, DEFAULT_ZONE_UUID, SimMode, Simulator
from zstack_operator.zstack import ErrorKind, ZStackAPIError, ZStackClient
from zstack_operator.zstack.models import (
    ArchitectureImage,
    CpuArchitecture,
    DeleteMode,
    ServiceType,
    UpdateModelServiceParam,
)

from tests.support.client_helpers import ADMIN, RecordingObserver, param
from tests.support.sim_fixtures import SimFactory


@pytest.fixture(params=[SimMode.ASYNC, SimMode.SYNC], ids=["async", "sync"])
async def mode_sim(request: pytest.FixtureRequest, sim_factory: SimFactory) -> Simulator:
    return await sim_factory(mode=request.param)


@pytest.fixture
async def client(mode_sim: Simulator) -> AsyncIterator[ZStackClient]:
    async with ZStackClient(mode_sim.url, ADMIN) as zs:
        yield zs


#: A uuid ZStack accepts as ``resourceUuid`` (version nibble 4, variant 8).
RESOURCE_UUID = "1" * 12 + "4" + "1" * 3 + "8" + "1" * 15


def _reply_status(sim: Simulator) -> str:
    return "202" if sim.config.mode is SimMode.ASYNC else "200"


async def test_add_reports_every_param_and_tags(mode_sim: Simulator, client: ZStackClient) -> None:
    wanted = param(
        description="a test service",
        zone_uuid=DEFAULT_ZONE_UUID,
        gpu_compute_capability="8.0",
        python_version="3.11",
        conda_version="23.1",
        type=ServiceType.FINE_TUNE,
        framework="vLLM",
        source="HuggingFace",
        model_uuids=[DEFAULT_MODEL_UUIDS[0]],
        architecture_images=[
            ArchitectureImage(cpu_architecture=CpuArchitecture.X86_64, docker_image="img:1")
        ],
        support_distributed=True,
        container_command="serve",
        container_args="--port 8000",
        vendor_to_spec_uuids_map={"NVIDIA": ["a" * 32]},
    )
    inv = await client.add_model_service(wanted, system_tags=["s::t"], user_tags=["team-a"])
    assert inv.name == "llama"
    assert inv.description == "a test service"
    assert inv.type == "FineTune"
    assert inv.framework == "vLLM"
    assert inv.source == "HuggingFace"
    assert inv.request_cpu == 2
    assert inv.request_memory == 1024
    assert inv.support_distributed is True
    assert inv.cpu_architectures == ["X86_64"]
    assert inv.model_service_images is not None
    assert inv.model_service_images[0].docker_image == "img:1"
    assert inv.model_uuids == {DEFAULT_MODEL_UUIDS[0]}
    assert inv.vendor_to_spec_uuids_map == {"NVIDIA": ["a" * 32]}
    assert inv.version == "1"
    assert inv.create_date is not None
    record = mode_sim.context.state.services[inv.uuid]
    assert record.extra["systemTags"] == ["s::t"]
    # userTags become user tags on the service, not a create-only leftover.
    assert "userTags" not in record.extra
    assert [t.tag for t in mode_sim.context.state.tags_on(inv.uuid)] == ["team-a"]
    counters = await mode_sim.admin.counters()
    assert counters.count("AddModelService", _reply_status(mode_sim)) == 1
    assert counters.created == {inv.uuid: 1}


async def test_get_query_update_bind_unbind_delete(mode_sim: Simulator) -> None:
    observer = RecordingObserver()
    async with ZStackClient(mode_sim.url, ADMIN, observer=observer) as client:
        inv = await client.add_model_service(
            param(resource_uuid="1" * 12 + "4" + "1" * 3 + "8" + "1" * 15)
        )
        assert inv.uuid == "1" * 12 + "4" + "1" * 3 + "8" + "1" * 15
        assert await client.get_model_service(inv.uuid) == inv

        updated = await client.update_model_service(
            inv.uuid, UpdateModelServiceParam(request_cpu=8, description="bigger")
        )
        assert (updated.request_cpu, updated.description) == (8, "bigger")
        # Only the given fields change.
        assert (updated.name, updated.yaml, updated.request_memory) == (inv.name, inv.yaml, 1024)
        assert updated.version == "2"

        await client.bind_model(DEFAULT_MODEL_UUIDS[1], inv.uuid)
        bound = await client.get_model_service(inv.uuid)
        assert bound is not None
        assert bound.model_uuids == {DEFAULT_MODEL_UUIDS[1]}
        await client.unbind_model(DEFAULT_MODEL_UUIDS[1], inv.uuid)
        unbound = await client.get_model_service(inv.uuid)
        assert unbound is not None
        assert unbound.model_uuids == set()

        await client.delete_model_service(inv.uuid)
        assert await client.get_model_service(inv.uuid) is None

    counters = await mode_sim.admin.counters()
    status = _reply_status(mode_sim)
    for api in ("UpdateModelService", "BindModelToService", "UnbindModelFromService"):
        assert counters.count(api, status) == 1
    assert counters.count("DeleteModelService", status) == 1
    assert counters.count("LogOut", "200") == 1
    polls = counters.count("QueryApiJob")
    if mode_sim.config.mode is SimMode.ASYNC:
        assert polls >= 5
        assert set(observer.polls) == {
            "AddModelService",
            "UpdateModelService",
            "BindModelToService",
            "UnbindModelFromService",
            "DeleteModelService",
        }
    else:
        assert polls == 0
        assert observer.polls == []
    assert ("LogInByAccount", "200") in observer.requests
    assert observer.in_flight == 0


async def test_delete_enforcing_and_missing(mode_sim: Simulator, client: ZStackClient) -> None:
    inv = await client.add_model_service(param())
    await client.delete_model_service(inv.uuid, mode=DeleteMode.ENFORCING)
    assert await client.get_model_service(inv.uuid) is None
    # Deleting what is already gone succeeds (successIfResourceNotExisting).
    await client.delete_model_service(inv.uuid)


async def test_queries(mode_sim: Simulator, client: ZStackClient) -> None:
    made = [
        await client.add_model_service(param(name=f"svc-{i}", request_cpu=i + 1)) for i in range(5)
    ]
    page = await client.query_model_services(
        ["name~=svc-%", "requestCpu>=2"],
        sort="-requestCpu",
        limit=2,
        start=1,
        reply_with_count=True,
    )
    assert [i.name for i in page.inventories] == ["svc-3", "svc-2"]
    assert page.total == 4
    plain = await client.query_model_services([f"uuid={made[0].uuid}"])
    assert plain.total is None
    assert [i.uuid for i in plain.inventories] == [made[0].uuid]
    slim = await client.query_model_services([f"uuid={made[0].uuid}"], fields=["name"])
    assert slim.inventories[0].uuid == made[0].uuid
    assert slim.inventories[0].name == "svc-0"
    assert slim.inventories[0].yaml is None
    everything = await client.query_all(["name~=svc-%"], page_size=2)
    assert sorted(i.uuid for i in everything) == sorted(i.uuid for i in made)
    found = await client.get_model_services([made[1].uuid, "f" * 32, made[1].uuid, made[2].uuid])
    assert set(found) == {made[1].uuid, made[2].uuid}
    assert found[made[2].uuid].name == "svc-2"


async def test_rejected_params_raise_terminal_api_errors(
    mode_sim: Simulator, client: ZStackClient
) -> None:
    with pytest.raises(ZStackAPIError) as missing_center:
        await client.add_model_service(param(model_center_uuid="e" * 32))
    assert missing_center.value.code == "SYS.1003"
    assert missing_center.value.kind is ErrorKind.TERMINAL
    assert missing_center.value.api == "AddModelService"
    with pytest.raises(ZStackAPIError) as bad_uuid:
        await client.add_model_service(param(resource_uuid="not-a-uuid"))
    assert bad_uuid.value.code == "SYS.1007"
    with pytest.raises(ZStackAPIError) as unknown:
        await client.update_model_service("d" * 32, UpdateModelServiceParam(name="x"))
    assert unknown.value.code == "SYS.1003"
    counters = await mode_sim.admin.counters()
    # Terminal errors are not retried: one request each.
    assert counters.count("AddModelService") == 2
    assert counters.count("UpdateModelService") == 1
