"""The simulator's accounts, tags and GetVersion over raw HTTP (not the operator's client).

CreateAccount/QueryAccount and their refusals, login as a normal account, the ``--tenant`` and
``--zstack-version`` options (in-process and as ``zstack-operator sim``), persistence of
accounts, owners and tags across a restart, the REST-layer and pipeline refusals of
CreateUserTag, and the ``__userTag__`` operators.
"""

from __future__ import annotations

import argparse
import hashlib
import uuid as uuidlib
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import Any

import httpx
import pytest
from zstack_operator.sim import ADMIN_ACCOUNT_UUID, DEFAULT_MODEL_CENTER_UUID, Simulator
from zstack_operator.sim.auth import sign
from zstack_operator.sim.cli import config_from_args, register

from tests.support.sim_fixtures import SimFactory, SimProcessFactory, api_url, call, login

MSG_CREATE_ACCOUNT = "org.zstack.header.identity.APICreateAccountMsg"
VALIDATOR = "org.zstack.header.message.ApiMessageParamValidator"


def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def service_param(name: str = "svc") -> dict[str, Any]:
    return {
        "name": name,
        "yaml": "services: []",
        "requestCpu": 1,
        "requestMemory": 1024,
        "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID,
        "installPath": "/opt/svc",
        "startCommand": "serve",
    }


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


