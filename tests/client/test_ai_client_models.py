"""Model centers and models through the client, and the tenancy of the AI resources."""

from __future__ import annotations

import pytest
from zstack_operator.sim import DEFAULT_MODEL_CENTER_UUID, DEFAULT_ZONE_UUID
from zstack_operator.zstack import ZStackAPIError, ZStackClient
from zstack_operator.zstack.ai_models import (
    AddModelCenterParam,
    AddModelParam,
    DeploymentType,
    DeployModelServiceParam,
    UpdateModelCenterParam,
    UpdateModelParam,
)

from tests.support.client_helpers import ADMIN, TENANT_PASSWORD, param, tenant
from tests.support.sim_fixtures import SimFactory

RESOURCE_UUID = "3" * 12 + "4" + "3" * 3 + "8" + "3" * 15


def model(**overrides: object) -> AddModelParam:
    values: dict[str, object] = {
        "name": "llama-3",
        "install_path": "/models/llama-3",
        "model_center_uuid": DEFAULT_MODEL_CENTER_UUID,
    }
    values.update(overrides)
    return AddModelParam.model_validate(values)


async def test_models_add_update_query_and_delete(sim_factory: SimFactory) -> None:
    sim = await sim_factory()
    async with ZStackClient(sim.url, ADMIN) as zs:
        service = await zs.add_model_service(param())
        added = await zs.ai.add_model(
            model(resource_uuid=RESOURCE_UUID, size=10, token="hf_secret",
                  model_service_uuids=[service.uuid]),
            user_tags=["owner::a"],
        )  # fmt: skip
        assert (added.uuid, added.size, added.type) == (RESOURCE_UUID, 10, "LLM")
        assert added.service_uuids == {service.uuid}
        assert RESOURCE_UUID in (await zs.get_model_service(service.uuid) or service).model_uuids
        updated = await zs.ai.update_model(RESOURCE_UUID, UpdateModelParam(name="llama-3.1"))
        assert updated.name == "llama-3.1"
        found = await zs.ai.query_models(["__userTag__=owner::a"])
        assert [m.uuid for m in found] == [RESOURCE_UUID]
        center = await zs.ai.get_model_center(DEFAULT_MODEL_CENTER_UUID)
        assert center is not None
        assert center.capacity is not None
        assert center.capacity.model_used_capacity == 10
        await zs.ai.delete_model(RESOURCE_UUID)
        assert await zs.ai.get_model(RESOURCE_UUID) is None
        after = await zs.get_model_service(service.uuid)
        assert after is not None
        assert RESOURCE_UUID not in after.model_uuids  # the binding went with it


async def test_model_centers_through_the_client(sim_factory: SimFactory) -> None:
    sim = await sim_factory()
    async with ZStackClient(sim.url, ADMIN) as zs:
        center = await zs.ai.add_model_center(
            AddModelCenterParam(
                name="mc", url="http://mc", management_ip="10.0.0.2", management_port=8000
            )
        )
        assert center.status == "Connected"
        changed = await zs.ai.update_model_center(
            center.uuid, UpdateModelCenterParam(description="second")
        )
        assert (changed.description, changed.management_port) == ("second", 8000)
        names = {c.name for c in await zs.ai.query_model_centers()}
        assert names == {"default", "mc"}
        await zs.ai.delete_model_center(center.uuid)
        assert await zs.ai.get_model_center(center.uuid) is None


async def test_ai_resources_are_isolated_between_accounts(sim_factory: SimFactory) -> None:
    sim = await sim_factory(
        tenants=(("team-a", TENANT_PASSWORD), ("team-b", TENANT_PASSWORD)), deploy_duration_ms=0
    )
    deploy = DeployModelServiceParam(
        name="d", zone_uuid=DEFAULT_ZONE_UUID, type=DeploymentType.CONTAINER
    )
    async with (
        ZStackClient(sim.url, tenant("team-a")) as a,
        ZStackClient(sim.url, tenant("team-b")) as b,
        ZStackClient(sim.url, ADMIN) as admin,
    ):
        mine = await a.ai.add_model(model())
        service = await a.add_model_service(param())
        group = await a.ai.deploy_model_service(service.uuid, deploy)
        assert await b.ai.get_model(mine.uuid) is None
        assert await b.ai.get_instance_group(group.uuid) is None
        assert await b.ai.query_instance_groups() == []
        assert await admin.ai.get_instance_group(group.uuid) is not None
        assert {m.uuid for m in await a.ai.query_models()} == {mine.uuid}  # not the admin's
        for attempt in (
            b.ai.update_model(mine.uuid, UpdateModelParam(name="x")),
            b.ai.delete_instance_group(group.uuid),
            b.ai.update_instance_group(group.uuid, "x"),
            b.ai.deploy_model_service(service.uuid, deploy),
        ):
            with pytest.raises(ZStackAPIError) as denied:
                await attempt
            assert denied.value.error.code == "ID.1002"
        with pytest.raises(ZStackAPIError) as admin_only:
            await a.ai.delete_model_center(DEFAULT_MODEL_CENTER_UUID)
        assert admin_only.value.error.code == "ID.1002"
        assert len(await b.ai.query_model_centers()) == 1  # centers are everyone's to see
    owners = {g.uuid: g.owner_account_uuid for g in await sim.admin.instance_groups()}
    accounts = {acc.name: acc.uuid for acc in await sim.admin.accounts()}
    assert owners == {group.uuid: accounts["team-a"]}
