"""The simulator's ZStack API over real HTTP, spoken raw with httpx (not the operator's client).

Covers the seed page's curl example, every error shape (REST-layer plain text vs 503
ErrorCodes, directly or through jobs), the job protocol, sessions and access keys, queries and
the synchronous mode.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid as uuidlib
from collections.abc import AsyncIterator
from datetime import datetime
from email.utils import formatdate
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from zstack_operator.sim import (
    DEFAULT_MODEL_CENTER_UUID,
    DEFAULT_MODEL_UUIDS,
    DEFAULT_ZONE_UUID,
    SimMode,
    Simulator,
)
from zstack_operator.sim.auth import sign
from zstack_operator.zstack.models import ModelServiceInventory

from tests.support.sim_fixtures import SimFactory, api_url, call, login, wait_job

#: ``ApiMessageParamValidator`` names itself where the message class would be expected.
VALIDATOR = "org.zstack.header.message.ApiMessageParamValidator"
#: The request body of the seed page's curl example, verbatim.
SEED_BODY = (
    '{"param":{"name":"<name>","description":"<description>","yaml":"<yaml>","requestCpu":1,'
    '"requestMemory":1,"zoneUuid":"<zoneUuid>","modelCenterUuid":"<modelCenterUuid>",'
    '"gpuComputeCapability":"<gpuComputeCapability>","installPath":"<installPath>","system":true,'
    '"startCommand":"<startCommand>","pythonVersion":"<pythonVersion>",'
    '"condaVersion":"<condaVersion>","type":"<type>","framework":"<framework>",'
    '"resourceUuid":"<resourceUuid>","tagUuids":["<tagUuids>"],"source":"<source>",'
    '"modelUuids":["<modelUuids>"],"architectureImages":["<architectureImages>"],'
    '"supportDistributed":true,"containerCommand":"<containerCommand>",'
    '"containerArgs":"<containerArgs>","vendorToSpecUuidsMap":{}},'
    '"systemTags":["<systemTags>"],"userTags":["<userTags>"]}'
)


def new_uuid() -> str:
    return uuidlib.uuid4().hex


def service_param(**overrides: Any) -> dict[str, Any]:
    param = {
        "name": "svc",
        "yaml": "services: []",
        "requestCpu": 2,
        "requestMemory": 2048,
        "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID,
        "installPath": "/opt/svc",
        "startCommand": "python serve.py",
    }
    param.update(overrides)
    return {k: v for k, v in param.items() if v is not None}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
async def auth(sim: Simulator, http: httpx.AsyncClient) -> dict[str, str]:
    return {"Authorization": f"OAuth {await login(http, sim.url)}"}


async def create(
    http: httpx.AsyncClient, sim: Simulator, auth: dict[str, str], **param: Any
) -> httpx.Response:
    url = api_url(sim.url, "/ai/model-services")
    return await call(http, "POST", url, json={"param": service_param(**param)}, headers=auth)


def error_of(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


async def run_curl(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-w", "\n%{http_code}", *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    body, _, status = out.decode().rpartition("\n")
    return int(status), body


async def post_seed_body(
    sim: Simulator, http: httpx.AsyncClient, session: str, body: str
) -> tuple[int, str]:
    """POST the body the way the seed page's curl example does (with curl when installed)."""
    url = api_url(sim.url, "/ai/model-services")
    headers = {
        "Authorization": f"OAuth {session}",
        "Content-Type": "application/json;charset=UTF-8",
    }
    if shutil.which("curl"):
        flags = [arg for k, v in headers.items() for arg in ("-H", f"{k}: {v}")]
        return await run_curl("-X", "POST", url, *flags, "-d", body)
    response = await http.post(url, content=body.encode(), headers=headers)
    return response.status_code, response.text


