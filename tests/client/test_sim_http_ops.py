"""The simulator's operational side over real HTTP: faults, counters, persistence, the CLI.

Raw httpx against in-process simulators, and against ``zstack-operator sim`` subprocesses
(``sim_process_factory``) for the kill-and-restart checks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid as uuidlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from zstack_operator.sim import (
    DEFAULT_MODEL_CENTER_UUID,
    DEFAULT_MODEL_UUIDS,
    Simulator,
    running_simulator,
)

from tests.support.sim_fixtures import (
    FAST,
    SimFactory,
    SimProcessFactory,
    api_url,
    call,
    login,
    wait_job,
)


def param(**overrides: Any) -> dict[str, Any]:
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


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


async def test_error_rate_answers_sys_1000(sim: Simulator, http: httpx.AsyncClient) -> None:
    await sim.admin.set_faults(error_rate=1.0)
    response = await http.put(api_url(sim.url, "/accounts/login"), json={})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SYS.1000"
    job_poll = await http.get(api_url(sim.url, f"/api-jobs/{uuidlib.uuid4().hex}"))
    assert job_poll.status_code == 503  # job polls are faulted too
    assert (await sim.admin.counters()).count("LogInByAccount", "503") == 1
    await sim.admin.set_faults(error_rate=0.0)
    await login(http, sim.url)


async def test_reset_rate_drops_connections(sim: Simulator, http: httpx.AsyncClient) -> None:
    await sim.admin.set_faults(reset_rate=1.0)
    with pytest.raises(httpx.TransportError):
        await http.put(api_url(sim.url, "/accounts/login"), json={})
    counters = await sim.admin.counters()
    assert counters.requests == {"LogInByAccount": {"reset": 1}}
    assert counters.in_flight == 0


async def test_throttling_sends_retry_after(sim: Simulator, http: httpx.AsyncClient) -> None:
    faults = await sim.admin.set_faults(throttle_rate=1.0, retry_after=2)
    assert faults["throttleRate"] == 1.0
    response = await http.get(api_url(sim.url, "/ai/model-services"))
    assert (response.status_code, response.headers["Retry-After"]) == (429, "2")
    assert response.headers["content-type"].startswith("text/plain")


async def test_outage_drops_every_api_call_but_not_admin(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    await sim.admin.set_faults(outage=True)
    for method, path in (("PUT", "/accounts/login"), ("GET", "/api-jobs/" + "a" * 32)):
        with pytest.raises(httpx.TransportError):
            await http.request(method, api_url(sim.url, path))
    assert (await sim.admin.faults())["outage"] is True
    await sim.admin.set_faults(outage=False)
    await login(http, sim.url)


async def test_latency_and_peak_in_flight(sim: Simulator, http: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    await sim.admin.reset_counters()
    await sim.admin.set_faults(latency_ms=300)
    url = api_url(sim.url, "/ai/model-services")
    answers = await asyncio.gather(*(http.get(url, headers=auth) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    counters = await sim.admin.counters()
    assert counters.peak_in_flight == 5
    assert counters.in_flight == 0
    assert counters.requests == {"QueryModelService": {"200": 5}}


async def test_a_reply_lost_to_a_client_timeout_still_ran(sim: Simulator) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        auth = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    await sim.admin.set_faults(latency_ms=300)
    job = uuidlib.uuid4().hex
    url = api_url(sim.url, "/ai/model-services")
    async with httpx.AsyncClient(trust_env=False, timeout=0.05) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(url, json={"param": param()}, headers={**auth, "X-Job-UUID": job})
    for _ in range(200):
        if [j.uuid for j in await sim.admin.jobs()] == [job]:
            break
        await asyncio.sleep(0.01)
    assert [j.uuid for j in await sim.admin.jobs()] == [job]
    assert (await sim.admin.counters()).count("AddModelService", "202") == 1


async def test_create_counters_per_resource_uuid(sim: Simulator, http: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    url = api_url(sim.url, "/ai/model-services")
    uuid = uuidlib.uuid4().hex
    first = await call(http, "POST", url, json={"param": param(resourceUuid=uuid)}, headers=auth)
    second = await call(http, "POST", url, json={"param": param(resourceUuid=uuid)}, headers=auth)
    anonymous = await call(http, "POST", url, json={"param": param()}, headers=auth)
    assert (first.status_code, second.status_code, anonymous.status_code) == (200, 503, 200)
    counters = await sim.admin.counters()
    assert counters.create_requests == {uuid: 2}
    assert counters.created == {uuid: 1, anonymous.json()["inventory"]["uuid"]: 1}
    assert counters.resources == 2
    assert counters.count("AddModelService", "202") == 3
    assert counters.count("QueryApiJob") >= 3
    assert counters.sessions_active == 1


async def test_admin_reset_and_validation(sim: Simulator, http: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    center = await sim.admin.add_model_center()
    created = await call(
        http,
        "POST",
        api_url(sim.url, "/ai/model-services"),
        json={"param": param(modelCenterUuid=center)},
        headers=auth,
    )
    assert created.status_code == 200
    with pytest.raises(httpx.HTTPStatusError):
        await sim.admin.set_faults(error_rate=2.0)
    with pytest.raises(httpx.HTTPStatusError):
        await sim.admin.add_model("not-a-uuid")
    assert await sim.admin.add_model("5" * 32) == "5" * 32
    await sim.admin.set_faults(latency_ms=5)
    await sim.admin.reset()
    counters = await sim.admin.counters()
    assert (counters.resources, counters.logins, counters.sessions_active) == (0, 0, 0)
    assert (await sim.admin.faults())["latencyMs"] == 0
    assert await sim.admin.jobs() == []
    # Sessions are gone and the extra model center is forgotten; the seed is back.
    assert (await http.get(api_url(sim.url, "/ai/model-services"), headers=auth)).status_code == 503
    auth = {"Authorization": f"OAuth {await login(http, sim.url)}"}
    gone = await call(
        http,
        "POST",
        api_url(sim.url, "/ai/model-services"),
        json={"param": param(modelCenterUuid=center)},
        headers=auth,
    )
    assert gone.json()["error"]["code"] == "SYS.1003"


async def test_state_file_keeps_resources_and_resumes_held_jobs(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    config = dataclasses.replace(FAST, state_file=tmp_path / "sim.sqlite")
    async with running_simulator(config) as sim:
        session = await login(http, sim.url)
        auth = {"Authorization": f"OAuth {session}"}
        url = api_url(sim.url, "/ai/model-services")
        kept = (
            await call(
                http,
                "POST",
                url,
                json={"param": param(modelUuids=[DEFAULT_MODEL_UUIDS[1]])},
                headers=auth,
            )
        ).json()["inventory"]
        await sim.admin.set_faults(hold_jobs=True)
        held = await http.post(url, json={"param": param(name="held")}, headers=auth)
        job = held.json()["location"].rsplit("/", 1)[1]
        port = sim.port
    # Same port, same file: the session, the service and the unfinished job are back.
    async with running_simulator(dataclasses.replace(config, port=port)) as sim:
        done = await wait_job(http, api_url(sim.url, f"/api-jobs/{job}"))
        assert done.status_code == 200
        assert done.json()["inventory"]["name"] == "held"
        query = await http.get(url, headers=auth)
        assert [inv["name"] for inv in query.json()["inventories"]] == ["svc", "held"]
        assert query.json()["inventories"][0] == kept


async def test_subprocess_survives_kill_and_restart(
    sim_process_factory: SimProcessFactory, http: httpx.AsyncClient
) -> None:
    proc = await sim_process_factory("--job-duration-ms", "20", "--session-timeout", "600")
    auth = {"Authorization": f"OAuth {await login(http, proc.url)}"}
    url = api_url(proc.url, "/ai/model-services")
    created = await call(http, "POST", url, json={"param": param()}, headers=auth)
    assert created.status_code == 200
    await proc.admin.set_faults(hold_jobs=True)
    held = await http.post(url, json={"param": param(name="held")}, headers=auth)
    assert held.status_code == 202
    assert await proc.kill() == -9
    await proc.start()
    # The kill lost nothing: the held job runs to completion under the restarted simulator.
    done = await wait_job(http, held.json()["location"])
    assert (done.status_code, done.json()["inventory"]["name"]) == (200, "held")
    names = [inv["name"] for inv in (await http.get(url, headers=auth)).json()["inventories"]]
    assert names == ["svc", "held"]
    await proc.restart()  # SIGTERM then start: a graceful stop keeps everything too
    assert (await http.get(url, headers=auth)).json()["inventories"][1]["name"] == "held"
    assert await proc.stop() == 0


async def test_subprocess_cli_options(
    sim_process_factory: SimProcessFactory, http: httpx.AsyncClient
) -> None:
    proc = await sim_process_factory(
        "--mode", "sync", "--account", "ops", "--password", "pw", "--throttle-rate", "0"
    )
    assert proc.log_file.read_text().count(f"listening on {proc.url}") == 1
    login_body = {
        "logInByAccount": {"accountName": "ops", "password": hashlib.sha512(b"pw").hexdigest()}
    }
    session = (await http.put(api_url(proc.url, "/accounts/login"), json=login_body)).json()[
        "inventory"
    ]["uuid"]
    created = await http.post(
        api_url(proc.url, "/ai/model-services"),
        json={"param": param()},
        headers={"Authorization": f"OAuth {session}"},
    )
    assert created.status_code == 200  # --mode sync


async def test_several_simulators_side_by_side(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    first, second = await sim_factory(), await sim_factory(job_duration_ms=0)
    assert first.url != second.url
    await login(http, first.url)
    assert (await first.admin.counters()).logins == 1
    assert (await second.admin.counters()).logins == 0
