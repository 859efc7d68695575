"""Tenancy through the client against the simulator: two normal accounts and the admin.

Each account sees only its own model services and their tags, the admin sees everything; acting
on another account's service is a permission error that changes nothing (checked through the
admin's view and the counters); user tags are created, queried, refused and cascaded; and
``get_version``/``current_account`` answer for every kind of credential.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from zstack_operator.sim import (
    ADMIN_ACCOUNT_UUID,
    DEFAULT_MODEL_UUIDS,
    AccessKey,
    SimAccount,
    SimMode,
    Simulator,
)
from zstack_operator.zstack import (
    AccessKeyCredentials,
    AccountCredentials,
    DuplicateJobError,
    ErrorKind,
    JobTimeoutError,
    ZStackAPIError,
    ZStackClient,
)
from zstack_operator.zstack import models as zmodels
from zstack_operator.zstack.models import UpdateModelServiceParam

from tests.support.client_helpers import ADMIN, TENANT_PASSWORD, param, tenant
from tests.support.sim_fixtures import SimFactory

#: A uuid ZStack accepts as ``resourceUuid``.
TAKEN_UUID = "2" * 12 + "4" + "2" * 3 + "8" + "2" * 15


@dataclass
class World:
    sim: Simulator
    a: ZStackClient
    b: ZStackClient
    admin: ZStackClient
    account_a: SimAccount
    account_b: SimAccount


@pytest.fixture(params=[SimMode.ASYNC, SimMode.SYNC], ids=["async", "sync"])
async def world(request: pytest.FixtureRequest, sim_factory: SimFactory) -> AsyncIterator[World]:
    sim = await sim_factory(mode=request.param)
    account_a = await sim.admin.create_account("team-a", TENANT_PASSWORD)
    account_b = await sim.admin.create_account("team-b", TENANT_PASSWORD)
    async with (
        ZStackClient(sim.url, tenant("team-a")) as a,
        ZStackClient(sim.url, tenant("team-b")) as b,
        ZStackClient(sim.url, ADMIN) as admin,
    ):
        yield World(sim, a, b, admin, account_a, account_b)


async def test_each_account_sees_only_its_own_services(world: World) -> None:
    mine = await world.a.add_model_service(param(name="a-1"))
    also_mine = await world.a.add_model_service(param(name="a-2"))
    theirs = await world.b.add_model_service(param(name="b-1"))
    admins = await world.admin.add_model_service(param(name="admin-1"))

    assert {i.name for i in await world.a.query_all()} == {"a-1", "a-2"}
    assert {i.name for i in await world.b.query_all()} == {"b-1"}
    assert {i.name for i in await world.admin.query_all()} == {"a-1", "a-2", "b-1", "admin-1"}
    assert await world.a.get_model_service(theirs.uuid) is None
    assert await world.b.get_model_service(mine.uuid) is None
    assert await world.a.get_model_service(admins.uuid) is None
    found = await world.a.get_model_services([mine.uuid, theirs.uuid, admins.uuid])
    assert set(found) == {mine.uuid}
    counted = await world.a.query_model_services(reply_with_count=True)
    assert counted.total == 2
    # The identity filter applies before any condition: naming the uuid does not get past it.
    assert (await world.b.query_model_services([f"uuid={also_mine.uuid}"])).inventories == []
    assert await world.admin.get_model_service(theirs.uuid) == theirs

    owners = {s.name: s.owner_account_uuid for s in await world.sim.admin.services()}
    assert owners == {
        "a-1": world.account_a.uuid,
        "a-2": world.account_a.uuid,
        "b-1": world.account_b.uuid,
        "admin-1": ADMIN_ACCOUNT_UUID,
    }


def _denied_text(world: World, uuid: str) -> str:
    return (
        f"operation denied. The resource[uuid: {uuid}, type: ModelServiceVO,ownerAccountName:"
        f"team-a, ownerAccountUuid:{world.account_a.uuid}] doesn't belong to the "
        f"account[uuid: {world.account_b.uuid}]"
    )


async def test_changing_another_accounts_service_is_denied_and_changes_nothing(
    world: World,
) -> None:
    model = DEFAULT_MODEL_UUIDS[0]
    inv = await world.a.add_model_service(param(name="a-1", model_uuids=[model]))
    await world.sim.admin.reset_counters()
    attempts = {
        "UpdateModelService": world.b.update_model_service(
            inv.uuid, UpdateModelServiceParam(name="stolen")
        ),
        "DeleteModelService": world.b.delete_model_service(inv.uuid),
        "BindModelToService": world.b.bind_model(DEFAULT_MODEL_UUIDS[1], inv.uuid),
        "UnbindModelFromService": world.b.unbind_model(model, inv.uuid),
    }
    for api, attempt in attempts.items():
        with pytest.raises(ZStackAPIError) as caught:
            await attempt
        error = caught.value
        assert (error.api, error.code) == (api, "ID.1002")
        assert error.kind is ErrorKind.AUTH
        assert not error.transient
        assert error.permission_denied
        assert error.error.details == _denied_text(world, inv.uuid)

    [service] = await world.sim.admin.services()
    assert (service.name, service.version, service.owner_account_uuid) == (
        "a-1",
        "1",
        world.account_a.uuid,
    )
    assert await world.admin.get_model_service(inv.uuid) == inv
    counters = await world.sim.admin.counters()
    refused = "503" if world.sim.config.mode is SimMode.SYNC else "202"
    for api in attempts:
        # One request each: a permission error is not retried.
        assert counters.count(api) == 1
        assert counters.count(api, refused) == 1
    # The owner still can.
    await world.a.update_model_service(inv.uuid, UpdateModelServiceParam(name="renamed"))
    await world.admin.bind_model(DEFAULT_MODEL_UUIDS[1], inv.uuid)
    renamed = await world.a.get_model_service(inv.uuid)
    assert renamed is not None
    assert (renamed.name, renamed.model_uuids) == ("renamed", set(DEFAULT_MODEL_UUIDS[:2]))


async def test_a_taken_resource_uuid_fails_without_telling_whose(world: World) -> None:
    theirs = await world.a.add_model_service(
        param(name="secret-project", description="do not leak", resource_uuid=TAKEN_UUID),
        user_tags=["owner::ns-a"],
    )
    with pytest.raises(ZStackAPIError) as caught:
        await world.b.add_model_service(param(name="mine", resource_uuid=TAKEN_UUID))
    error = caught.value
    assert error.code == "SYS.1000"
    assert error.error.details == f"resource[uuid:{TAKEN_UUID}, type:ModelServiceVO] already exists"
    shown = str(error) + error.error.model_dump_json()
    for secret in ("secret-project", "do not leak", "team-a", world.account_a.uuid, "owner::"):
        assert secret not in shown
    assert await world.a.get_model_service(TAKEN_UUID) == theirs
    assert await world.b.get_model_service(TAKEN_UUID) is None
    counters = await world.sim.admin.counters()
    assert counters.created == {TAKEN_UUID: 1}


async def test_user_tags_of_a_create_are_stored_and_queryable(world: World) -> None:
    inv = await world.a.add_model_service(
        param(name="tagged"), user_tags=["owner::ns-a", "owner::ns-a", "  team=a  ", ""]
    )
    tags = await world.a.query_user_tags(inv.uuid)
    assert [t.tag for t in tags] == ["owner::ns-a", "team=a"]
    assert {(t.resource_uuid, t.resource_type, t.type) for t in tags} == {
        (inv.uuid, "ModelServiceVO", "User")
    }
    assert all(t.create_date is not None and t.last_op_date is not None for t in tags)
    assert await world.b.query_user_tags(inv.uuid) == []
    assert [t.tag for t in await world.admin.query_user_tags(inv.uuid)] == [
        "owner::ns-a",
        "team=a",
    ]


async def test_create_query_and_delete_user_tags(world: World) -> None:
    inv = await world.a.add_model_service(param(name="a-1"))
    other = await world.b.add_model_service(param(name="b-1"))
    tag = await world.a.create_user_tag(inv.uuid, "owner::ns-a")
    assert (tag.resource_uuid, tag.resource_type, tag.tag, tag.type) == (
        inv.uuid,
        "ModelServiceVO",
        "owner::ns-a",
        "User",
    )
    assert await world.a.query_user_tags(inv.uuid) == [tag]

    with pytest.raises(ZStackAPIError) as duplicate:
        await world.a.create_user_tag(inv.uuid, "owner::ns-a")
    assert duplicate.value.code == "SYS.1006"
    assert duplicate.value.error.details == (
        f"Duplicated Tag[tag:owner::ns-a, type:User, resourceType:ModelServiceVO, "
        f"resourceUuid:{inv.uuid}]"
    )
    with pytest.raises(ZStackAPIError) as foreign:
        await world.a.create_user_tag(other.uuid, "owner::ns-a")
    assert foreign.value.code == "SYS.1006"
    assert foreign.value.error.details == (
        f"permission denied, the account[uuid:{world.account_a.uuid}] is not the owner of the "
        f"resource[uuid:{other.uuid}, type:ResourceVO]"
    )
    with pytest.raises(ZStackAPIError) as not_mine:
        await world.b.delete_tag(tag.uuid)
    assert not_mine.value.code == "ID.1002"
    assert not_mine.value.permission_denied
    assert not_mine.value.error.details == (
        f"permission denied. The user tag[uuid: {tag.uuid}] refer to a resource not belonging "
        f"to the account[uuid: {world.account_b.uuid}]"
    )
    assert await world.b.query_user_tags(other.uuid) == []

    await world.a.delete_tag(tag.uuid)
    assert await world.a.query_user_tags(inv.uuid) == []
    await world.a.delete_tag(tag.uuid)  # an unknown tag uuid is success
    counters = await world.sim.admin.counters()
    assert counters.count("CreateUserTag") == 3
    assert counters.count("DeleteTag") == 3
    if world.sim.config.mode is SimMode.SYNC:  # async refusals are 202s failing on the poll
        assert counters.requests["DeleteTag"] == {"200": 2, "503": 1}
        assert counters.requests["CreateUserTag"] == {"200": 1, "503": 2}
    assert counters.count("QueryUserTag", "200") == 3


async def test_the_admin_tags_anything_and_tags_go_with_their_service(world: World) -> None:
    inv = await world.a.add_model_service(param(name="a-1"), user_tags=["from-create"])
    keep = await world.a.add_model_service(param(name="a-2"), user_tags=["kept"])
    await world.admin.create_user_tag(inv.uuid, "from-admin")
    await world.a.create_user_tag(inv.uuid, "from-owner")
    assert len(await world.a.query_user_tags(inv.uuid)) == 3

    await world.a.delete_model_service(inv.uuid)
    assert await world.admin.query_user_tags(inv.uuid) == []
    assert [t.tag for t in await world.a.query_user_tags(keep.uuid)] == ["kept"]
    assert list(world.sim.context.state.tags_on(inv.uuid)) == []
    with pytest.raises(ZStackAPIError) as gone:
        await world.a.create_user_tag(inv.uuid, "late")
    assert gone.value.code == "SYS.1003"


async def test_user_tag_conditions_are_anded_with_the_identity_filter(world: World) -> None:
    await world.a.add_model_service(param(name="a-1"), user_tags=["owner::shared"])
    await world.a.add_model_service(param(name="a-2"), user_tags=["other"])
    await world.b.add_model_service(param(name="b-1"), user_tags=["owner::shared"])

    async def names(client: ZStackClient, *conditions: str) -> set[str]:
        return {i.name or "" for i in await client.query_all(conditions)}

    assert await names(world.a, "__userTag__=owner::shared") == {"a-1"}
    assert await names(world.b, "__userTag__=owner::shared") == {"b-1"}
    assert await names(world.admin, "__userTag__=owner::shared") == {"a-1", "b-1"}
    assert await names(world.a, "__userTag__~=owner::%") == {"a-1"}
    assert await names(world.a, "__userTag__!=owner::shared") == {"a-2"}


async def test_tag_jobs_follow_the_job_uuid_rules(world: World) -> None:
    inv = await world.a.add_model_service(param(name="a-1"))
    job = "7" * 32
    tag = await world.a.create_user_tag(inv.uuid, "once", job_uuid=job)
    with pytest.raises(DuplicateJobError) as reused:
        await world.a.create_user_tag(inv.uuid, "twice", job_uuid=job)
    assert reused.value.job_uuid == job
    assert [t.tag for t in await world.a.query_user_tags(inv.uuid)] == ["once"]
    if world.sim.config.mode is SimMode.ASYNC:
        await world.sim.admin.set_faults(hold_jobs=True)
        with pytest.raises(JobTimeoutError):
            await world.a.delete_tag(tag.uuid, wait=0)
        assert [t.tag for t in await world.a.query_user_tags(inv.uuid)] == ["once"]
        await world.sim.admin.release_jobs()
        await asyncio.sleep(0.05)
        assert await world.a.query_user_tags(inv.uuid) == []


async def test_the_same_tag_racing_itself_is_stored_once(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN) as admin:
        inv = await admin.add_model_service(param(name="raced"))
        await sim.admin.set_faults(hold_jobs=True)
        # Both pass the pipeline while neither is stored; the job finishing second refuses.
        racing = [asyncio.create_task(admin.create_user_tag(inv.uuid, "k::v")) for _ in range(2)]
        for _ in range(500):  # "running" until the 20 ms job duration is up, then "held"
            if len([j for j in await sim.admin.jobs() if j.state == "held"]) == 2:
                break
            await asyncio.sleep(0.01)
        await sim.admin.release_jobs()
        results = await asyncio.gather(*racing, return_exceptions=True)
        failures = [r for r in results if isinstance(r, ZStackAPIError)]
        assert len(failures) == 1
        assert failures[0].code == "SYS.1006"
        assert [t.tag for t in await admin.query_user_tags(inv.uuid)] == ["k::v"]


async def test_get_version_needs_no_login(sim_factory: SimFactory) -> None:
    sim = await sim_factory(zstack_version="5.3.20")
    wrong = AccountCredentials(account_name="nobody", password="wrong")
    async with ZStackClient(sim.url, wrong) as client:
        assert await client.get_version() == "5.3.20"
    counters = await sim.admin.counters()
    assert counters.count("GetVersion", "200") == 1
    assert counters.logins == 0
    assert counters.count("LogInByAccount") == 0


async def test_current_account_for_every_kind_of_credential(sim: Simulator) -> None:
    team_a = await sim.admin.create_account("team-a", TENANT_PASSWORD)
    await sim.admin.create_account("team-b", TENANT_PASSWORD)
    key_a = await sim.admin.create_access_key("team-a")
    admin_key = await sim.admin.create_access_key()
    cases = {
        "team-a password": (tenant("team-a"), team_a.uuid, "team-a", "Normal"),
        "team-a key": (_key(key_a), team_a.uuid, "team-a", "Normal"),
        "admin password": (ADMIN, ADMIN_ACCOUNT_UUID, "admin", "SystemAdmin"),
        "admin key": (_key(admin_key), ADMIN_ACCOUNT_UUID, "admin", "SystemAdmin"),
    }
    for case, (credentials, uuid, name, kind) in cases.items():
        async with ZStackClient(sim.url, credentials, time_zone=sim.config.time_zone) as client:
            account = await client.current_account()
        assert (account.uuid, account.name, account.type) == (uuid, name, kind), case
    assert zmodels.ADMIN_ACCOUNT_UUID == ADMIN_ACCOUNT_UUID
    counters = await sim.admin.counters()
    assert counters.count("QueryAccount", "200") == 4
    assert counters.logins == 2


async def test_an_access_key_of_a_normal_account_is_that_account(sim: Simulator) -> None:
    await sim.admin.create_account("team-a", TENANT_PASSWORD)
    key = await sim.admin.create_access_key("team-a")
    zone = sim.config.time_zone
    async with (
        ZStackClient(sim.url, _key(key), time_zone=zone) as by_key,
        ZStackClient(sim.url, ADMIN, time_zone=zone) as admin,
    ):
        inv = await by_key.add_model_service(param(name="signed"))
        other = await admin.add_model_service(param(name="admins"))
        assert {i.uuid for i in await by_key.query_all()} == {inv.uuid}
        with pytest.raises(ZStackAPIError) as caught:
            await by_key.delete_model_service(other.uuid)
        assert caught.value.code == "ID.1002"
        assert await admin.get_model_service(other.uuid) is not None
    [mine] = [s for s in await sim.admin.services() if s.uuid == inv.uuid]
    assert mine.owner_account_uuid != ADMIN_ACCOUNT_UUID


def _key(key: AccessKey) -> AccessKeyCredentials:
    return AccessKeyCredentials(
        access_key_id=key.access_key_id, access_key_secret=key.access_key_secret
    )