async def test_the_seed_curl_example_creates_a_service(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    session = await login(http, sim.url)
    resource_uuid, tag = new_uuid(), await sim.admin.create_tag_pattern()
    image = {"cpuArchitecture": "X86_64", "dockerImage": "registry/llm:1"}
    values = {
        "<name>": "text to text model service",
        "<description>": "  chat  ",
        "<yaml>": "services:\n",
        "<zoneUuid>": DEFAULT_ZONE_UUID,
        "<modelCenterUuid>": DEFAULT_MODEL_CENTER_UUID,
        "<gpuComputeCapability>": "8.0",
        "<installPath>": "/opt/llm",
        "<startCommand>": "serve",
        "<pythonVersion>": "3.10",
        "<condaVersion>": "24.1",
        "<type>": "Endpoint",
        "<framework>": "vLLM",
        "<resourceUuid>": resource_uuid,
        "<tagUuids>": tag,
        "<source>": "HuggingFace",
        "<modelUuids>": DEFAULT_MODEL_UUIDS[0],
        "<containerCommand>": "python",
        "<containerArgs>": "-m serve",
        "<systemTags>": "a::b",
        "<userTags>": "team",
    }
    body = SEED_BODY.replace('"<architectureImages>"', json.dumps(image))
    for placeholder, value in values.items():
        body = body.replace(placeholder, value.replace("\n", "\\n"))

    status, text = await post_seed_body(sim, http, session, body)
    assert status == 202, text
    reply = json.loads(text)
    assert reply["apiTimeout"] > 0
    done = await wait_job(http, reply["location"])
    assert done.status_code == 200, done.text
    inventory = done.json()["inventory"]
    assert inventory["uuid"] == resource_uuid
    assert inventory["name"] == "text to text model service"
    assert inventory["description"] == "chat"  # trimmed at both ends, like ZStack
    assert inventory["yaml"] == "services:"
    assert (inventory["requestCpu"], inventory["requestMemory"]) == (1, 1)
    assert (inventory["system"], inventory["supportDistributed"]) == (True, True)
    assert (inventory["type"], inventory["framework"], inventory["source"]) == (
        "Endpoint",
        "vLLM",
        "HuggingFace",
    )
    assert inventory["version"] == "1"
    assert inventory["cpuArchitectures"] == ["X86_64"]
    assert inventory["modelServiceImages"][0]["dockerImage"] == "registry/llm:1"
    assert [r["modelUuid"] for r in inventory["modelServiceRefs"]] == [DEFAULT_MODEL_UUIDS[0]]
    assert inventory["vendorToSpecUuidsMap"] == {}
    assert "zoneUuid" not in inventory
    assert "tagUuids" not in inventory
    assert ModelServiceInventory.model_validate(inventory).uuid == resource_uuid


async def test_the_verbatim_seed_placeholders_are_refused(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    # A string where an architecture image object belongs: Gson throws, the REST layer 500s.
    session = await login(http, sim.url)
    status, text = await post_seed_body(sim, http, session, SEED_BODY)
    assert status == 500
    assert "architectureImages[0]" in text


async def test_login(sim: Simulator, http: httpx.AsyncClient) -> None:
    url = api_url(sim.url, "/accounts/login")
    wrong = await http.put(
        url, json={"logInByAccount": {"accountName": "admin", "password": "password"}}
    )
    assert error_of(wrong, "ID.1000")["description"] == "Unable to authenticate a user"
    missing = await http.put(url, json={})
    details = error_of(missing, "SYS.1007")["details"]
    assert details == (f"field[accountName] of message[{VALIDATOR}] is mandatory, can not be null")
    session = await login(http, sim.url)
    valid = await http.get(api_url(sim.url, f"/accounts/sessions/{session}/valid"))
    assert valid.json() == {"valid": True}
    assert (await sim.admin.counters()).logins == 1


@pytest.mark.parametrize(
    ("headers", "text"),
    [
        ({}, "missing header 'Authorization'"),
        ({"Authorization": "Basic YWRtaW4="}, "Authorization type must be 'OAuth' or 'ZStack'"),
    ],
)
async def test_authorization_header_problems_are_plain_400(
    sim: Simulator, http: httpx.AsyncClient, headers: dict[str, str], text: str
) -> None:
    for method, path in (("GET", "/ai/model-services"), ("POST", "/ai/model-services")):
        response = await http.request(method, api_url(sim.url, path), json={}, headers=headers)
        assert (response.status_code, response.text) == (400, text)
        assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "field",
    [
        "name",
        "yaml",
        "modelCenterUuid",
        "requestCpu",
        "requestMemory",
        "installPath",
        "startCommand",
    ],
)
async def test_a_missing_required_field_fails_the_job_with_sys_1007(
    sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str], field: str
) -> None:
    response = await create(http, sim, auth, **{field: None})
    error = error_of(response, "SYS.1007")
    assert error["description"] == "One or more API argument is invalid"
    assert (
        error["details"] == f"field[{field}] of message[{VALIDATOR}] is mandatory, can not be null"
    )


