"""The simulator's AI lifecycle APIs over raw HTTP: envelopes, pipeline errors, counters,
faults and persistence of model centers, models and deployments.

Plain httpx against in-process simulators, so these checks do not depend on the client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from zstack_operator.sim import (
    DEFAULT_MODEL_CENTER_UUID,
    DEFAULT_MODEL_UUIDS,
    DEFAULT_ZONE_UUID,
    Simulator,
    running_simulator,
)

from tests.support.sim_fixtures import FAST, SimFactory, api_url, call, login

RESOURCE_UUID = "1" * 12 + "4" + "1" * 3 + "8" + "1" * 15
GROUPS = "/ai/model-services/instances/groups/"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


def auth(session: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {session}"}


def model_param(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "llama",
        "installPath": "/models/llama",
        "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID,
        **overrides,
    }


def service_param(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "svc",
        "yaml": "y",
        "requestCpu": 1,
        "requestMemory": 1,
        "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID,
        "installPath": "/p",
        "startCommand": "s",
        **overrides,
    }


async def add_service(http: httpx.AsyncClient, sim: Simulator, headers: dict[str, str]) -> str:
    done = await call(
        http, "POST", api_url(sim.url, "/ai/model-services"), headers=headers,
        json={"param": service_param()},
    )  # fmt: skip
    assert done.status_code == 200, done.text
    uuid: str = done.json()["inventory"]["uuid"]
    return uuid


async def deploy(
    http: httpx.AsyncClient, sim: Simulator, headers: dict[str, str], service: str, **extra: Any
) -> httpx.Response:
    body = {"name": "dep", "zoneUuid": DEFAULT_ZONE_UUID, "type": "Container", **extra}
    return await call(
        http, "PUT", api_url(sim.url, f"/ai/model-services/{service}"), headers=headers,
        json={"deployModelService": body},
    )  # fmt: skip


async def test_add_model_honours_resource_uuid_and_refuses_it_twice(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    headers = auth(await login(http, sim.url))
    url = api_url(sim.url, "/ai/models")
    body = {"param": model_param(resourceUuid=RESOURCE_UUID, size=3), "userTags": ["team::a"]}
    done = await call(http, "POST", url, headers=headers, json=body)
    assert done.status_code == 200, done.text
    inv = done.json()["inventory"]
    assert (inv["uuid"], inv["size"], inv["modelServiceRefs"]) == (RESOURCE_UUID, 3, [])
    again = await call(http, "POST", url, headers=headers, json=body)
    assert again.status_code == 503
    assert again.json()["error"]["code"] == "SYS.1000"
    assert again.json()["error"]["details"] == (
        f"resource[uuid:{RESOURCE_UUID}, type:ModelVO] already exists"
    )
    tagged = await http.get(url, headers=headers, params={"q": "__userTag__=team::a"})
    assert [m["uuid"] for m in tagged.json()["inventories"]] == [RESOURCE_UUID]
    counters = await sim.admin.counters()
    assert counters.created[RESOURCE_UUID] == 1
    assert counters.create_requests[RESOURCE_UUID] == 2
    assert counters.count("AddModel", "202") == 2


@pytest.mark.parametrize(
    ("param", "code", "details"),
    [
        (
            {"name": "m", "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID},
            "SYS.1007",
            "field[installPath] of message[org.zstack.header.message.ApiMessageParamValidator] "
            "is mandatory, can not be null",
        ),
        (
            model_param(modelCenterUuid="c" * 32),
            "SYS.1003",
            f"invalid field[modelCenterUuid], resource[uuid:{'c' * 32}, type:ModelCenterVO] "
            "not found",
        ),
        (
            model_param(modelServiceUuids=["d" * 32]),
            "SYS.1003",
            f"invalid field[modelServiceUuids], resource[uuid:{'d' * 32}, type:ModelServiceVO] "
            "not found",
        ),
    ],
)
async def test_add_model_validates_as_the_sdk_says(
    sim: Simulator, http: httpx.AsyncClient, param: dict[str, Any], code: str, details: str
) -> None:
    headers = auth(await login(http, sim.url))
    done = await call(
        http, "POST", api_url(sim.url, "/ai/models"), headers=headers, json={"param": param}
    )
    assert done.status_code == 503
    assert (done.json()["error"]["code"], done.json()["error"]["details"]) == (code, details)


async def test_update_model_changes_only_what_its_api_allows(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    headers = auth(await login(http, sim.url))
    url = api_url(sim.url, f"/ai/models/{DEFAULT_MODEL_UUIDS[0]}")
    body = {"updateModel": {"name": " renamed ", "vendor": "ignored"}}
    done = await call(http, "PUT", url, headers=headers, json=body)
    assert done.status_code == 200, done.text
    assert done.json()["inventory"]["name"] == "renamed"
    assert "vendor" not in done.json()["inventory"]
    too_long = await call(
        http, "PUT", url, headers=headers, json={"updateModel": {"description": "x" * 256}}
    )
    assert too_long.json()["error"]["code"] == "SYS.1007"


async def test_model_centers_are_the_admins_to_change_and_everyones_to_see(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(tenants=(("team-a", "pw"),))
    admin, tenant = (
        auth(await login(http, sim.url)),
        auth(await login(http, sim.url, "team-a", "pw")),
    )
    url = api_url(sim.url, "/ai/model-centers")
    param = {"name": "c2", "url": "http://mc", "managementIp": "10.0.0.1", "managementPort": 80}
    refused = await call(http, "POST", url, headers=tenant, json={"param": param})
    assert refused.json()["error"]["code"] == "ID.1002"
    assert "APIAddModelCenterMsg" in refused.json()["error"]["details"]
    done = await call(http, "POST", url, headers=admin, json={"param": param})
    assert done.status_code == 200, done.text
    center = done.json()["inventory"]
    assert (center["status"], center["managementPort"]) == ("Connected", 80)
    seen = await http.get(url, headers=tenant, params={"q": f"uuid={center['uuid']}"})
    assert [c["name"] for c in seen.json()["inventories"]] == ["c2"]
    # A model in it goes with it (ModelVO's foreign key cascades).
    model = await call(
        http, "POST", api_url(sim.url, "/ai/models"), headers=admin,
        json={"param": model_param(modelCenterUuid=center["uuid"])},
    )  # fmt: skip
    gone = await call(http, "DELETE", f"{url}/{center['uuid']}", headers=admin)
    assert gone.status_code == 200
    left = await http.get(
        api_url(sim.url, "/ai/models"), headers=admin,
        params={"q": f"uuid={model.json()['inventory']['uuid']}"},
    )  # fmt: skip
    assert left.json()["inventories"] == []


async def test_the_shared_put_is_routed_by_body_key(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    headers = auth(await login(http, sim.url))
    service = await add_service(http, sim, headers)
    url = api_url(sim.url, f"/ai/model-services/{service}")
    neither = await http.put(url, headers=headers, json={"somethingElse": {}})
    assert neither.status_code == 400
    assert (
        neither.text
        == f"the body doesn't contain action mapping to the URL[/v1/ai/model-services/{service}]"
    )
    deployed = await deploy(http, sim, headers, service)
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["inventory"]["modelServiceUuid"] == service
    counters = await sim.admin.counters()
    assert counters.count("DeployModelService", "202") == 1
    assert counters.count("UpdateModelService") == 1  # the 400
    assert counters.created[deployed.json()["inventory"]["uuid"]] == 1


async def test_the_group_query_path_needs_its_trailing_slash(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    headers = auth(await login(http, sim.url))
    without = await http.get(api_url(sim.url, GROUPS.rstrip("/")), headers=headers)
    assert (without.status_code, without.text) == (
        404,
        "no api mapping to /v1/ai/model-services/instances/groups",
    )
    with_slash = await http.get(api_url(sim.url, GROUPS), headers=headers)
    assert with_slash.json() == {"inventories": [], "schema": {}}


async def test_deploy_checks_its_references_and_type(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    headers = auth(await login(http, sim.url))
    service = await add_service(http, sim, headers)
    bad_type = await deploy(http, sim, headers, service, type="Pod")
    assert bad_type.json()["error"]["code"] == "SYS.1007"
    assert "[VirtualMachine, Container, BareMetal2]" in bad_type.json()["error"]["details"]
    no_zone = await deploy(http, sim, headers, service, zoneUuid="e" * 32)
    assert no_zone.json()["error"]["details"].startswith("invalid field[zoneUuid]")
    no_model = await deploy(http, sim, headers, service, modelUuid="e" * 32)
    assert "type:ModelVO] not found" in no_model.json()["error"]["details"]
    no_service = await deploy(http, sim, headers, "e" * 32)
    assert "type:ModelServiceVO] not found" in no_service.json()["error"]["details"]


async def test_deleting_a_deployed_service_needs_enforcing(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    headers = auth(await login(http, sim.url))
    service = await add_service(http, sim, headers)
    group = (await deploy(http, sim, headers, service)).json()["inventory"]["uuid"]
    url = api_url(sim.url, f"/ai/model-services/{service}")
    refused = await call(http, "DELETE", url, headers=headers)
    assert refused.json()["error"]["code"] == "SYS.1006"
    assert group in refused.json()["error"]["details"]
    done = await call(http, "DELETE", url, headers=headers, params={"deleteMode": "Enforcing"})
    assert done.status_code == 200
    left = await http.get(api_url(sim.url, GROUPS), headers=headers, params={"q": f"uuid={group}"})
    (inv,) = left.json()["inventories"]
    assert "modelServiceUuid" not in inv  # ON DELETE SET NULL


async def test_faults_and_counters_cover_the_ai_apis(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    headers = auth(await login(http, sim.url))
    await sim.admin.set_faults(error_rate=1.0)
    failed = await http.get(api_url(sim.url, "/ai/models"), headers=headers)
    assert failed.status_code == 503
    await sim.admin.set_faults(error_rate=0.0)
    assert (
        await http.get(api_url(sim.url, "/ai/model-centers"), headers=headers)
    ).status_code == 200
    counters = await sim.admin.counters()
    assert counters.count("QueryModel", "503") == 1
    assert counters.count("QueryModelCenter", "200") == 1


async def test_a_restarted_simulator_keeps_models_and_groups(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    config = dataclasses.replace(FAST, state_file=tmp_path / "sim.sqlite", deploy_duration_ms=0)
    async with running_simulator(config) as sim:
        headers = auth(await login(http, sim.url))
        model = await call(
            http, "POST", api_url(sim.url, "/ai/models"), headers=headers,
            json={"param": model_param()},
        )  # fmt: skip
        service = await add_service(http, sim, headers)
        group = (await deploy(http, sim, headers, service)).json()["inventory"]
        first_url = group["instances"][0]["url"]
    async with running_simulator(config) as again:
        headers = auth(await login(http, again.url))
        models = await http.get(
            api_url(again.url, "/ai/models"), headers=headers,
            params={"q": f"uuid={model.json()['inventory']['uuid']}"},
        )  # fmt: skip
        assert [m["name"] for m in models.json()["inventories"]] == ["llama"]
        groups = await http.get(api_url(again.url, GROUPS), headers=headers)
        (inv,) = groups.json()["inventories"]
        assert (inv["uuid"], inv["status"]) == (group["uuid"], "Running")
        url = inv["instances"][0]["url"]
        assert url.startswith(again.url)  # the port it listens on now
        assert url.removeprefix(again.url) == first_url.removeprefix(sim.url)
        answer = await http.get(url)
        assert answer.status_code == 200
        assert answer.json()["groupUuid"] == group["uuid"]