def oauth(session: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {session}"}


def error_of(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


async def create_account(
    http: httpx.AsyncClient, base: str, session: str, **params: Any
) -> httpx.Response:
    url = api_url(base, "/accounts")
    return await call(http, "POST", url, json={"params": params}, headers=oauth(session))


async def test_create_account_then_log_in_with_it(sim: Simulator, http: httpx.AsyncClient) -> None:
    admin = await login(http, sim.url)
    done = await create_account(
        http, sim.url, admin, name="team-a", password=sha512("pw-a"), description="the A team"
    )
    assert done.status_code == 200, done.text
    inventory = done.json()["inventory"]
    assert inventory["name"] == "team-a"
    assert inventory["type"] == "Normal"
    assert inventory["description"] == "the A team"
    assert "password" not in inventory
    assert sha512("pw-a") not in done.text

    session = await login(http, sim.url, "team-a", "pw-a")
    valid = await http.get(api_url(sim.url, f"/accounts/sessions/{session}/valid"))
    assert valid.json() == {"valid": True}
    assert sim.context.state.sessions[session].account_uuid == inventory["uuid"]
    wrong = {"logInByAccount": {"accountName": "team-a", "password": sha512("pw-b")}}
    refused = await http.put(api_url(sim.url, "/accounts/login"), json=wrong)
    assert error_of(refused, "ID.1000")["details"] == "wrong account name or password"
    counters = await sim.admin.counters()
    assert counters.count("CreateAccount", "202") == 1
    assert counters.logins == 2


async def test_create_account_is_admin_only_and_names_are_unique(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    admin = await login(http, sim.url)
    assert (await create_account(http, sim.url, admin, name="a", password="x")).status_code == 200
    await sim.admin.create_account("team-b", "pw-b")
    normal = await login(http, sim.url, "team-b", "pw-b")

    refused = await create_account(http, sim.url, normal, name="c", password=sha512("c"))
    assert error_of(refused, "ID.1002")["details"] == (
        f"request api[name: {MSG_CREATE_ACCOUNT}] is admin only, can not be executed by "
        "current user"
    )
    for name in ("a", "admin", "team-b"):
        taken = await create_account(http, sim.url, admin, name=name, password=sha512("y"))
        assert error_of(taken, "SYS.1007")["details"] == (
            f"unable to create an account. An account already called {name}"
        )
    missing = await create_account(http, sim.url, admin, name="d")
    assert error_of(missing, "SYS.1007")["details"] == (
        f"field[password] of message[{VALIDATOR}] is mandatory, can not be null"
    )
    bad_type = await create_account(http, sim.url, admin, name="e", password="p", type="Root")
    assert "valid value for field[type]" in error_of(bad_type, "SYS.1007")["details"]
    long_name = await create_account(http, sim.url, admin, name="n" * 256, password="p")
    assert (
        "exceeds max length of string. expected was <= 255, actual was 256"
        in (error_of(long_name, "SYS.1007")["details"])
    )
    names = [a.name for a in await sim.admin.accounts()]
    assert names == ["admin", "a", "team-b"]


async def test_query_account_shows_a_normal_account_only_itself(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    team_a = await sim.admin.create_account("team-a", "pw-a")
    team_b = await sim.admin.create_account("team-b", "pw-b")
    admin = await login(http, sim.url)
    normal = await login(http, sim.url, "team-a", "pw-a")
    url = api_url(sim.url, "/accounts")

    everyone = (await http.get(url, headers=oauth(admin))).json()["inventories"]
    assert [a["uuid"] for a in everyone] == [ADMIN_ACCOUNT_UUID, team_a.uuid, team_b.uuid]
    assert everyone[0]["type"] == "SystemAdmin"
    assert all("password" not in a for a in everyone)
    itself = (await http.get(url, headers=oauth(normal))).json()
    assert [a["name"] for a in itself["inventories"]] == ["team-a"]
    assert itself["schema"] == {"inventories[0]": "org.zstack.header.identity.AccountInventory"}
    other = await http.get(f"{url}/{team_b.uuid}", headers=oauth(normal))
    assert other.json() == {"inventories": [], "schema": {}}
    by_name = await http.get(url, params={"q": "name=team-b"}, headers=oauth(admin))
    assert [a["uuid"] for a in by_name.json()["inventories"]] == [team_b.uuid]
    assert (await sim.admin.counters()).count("QueryAccount", "200") == 4


async def test_get_version_needs_no_credential(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    default = await sim_factory()
    url = api_url(default.url, "/management-nodes/actions")
    answer = await http.put(url, json={"getVersion": {}})
    assert (answer.status_code, answer.json()) == (200, {"version": "5.5.22"})
    other_key = await http.put(url, json={"getCurrentTime": {}})
    assert other_key.status_code == 400
    assert other_key.text.startswith("the body doesn't contain action mapping")
    assert (await default.admin.counters()).requests["GetVersion"] == {"200": 1, "400": 1}

    older = await sim_factory(zstack_version="5.1.20")
    again = await http.put(api_url(older.url, "/management-nodes/actions"), json={"getVersion": {}})
    assert again.json() == {"version": "5.1.20"}


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["sim", *argv])


def test_tenant_and_version_options_reach_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    config = config_from_args(
        _parse("--tenant", "team-a:pw:with:colons", "--tenant", "b:x", "--zstack-version", "5.3.20")
    )
    assert config.tenants == (("team-a", "pw:with:colons"), ("b", "x"))
    assert config.zstack_version == "5.3.20"
    assert "pw:with" not in repr(config)
    with pytest.raises(SystemExit):
        _parse("--tenant", "no-password-secret")
    assert "no-password-secret" not in capsys.readouterr().err


async def test_tenants_exist_from_the_start_and_after_a_reset(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(tenants=(("team-a", "pw-a"),))
    await login(http, sim.url, "team-a", "pw-a")
    await sim.admin.create_account("team-b", "pw-b")
    await sim.admin.reset()
    assert [a.name for a in await sim.admin.accounts()] == ["admin", "team-a"]
    await login(http, sim.url, "team-a", "pw-a")


async def test_accounts_owners_and_tags_survive_a_restart(
    sim_process_factory: SimProcessFactory, http: httpx.AsyncClient
) -> None:
    # A node in UTC, so that the GMT Date below is its local time too.
    proc = await sim_process_factory(
        "--job-duration-ms", "5", "--tenant", "team-a:pw-a", "--time-zone", "UTC"
    )
    await proc.admin.create_account("team-b", "pw-b")
    # Uuids sorting against creation order: the reloaded list must still be creation order.
    admin = await login(http, proc.url)
    late = "f" * 12 + "4" + "f" * 3 + "8" + "f" * 15
    early = "1" * 12 + "4" + "1" * 3 + "8" + "1" * 15
    for name, uuid in (("team-y", late), ("team-z", early)):
        done = await create_account(
            http, proc.url, admin, name=name, password="p", resourceUuid=uuid
        )
        assert done.json()["inventory"]["uuid"] == uuid, done.text
    key = await proc.admin.create_access_key("team-b")
    session = await login(http, proc.url, "team-a", "pw-a")
    body = {"param": service_param("mine"), "userTags": ["owner::ns-a"]}
    created = await call(
        http, "POST", api_url(proc.url, "/ai/model-services"), json=body, headers=oauth(session)
    )
    assert created.status_code == 200, created.text
    uuid = created.json()["inventory"]["uuid"]
    accounts_before = await proc.admin.accounts()

    await proc.kill()
    await proc.start()

    assert await proc.admin.accounts() == accounts_before
    [service] = await proc.admin.services()
    assert (service.uuid, service.owner_account_uuid) == (uuid, accounts_before[1].uuid)
    again = await login(http, proc.url, "team-b", "pw-b")
    tags_url = api_url(proc.url, "/user-tags")
    assert (await http.get(tags_url, headers=oauth(again))).json() == {
        "inventories": [],
        "schema": {},
    }
    # The session of team-a survived too, and still sees its service's tag.
    mine = (await http.get(tags_url, headers=oauth(session))).json()["inventories"]
    assert [(t["resourceUuid"], t["tag"]) for t in mine] == [(uuid, "owner::ns-a")]
    # So did the AccessKey, still acting as team-b.
    date = formatdate(usegmt=True)
    signature = sign(key.access_key_secret, f"GET\n{date}\n/v1/accounts")
    signed = {"Authorization": f"ZStack {key.access_key_id}:{signature}", "Date": date}
    itself = (await http.get(api_url(proc.url, "/accounts"), headers=signed)).json()
    assert [a["name"] for a in itself["inventories"]] == ["team-b"]


async def test_create_user_tag_refusals(sim: Simulator, http: httpx.AsyncClient) -> None:
    admin = await login(http, sim.url)
    service = await call(
        http,
        "POST",
        api_url(sim.url, "/ai/model-services"),
        json={"param": service_param()},
        headers=oauth(admin),
    )
    uuid = service.json()["inventory"]["uuid"]
    url = api_url(sim.url, "/user-tags")

    async def tag(**params: Any) -> httpx.Response:
        return await call(http, "POST", url, json={"params": params}, headers=oauth(admin))

    unknown = uuidlib.uuid4().hex
    gone = await tag(resourceType="ModelServiceVO", resourceUuid=unknown, tag="x")
    assert error_of(gone, "SYS.1003")["details"] == (
        f"invalid field[resourceUuid], resource[uuid:{unknown}, type:ResourceVO] not found"
    )
    odd_type = await tag(resourceType="VmInstanceVO", resourceUuid=uuid, tag="x")
    assert error_of(odd_type, "SYS.1007")["details"] == (
        "no resource type[VmInstanceVO] found in tag system"
    )
    blank = await tag(resourceType="ModelServiceVO", resourceUuid=uuid, tag="   ")
    assert error_of(blank, "SYS.1007")["details"] == "field[tag] cannot be an empty string"
    missing = await tag(resourceType="ModelServiceVO", resourceUuid=uuid)
    assert (
        f"field[tag] of message[{VALIDATOR}] is mandatory"
        in (error_of(missing, "SYS.1007")["details"])
    )
    not_text = await http.post(
        url, json={"params": {"tag": ["x"]}}, headers=oauth(admin)
    )  # a list where a String belongs: Gson throws, the REST layer answers 500
    assert not_text.status_code == 500
    trimmed = await tag(resourceType="ModelServiceVO", resourceUuid=uuid, tag="  k::v  ")
    assert trimmed.json()["inventory"]["tag"] == "k::v"
    # The same text under another resourceType is no duplicate: nothing checks the type.
    as_zone = await tag(resourceType="ZoneVO", resourceUuid=uuid, tag="k::v")
    assert as_zone.status_code == 200, as_zone.text
    assert len(sim.context.state.tags) == 2


async def test_user_tag_query_operators(sim: Simulator, http: httpx.AsyncClient) -> None:
    admin = await login(http, sim.url)
    services = api_url(sim.url, "/ai/model-services")
    uuids = {}
    for name, tags in (("a", ["owner::ns-a", "x"]), ("b", ["owner::ns-b"]), ("none", [])):
        body = {"param": service_param(name), "userTags": tags}
        done = await call(http, "POST", services, json=body, headers=oauth(admin))
        uuids[name] = done.json()["inventory"]["uuid"]

    async def names(*conditions: str) -> list[str]:
        params = [("q", c) for c in conditions]
        reply = await http.get(services, params=params, headers=oauth(admin))
        assert reply.status_code == 200, reply.text
        return [i["name"] for i in reply.json()["inventories"]]

    assert await names("__userTag__=owner::ns-a") == ["a"]
    assert await names("__userTag__~=owner::%") == ["a", "b"]
    assert await names("__userTag__!=owner::ns-a") == ["b", "none"]  # "has no such tag"
    assert await names("__userTag__!~=owner::%") == ["none"]
    assert await names("__userTag__?=owner::ns-b,x") == ["a", "b"]
    assert await names("__userTag__ not null") == ["a", "b"]
    assert await names("__userTag__ is null") == ["none"]
    assert await names("__userTag__=owner::ns-a", "name=b") == []
    assert await names("__userTag__=k8s-ns=team-a") == []  # split at the first "="
    tags = api_url(sim.url, "/user-tags")
    by_text = await http.get(tags, params={"q": "tag~=owner::%"}, headers=oauth(admin))
    assert sorted(t["tag"] for t in by_text.json()["inventories"]) == ["owner::ns-a", "owner::ns-b"]
    by_type = await http.get(tags, params={"q": "resourceType=ZoneVO"}, headers=oauth(admin))
    assert by_type.json()["inventories"] == []
    bad = await http.get(tags, params={"q": "colour=red"}, headers=oauth(admin))
    assert "class[org.zstack.header.tag.UserTagInventory]" in error_of(bad, "SYS.1007")["details"]
    exact = await http.get(tags, params={"q": "tag=owner::ns-b"}, headers=oauth(admin))
    [tag_b] = exact.json()["inventories"]
    assert tag_b["resourceUuid"] == uuids["b"]
    assert exact.json()["schema"] == {"inventories[0]": "org.zstack.header.tag.UserTagInventory"}
    # GET /user-tags/{uuid}: the owner (here the admin) sees it, another account does not.
    one = await http.get(f"{tags}/{tag_b['uuid']}", headers=oauth(admin))
    assert one.json()["inventories"] == [tag_b]
    await sim.admin.create_account("team-a", "pw-a")
    normal = await login(http, sim.url, "team-a", "pw-a")
    hidden = await http.get(f"{tags}/{tag_b['uuid']}", headers=oauth(normal))
    assert hidden.json() == {"inventories": [], "schema": {}}
    assert (await http.get(services, headers=oauth(normal))).json() == {
        "inventories": [],
        "schema": {},
    }