@pytest.mark.parametrize(
    ("param", "code", "details"),
    [
        ({"type": "Batch"}, "SYS.1007", "valid value for field[type] of message"),
        (
            {"architectureImages": [{"cpuArchitecture": "x86"}]},
            "SYS.1007",
            "valid value for field[architectureImages[0].cpuArchitecture]",
        ),
        ({"requestCpu": 0}, "SYS.1007", "field[requestCpu] must be in range of [1, 2147483647]"),
        ({"requestMemory": 0}, "SYS.1007", "field[requestMemory] must be in range of [1, "),
        (
            {"resourceUuid": "NOT-A-UUID"},
            "SYS.1007",
            "resourceUuid[NOT-A-UUID] is not a valid uuid",
        ),
        (
            {"modelCenterUuid": "0" * 32},
            "SYS.1003",
            f"invalid field[modelCenterUuid], resource[uuid:{'0' * 32}, type:ModelCenterVO] "
            "not found",
        ),
        ({"zoneUuid": "1" * 32}, "SYS.1003", "type:ZoneVO] not found"),
        ({"modelUuids": ["2" * 32]}, "SYS.1003", "type:ModelVO] not found"),
    ],
)
async def test_invalid_creates_fail_their_job(
    sim: Simulator,
    http: httpx.AsyncClient,
    auth: dict[str, str],
    param: dict[str, Any],
    code: str,
    details: str,
) -> None:
    error = error_of(await create(http, sim, auth, **param), code)
    assert details in error["details"]
    assert (await sim.admin.counters()).resources == 0


@pytest.mark.parametrize(
    ("param", "text"),
    [
        ({"requestCpu": "two"}, "[requestCpu] field is excepted an int or long, but was [two]."),
        (
            {"requestMemory": 1.5},
            "[requestMemory] field is excepted an int or long, but was [1.5].",
        ),
        (
            {"system": "yes"},
            "Invalid value for boolean field [system], [yes] is not a valid boolean",
        ),
    ],
)
async def test_type_errors_are_immediate_plain_400(
    sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str], param: dict[str, Any], text: str
) -> None:
    response = await create(http, sim, auth, **param)
    assert response.status_code == 400
    assert response.text.startswith(text)


async def test_body_problems(sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]) -> None:
    url = api_url(sim.url, "/ai/model-services")
    # What Gson cannot read is an exception, and RestServer.handle answers those with 500.
    not_json = await http.post(url, content=b"{not json", headers=auth)
    assert not_json.status_code == 500
    assert not_json.text.startswith("com.google.gson.JsonSyntaxException")
    for body in (b"[1]", b'"text"', b'{"param": "text"}'):
        assert (await http.post(url, content=body, headers=auth)).status_code == 500
    # Without the "param" key every field is empty: the first required field is reported.
    wrong_key = await call(http, "POST", url, json={"params": service_param()}, headers=auth)
    assert "field[name] of message" in error_of(wrong_key, "SYS.1007")["details"]
    unknown = await http.get(api_url(sim.url, "/ai/no-such-thing"), headers=auth)
    assert (unknown.status_code, unknown.text) == (404, "no api mapping to /v1/ai/no-such-thing")
    outside = await http.get(f"{sim.url}/elsewhere")
    assert (outside.status_code, outside.text) == (404, "no api mapping to /elsewhere")
    wrong_method = await http.patch(url, headers=auth)
    assert wrong_method.status_code == 405


async def test_taken_resource_uuid_is_sys_1000(
    sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    taken = new_uuid()
    assert (await create(http, sim, auth, resourceUuid=taken)).status_code == 200
    assert (
        "already exists"
        in error_of(await create(http, sim, auth, resourceUuid=taken), "SYS.1000")["details"]
    )
    # A uuid reserved by a create that is still running is taken too.
    await sim.admin.set_faults(hold_jobs=True)
    held = new_uuid()
    url = api_url(sim.url, "/ai/model-services")
    first = await http.post(url, json={"param": service_param(resourceUuid=held)}, headers=auth)
    assert first.status_code == 202
    second = await call(
        http, "POST", url, json={"param": service_param(resourceUuid=held)}, headers=auth
    )
    assert "already exists" in error_of(second, "SYS.1000")["details"]
    await sim.admin.set_faults(hold_jobs=False)
    assert (await wait_job(http, first.json()["location"])).status_code == 200


async def test_update_changes_only_given_fields_and_the_version(
    sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    created = (await create(http, sim, auth, description="d")).json()["inventory"]
    url = api_url(sim.url, f"/ai/model-services/{created['uuid']}")
    body = {
        "updateModelService": {
            "requestCpu": 8,
            "yaml": "new: 1  \n",
            "architectureImages": [{"cpuArchitecture": "AARCH64", "vmImageUuid": "3" * 32}],
        }
    }
    updated = (await call(http, "PUT", url, json=body, headers=auth)).json()["inventory"]
    assert updated["requestCpu"] == 8
    assert updated["yaml"] == "new: 1"
    assert updated["cpuArchitectures"] == ["AARCH64"]
    assert updated["version"] != created["version"]
    changed = {"requestCpu", "yaml", "version", "lastOpDate", "cpuArchitectures"}
    unchanged = set(created) - changed - {"modelServiceImages"}
    assert {k: updated[k] for k in unchanged} == {k: created[k] for k in unchanged}
    again = (await call(http, "PUT", url, json={"updateModelService": {}}, headers=auth)).json()
    assert again["inventory"]["version"] not in (created["version"], updated["version"])
    no_action = await http.put(url, json={"requestCpu": 1}, headers=auth)
    assert no_action.status_code == 400
    assert no_action.text.startswith("the body doesn't contain action mapping to the URL")


async def test_update_of_an_unknown_service_is_sys_1003(
    sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    missing = new_uuid()
    url = api_url(sim.url, f"/ai/model-services/{missing}")
    response = await call(
        http, "PUT", url, json={"updateModelService": {"name": "x"}}, headers=auth
    )
    assert error_of(response, "SYS.1003")["details"] == (
        f"invalid field[uuid], resource[uuid:{missing}, type:ModelServiceVO] not found"
    )


async def test_delete(sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]) -> None:
    uuid = (await create(http, sim, auth)).json()["inventory"]["uuid"]
    url = api_url(sim.url, f"/ai/model-services/{uuid}")
    bad_mode = await call(http, "DELETE", url, params={"deleteMode": "Gently"}, headers=auth)
    assert "valid value for field[deleteMode]" in error_of(bad_mode, "SYS.1007")["details"]
    deleted = await call(http, "DELETE", url, params={"deleteMode": "Enforcing"}, headers=auth)
    assert (deleted.status_code, deleted.json()) == (200, {})
    query = await http.get(url, headers=auth)
    assert (query.status_code, query.json()) == (200, {"inventories": [], "schema": {}})
    # successIfResourceNotExisting: deleting it again still succeeds.
    assert (await call(http, "DELETE", url, headers=auth)).json() == {}
    malformed = await call(http, "DELETE", api_url(sim.url, "/ai/model-services/xyz"), headers=auth)
    error_of(malformed, "SYS.1003")


async def test_bind_and_unbind_models(
    sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    uuid = (await create(http, sim, auth)).json()["inventory"]["uuid"]
    model = await sim.admin.add_model()
    path = api_url(sim.url, f"/ai/models/{model}/model-services/{uuid}")
    bound = await call(http, "POST", path, json={"param": {}}, headers=auth)
    assert [r["modelUuid"] for r in bound.json()["inventory"]["modelServiceRefs"]] == [model]
    assert (await call(http, "POST", path, headers=auth)).status_code == 200  # idempotent, no body
    query = await http.get(
        api_url(sim.url, "/ai/model-services"),
        params={"q": f"modelServiceRefs.modelUuid={model}"},
        headers=auth,
    )
    assert [inv["uuid"] for inv in query.json()["inventories"]] == [uuid]
    # Unbind answers with the service's inventory (ZSTACK-API.md section 10 row 7).
    unbound = (await call(http, "DELETE", path, headers=auth)).json()
    assert (unbound["inventory"]["uuid"], unbound["inventory"]["modelServiceRefs"]) == (uuid, [])
    refs = (await http.get(api_url(sim.url, f"/ai/model-services/{uuid}"), headers=auth)).json()
    assert refs["inventories"][0]["modelServiceRefs"] == []
    unknown = api_url(sim.url, f"/ai/models/{'4' * 32}/model-services/{uuid}")
    error = error_of(
        await call(http, "POST", unknown, json={"param": {}}, headers=auth), "SYS.1003"
    )
    assert "type:ModelVO" in error["details"]


async def test_job_protocol(sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]) -> None:
    url = api_url(sim.url, "/ai/model-services")
    job = new_uuid()
    await sim.admin.set_faults(hold_jobs=True)
    accepted = await http.post(
        url, json={"param": service_param()}, headers={**auth, "X-Job-UUID": job}
    )
    assert accepted.status_code == 202
    location = accepted.json()["location"]
    assert location == f"{sim.url}/zstack/v1/api-jobs/{job}"
    running = await http.get(location)
    assert (running.status_code, running.json()) == (202, {})
    duplicate = await http.post(
        url, json={"param": service_param()}, headers={**auth, "X-Job-UUID": job}
    )
    assert (duplicate.status_code, duplicate.text) == (400, f"Duplicate job uuid[{job}]")
    short = await http.post(
        url, json={"param": service_param()}, headers={**auth, "X-Job-UUID": "abc"}
    )
    assert short.status_code == 400
    assert "X-Job-UUID" in short.text
    for _ in range(500):  # "running" until its 20 ms are up, then "held"
        if [(j.uuid, j.state) for j in await sim.admin.jobs()] == [(job, "held")]:
            break
        await asyncio.sleep(0.01)
    assert [(j.uuid, j.state) for j in await sim.admin.jobs()] == [(job, "held")]
    assert (await http.get(location)).status_code == 202
    assert await sim.admin.release_jobs() == 1
    assert (await sim.admin.faults())["holdJobs"] is False  # a release ends the holding
    done = await wait_job(http, location)
    assert done.status_code == 200
    assert (await sim.admin.jobs())[0].state == "succeeded"
    assert (await http.post(location)).status_code == 405
    expired = await http.get(api_url(sim.url, f"/api-jobs/{new_uuid()}"))
    assert (expired.status_code, expired.text) == (404, "the job has been expired")


async def test_job_results_expire_after_the_ttl(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(job_ttl=0.1)
    auth = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    location = (
        await http.post(
            api_url(sim.url, "/ai/model-services"), json={"param": service_param()}, headers=auth
        )
    ).json()["location"]
    assert (await wait_job(http, location)).status_code == 200
    for _ in range(200):
        if (await http.get(location)).status_code == 404:
            break
        await asyncio.sleep(0.02)
    assert (await http.get(location)).text == "the job has been expired"


async def test_location_names_the_management_node_not_the_client_host(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(location_host="10.0.0.8")
    auth = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    reply = await http.post(
        api_url(sim.url, "/ai/model-services"),
        json={"param": service_param()},
        headers={**auth, "X-API-Timeout": "90"},
    )
    assert reply.json()["location"].startswith(f"http://10.0.0.8:{sim.port}/zstack/v1/api-jobs/")
    assert reply.json()["apiTimeout"] == 90_000


async def test_queries(sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]) -> None:
    uuids = []
    for name, cpu in (("alpha", 1), ("beta", 4), ("gamma", 16)):
        uuids.append(
            (await create(http, sim, auth, name=name, requestCpu=cpu)).json()["inventory"]["uuid"]
        )
    url = api_url(sim.url, "/ai/model-services")

    async def names(*params: tuple[str, str]) -> list[str]:
        response = await http.get(url, params=list(params), headers=auth)
        assert response.status_code == 200, response.text
        return [inv["name"] for inv in response.json()["inventories"]]

    assert await names() == ["alpha", "beta", "gamma"]
    assert await names(("q", "requestCpu>1"), ("q", "name!=gamma")) == ["beta"]
    assert await names(("q", "name~=%a")) == ["alpha", "beta", "gamma"]
    assert await names(("q", f"uuid?={uuids[0]},{uuids[2]}")) == ["alpha", "gamma"]
    assert await names(("q", f"uuid!?={uuids[0]}"), ("sort", "-requestCpu")) == ["gamma", "beta"]
    assert await names(("q", "description is null"), ("limit", "1"), ("start", "1")) == ["beta"]
    counted = await http.get(url, params={"replyWithCount": "true", "limit": "1"}, headers=auth)
    assert counted.json()["total"] == 3
    assert len(counted.json()["inventories"]) == 1
    only_count = await http.get(url, params={"count": "true", "q": "requestCpu>=4"}, headers=auth)
    assert only_count.json() == {"total": 2, "schema": {}}
    by_uuid = await http.get(f"{url}/{uuids[1]}", params={"q": "name=nothing"}, headers=auth)
    assert [inv["name"] for inv in by_uuid.json()["inventories"]] == ["beta"]
    assert by_uuid.json()["schema"] == {
        "inventories[0]": "org.zstack.ai.entity.ModelServiceInventory"
    }
    # A thousand uuids in one request line (about 33 KB) still fits.
    many = ",".join([*(new_uuid() for _ in range(999)), uuids[2]])
    assert await names(("q", f"uuid?={many}")) == ["gamma"]
    no_op = await http.get(url, params={"q": "name"}, headers=auth)
    assert no_op.status_code == 400
    assert "doesn't contain any query operator" in no_op.text
    bad_limit = await http.get(url, params={"limit": "ten"}, headers=auth)
    assert (bad_limit.status_code, bad_limit.text) == (
        400,
        "Invalid query parameter. 'limit' must be an integer",
    )
    error_of(await http.get(url, params={"q": "nosuch=1"}, headers=auth), "SYS.1007")


async def test_expired_sessions(
    sim: Simulator, http: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    session = auth["Authorization"].removeprefix("OAuth ")
    assert await sim.admin.expire_sessions() == 1
    query = await http.get(api_url(sim.url, "/ai/model-services"), headers=auth)
    assert error_of(query, "ID.1001")["details"] == "Session expired"
    # Asynchronous APIs are accepted first; the job carries the failure.
    accepted = await http.post(
        api_url(sim.url, "/ai/model-services"), json={"param": service_param()}, headers=auth
    )
    assert accepted.status_code == 202
    error = error_of(await wait_job(http, accepted.json()["location"]), "ID.1001")
    assert error["description"].startswith("The session is invalid")
    valid = await http.get(api_url(sim.url, f"/accounts/sessions/{session}/valid"))
    assert valid.json() == {"valid": False}
    bogus = await http.get(
        api_url(sim.url, "/ai/model-services"), headers={"Authorization": "OAuth nonsense"}
    )
    error_of(bogus, "ID.1001")
    assert (await sim.admin.counters()).sessions_active == 0


async def test_sessions_slide_renew_and_log_out(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(session_timeout=0.4)
    session = await login(http, sim.url)
    auth = {"Authorization": f"OAuth {session}"}
    url = api_url(sim.url, "/ai/model-services")
    for _ in range(5):  # 0.75 s of use in all: longer than the timeout, but it slides
        assert (await http.get(url, headers=auth)).status_code == 200
        await asyncio.sleep(0.15)
    renew = await call(
        http,
        "PUT",
        api_url(sim.url, f"/accounts/sessions/{session}/renew"),
        json={"renewSession": {"duration": 3600}},
        headers=auth,
    )
    assert renew.status_code == 200
    assert renew.json()["inventory"]["uuid"] == session
    await asyncio.sleep(0.6)  # past the 0.4 s timeout, within the renewed hour
    assert (await http.get(url, headers=auth)).status_code == 200
    await asyncio.sleep(0.6)  # that call slid it back to 0.4 s
    error_of(await http.get(url, headers=auth), "ID.1001")
    other = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    bad = await call(
        http,
        "PUT",
        api_url(sim.url, f"/accounts/sessions/{session}/renew"),
        json={"renewSession": {"duration": 10}},
        headers=other,
    )
    assert "field[duration]" in error_of(bad, "SYS.1007")["details"]
    fresh = await login(http, sim.url)
    logout = await http.delete(api_url(sim.url, f"/accounts/sessions/{fresh}"))
    assert (logout.status_code, logout.json()) == (200, {})
    error_of(await http.get(url, headers={"Authorization": f"OAuth {fresh}"}), "ID.1001")


async def test_access_keys(sim: Simulator, http: httpx.AsyncClient) -> None:
    key = await sim.admin.create_access_key()
    assert key.access_key_secret not in repr(key)
    path = "/v1/ai/model-services"

    def headers(method: str, secret: str, date: str) -> dict[str, str]:
        signature = sign(secret, f"{method}\n{date}\n{path}")
        return {"Authorization": f"ZStack {key.access_key_id}:{signature}", "Date": date}

    # The node (Asia/Shanghai) compares the Date's wall clock with its own, ignoring the zone.
    now = local_date(sim, time.time())
    good = await http.get(
        api_url(sim.url, "/ai/model-services"),
        params={"q": "name=x"},
        headers=headers("GET", key.access_key_secret, now),
    )
    assert (good.status_code, good.json()) == (200, {"inventories": [], "schema": {}})
    created = await call(
        http,
        "POST",
        api_url(sim.url, "/ai/model-services"),
        json={"param": service_param()},
        headers=headers("POST", key.access_key_secret, now),
    )
    assert created.status_code == 200
    bad = await http.get(
        api_url(sim.url, "/ai/model-services"), headers=headers("GET", "wrong", now)
    )
    error_of(bad, "ID.1000")
    gmt = await http.get(
        api_url(sim.url, "/ai/model-services"),
        headers=headers("GET", key.access_key_secret, formatdate(usegmt=True)),
    )
    assert (gmt.status_code, gmt.text) == (403, "requestTimeTooSkewed")
    old = local_date(sim, time.time() - 3600)
    skewed = await http.get(
        api_url(sim.url, "/ai/model-services"), headers=headers("GET", key.access_key_secret, old)
    )
    assert (skewed.status_code, skewed.text) == (403, "requestTimeTooSkewed")
    no_date = await http.get(
        api_url(sim.url, "/ai/model-services"),
        headers={"Authorization": f"ZStack {key.access_key_id}:x"},
    )
    assert no_date.status_code == 400


def local_date(sim: Simulator, when: float) -> str:
    """A ``Date`` header in the simulated node's zone, as a client there would send it."""
    local = datetime.fromtimestamp(when, tz=ZoneInfo(sim.config.time_zone))
    return local.strftime("%a, %d %b %Y %H:%M:%S CST")


async def test_sync_mode_answers_mutations_directly(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(mode=SimMode.SYNC)
    auth = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    url = api_url(sim.url, "/ai/model-services")
    job = new_uuid()
    created = await http.post(
        url, json={"param": service_param()}, headers={**auth, "X-Job-UUID": job}
    )
    assert created.status_code == 200
    assert created.json()["inventory"]["version"] == "1"
    # The job still exists, so its uuid cannot be reused and its result can be fetched.
    assert (await http.get(api_url(sim.url, f"/api-jobs/{job}"))).status_code == 200
    again = await http.post(
        url, json={"param": service_param()}, headers={**auth, "X-Job-UUID": job}
    )
    assert again.status_code == 400
    failed = await http.post(url, json={"param": service_param(name=None)}, headers=auth)
    assert "field[name]" in error_of(failed, "SYS.1007")["details"]
