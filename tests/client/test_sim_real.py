"""The simulator behaves like a real management node: ZSTACK-API.md section 10, raw HTTP.

One test (or more) per row the simulator reproduces: release profiles (row 4), the node's time
zone (rows 1, 12), trimming (2), tag patterns (3), validation before the session (5),
malformed requests (6), schema (8), web hooks (9), session cap (11), RenewSession (15).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web
from zstack_operator.sim import DEFAULT_MODEL_CENTER_UUID, DEFAULT_MODEL_UUIDS, Simulator
from zstack_operator.sim.auth import sign
from zstack_operator.sim.cli import config_from_args, register
from zstack_operator.zstack.models import parse_zstack_date

from tests.support.sim_fixtures import SimFactory, api_url, call, login

SERVICES = "/ai/model-services"


def service_param(**overrides: Any) -> dict[str, Any]:
    param = {
        "name": "svc",
        "yaml": "services: []",
        "requestCpu": 2,
        "requestMemory": 2048,
        "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID,
        "installPath": "/opt/svc",
        "startCommand": "serve",
    }
    param.update(overrides)
    return param


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


async def add(
    http: httpx.AsyncClient, sim: Simulator, session: str, **param: Any
) -> httpx.Response:
    body = {"param": service_param(**param)}
    headers = {"Authorization": f"OAuth {session}"}
    return await call(http, "POST", api_url(sim.url, SERVICES), json=body, headers=headers)


def error(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 503, response.text
    err = response.json()["error"]
    return err["code"], err["details"]


# -- row 4: release profiles -------------------------------------------------------------


async def test_5_1_20_knows_its_own_fields_and_defaults(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(zstack_version="5.1.20")
    session = await login(http, sim.url)
    images = [{"cpuArchitecture": "X86_64", "dockerImage": "ignored"}]
    created = await add(
        http, sim, session, dockerImage="r/llm:1", vmImageUuid="3" * 32, architectureImages=images,
        source="HuggingFace", supportDistributed=True, containerCommand="x",
    )  # fmt: skip
    assert created.status_code == 200, created.text
    inv = created.json()["inventory"]
    assert (inv["framework"], inv["type"], inv["dockerImage"]) == ("Other", "Endpoint", "r/llm:1")
    assert inv["vmImageUuid"] == "3" * 32
    for absent in (
        "version", "hasNewVersion", "readme", "source", "cpuArchitectures", "modelServiceImages",
        "supportDistributed", "containerCommand", "containerArgs", "vendorToSpecUuidsMap",
    ):  # fmt: skip
        assert absent not in inv, absent
    code, details = error(await add(http, sim, session, framework="vLLM"))
    assert code == "SYS.1007"
    assert "are [Other, Bentoml, HuggingFace], but vLLM found" in details
    version = await http.put(api_url(sim.url, "/management-nodes/actions"), json={"getVersion": {}})
    assert version.json() == {"version": "5.1.20"}
    # A field this release's inventory lacks cannot be queried.
    query = await http.get(
        api_url(sim.url, SERVICES), params={"q": "version=1"}, headers=oauth(session)
    )
    assert error(query)[0] == "SYS.1007"


async def test_5_3_20_moves_the_old_frameworks_to_source(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(zstack_version="5.3.20")
    session = await login(http, sim.url)
    inv = (await add(http, sim, session, framework="vLLM")).json()["inventory"]
    assert (inv["framework"], inv["source"]) == ("vLLM", "Other")
    assert "version" not in inv
    assert "dockerImage" not in inv  # none was sent
    code, details = error(await add(http, sim, session, framework="Bentoml"))
    assert (code, "Ollama, Other], but Bentoml found" in details) == ("SYS.1007", True)
    error_code, _ = error(await add(http, sim, session, source="vLLM"))
    assert error_code == "SYS.1007"


async def test_the_newest_release_is_the_default(sim: Simulator, http: httpx.AsyncClient) -> None:
    session = await login(http, sim.url)
    inv = (await add(http, sim, session, dockerImage="dropped")).json()["inventory"]
    assert (inv["version"], inv["hasNewVersion"], inv["supportDistributed"]) == ("1", False, False)
    assert "framework" not in inv
    assert "dockerImage" not in inv


# -- rows 1 and 12: the node's time zone ---------------------------------------------------


def oauth(session: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {session}"}


async def test_dates_are_the_node_wall_clock_without_a_zone(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    for zone in ("Asia/Shanghai", "UTC", "America/St_Johns"):
        sim = await sim_factory(time_zone=zone)
        session = await login(http, sim.url)
        before = datetime.now(UTC).replace(microsecond=0)
        inv = (await add(http, sim, session)).json()["inventory"]
        created = parse_zstack_date(inv["createDate"], ZoneInfo(zone))
        assert before <= created <= datetime.now(UTC), zone
        answer = await http.get(
            api_url(sim.url, "/management-nodes/platform-timezone"), headers=oauth(session)
        )
        assert answer.json()["timezone"] == zone


def signed(key_id: str, secret: str, date: str) -> dict[str, str]:
    signature = sign(secret, "\n".join(("GET", date, "/v1/ai/model-services")))
    return {"Authorization": f"ZStack {key_id}:{signature}", "Date": date}


async def test_access_key_dates_are_checked_against_the_local_wall_clock(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    lax = await sim_factory()  # Asia/Shanghai, checkTimeZone=false
    strict = await sim_factory(check_time_zone=True)
    now = datetime.now(UTC)
    utc_text = now.strftime("%a, %d %b %Y %H:%M:%S GMT")
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    local_gmt = local.strftime("%a, %d %b %Y %H:%M:%S GMT")  # local time, wrongly called GMT
    local_offset = local.strftime("%a, %d %b %Y %H:%M:%S GMT+08:00")
    expected = [
        (lax, utc_text, 403), (lax, local_gmt, 200), (lax, local_offset, 200),
        (strict, utc_text, 200), (strict, local_gmt, 403), (strict, local_offset, 200),
    ]  # fmt: skip
    for sim, date, status in expected:
        key = await sim.admin.create_access_key()
        headers = signed(key.access_key_id, key.access_key_secret, date)
        answer = await http.get(api_url(sim.url, SERVICES), headers=headers)
        assert answer.status_code == status, (sim.config.check_time_zone, date, answer.text)


# -- rows 2, 3, 5: trimming, tag patterns, validation before the session --------------------


async def test_strings_are_trimmed_at_both_ends_before_validation(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    session = await login(http, sim.url)
    inv = (await add(http, sim, session, name="\t svc \n", type=" App ")).json()["inventory"]
    assert (inv["name"], inv["type"]) == ("svc", "App")


async def test_tag_uuids_must_be_the_callers_tag_patterns(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    await sim.admin.create_account("team-a", "pw-a")
    await sim.admin.create_account("team-b", "pw-b")
    mine = await sim.admin.create_tag_pattern("team-a", name="gold")
    theirs = await sim.admin.create_tag_pattern("team-b")
    team_a = await login(http, sim.url, "team-a", "pw-a")
    assert (await add(http, sim, team_a, tagUuids=[mine])).status_code == 200
    for uuid in (theirs, "9" * 32):
        assert error(await add(http, sim, team_a, tagUuids=[uuid])) == (
            "SYS.1003",
            f"invalid field[tagUuids], resource[uuid:{uuid}, type:TagPatternVO] not found",
        )
    admin = await login(http, sim.url)
    assert (await add(http, sim, admin, tagUuids=[theirs])).status_code == 200


async def test_parameters_are_checked_before_the_session(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    bogus = "0" * 32  # no such session
    assert error(await add(http, sim, bogus, name=None))[0] == "SYS.1007"
    assert error(await add(http, sim, bogus, modelCenterUuid="1" * 32))[0] == "SYS.1003"
    assert error(await add(http, sim, bogus))[0] == "ID.1001"


# -- row 6: malformed requests are 500 ----------------------------------------------------


async def test_malformed_requests_are_500(sim: Simulator, http: httpx.AsyncClient) -> None:
    auth = oauth(await login(http, sim.url))
    url = api_url(sim.url, SERVICES)
    service = (await add(http, sim, auth["Authorization"][6:])).json()["inventory"]["uuid"]
    empty_put = await http.put(f"{url}/{service}", headers=auth)
    assert (empty_put.status_code, empty_put.text) == (500, "")
    timeout = await http.post(
        url, json={"param": service_param()}, headers={**auth, "X-API-Timeout": "soon"}
    )
    assert (timeout.status_code, timeout.text) == (500, 'For input string: "soon"')
    overflow = await http.post(url, json={"param": service_param(requestCpu=2**31)}, headers=auth)
    assert overflow.status_code == 500
    assert "Expected an int but was 2147483648" in overflow.text
    not_json = await http.post(url, content=b"{oops", headers=auth)
    assert not_json.status_code == 500
    # What TypeVerifier checks stays a 400.
    half = await http.post(url, json={"param": service_param(requestCpu=1.5)}, headers=auth)
    assert half.status_code == 400


# -- rows 8, 9, 10: schema, web hooks, duplicate jobs --------------------------------------


async def test_job_results_carry_a_schema_when_asked(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    auth = oauth(await login(http, sim.url))
    body = {"param": service_param(modelUuids=[DEFAULT_MODEL_UUIDS[0]])}
    url = api_url(sim.url, SERVICES)
    asked = await call(http, "POST", url, json=body, headers={**auth, "X-JSON-Schema": "true"})
    assert asked.json()["schema"] == {
        "inventory.modelServiceRefs[0]": "org.zstack.ai.entity.ModelServiceRefInventory",
        "inventory": "org.zstack.ai.entity.ModelServiceInventory",
    }
    assert "schema" not in (await call(http, "POST", url, json=body, headers=auth)).json()


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, asyncio.Queue[tuple[dict[str, str], Any]]]]:
    received: asyncio.Queue[tuple[dict[str, str], Any]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await received.put((dict(request.headers), json.loads(await request.text())))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


async def test_web_hooks_receive_the_result(
    sim: Simulator,
    http: httpx.AsyncClient,
    hook: tuple[str, asyncio.Queue[tuple[dict[str, str], Any]]],
) -> None:
    url, received = hook
    auth = oauth(await login(http, sim.url))
    job = "a" * 32
    headers = {**auth, "X-Web-Hook": url, "X-Job-UUID": job}
    accepted = await http.post(
        api_url(sim.url, SERVICES), json={"param": service_param()}, headers=headers
    )
    assert accepted.status_code == 202
    got_headers, body = await asyncio.wait_for(received.get(), 10)
    assert (got_headers["X-Job-UUID"], got_headers["X-Job-Success"]) == (job, "true")
    assert body["inventory"]["name"] == "svc"
    failing = {**auth, "X-Web-Hook": url}
    await http.post(api_url(sim.url, SERVICES), json={"param": {}}, headers=failing)
    got_headers, body = await asyncio.wait_for(received.get(), 10)
    assert (got_headers["X-Job-Success"], body["error"]["code"]) == ("false", "SYS.1007")


# -- rows 11, 15: sessions ------------------------------------------------------------------


async def test_an_account_holds_at_most_max_sessions(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(max_sessions=3)
    sessions = [await login(http, sim.url) for _ in range(3)]
    body = {"logInByAccount": {"accountName": "admin", "password": _sha512("password")}}
    fourth = await http.put(api_url(sim.url, "/accounts/login"), json=body)
    assert error(fourth)[0] == "ID.1006"
    await http.delete(api_url(sim.url, f"/accounts/sessions/{sessions[0]}"))
    assert (await http.put(api_url(sim.url, "/accounts/login"), json=body)).status_code == 200


def _sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


async def test_renewing_an_unknown_session_is_sys_1003(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    auth = oauth(await login(http, sim.url))
    unknown = "b" * 32
    renew = await call(
        http,
        "PUT",
        api_url(sim.url, f"/accounts/sessions/{unknown}/renew"),
        json={"renewSession": {"duration": 600}},
        headers=auth,
    )
    assert error(renew) == (
        "SYS.1003",
        f"invalid field[sessionUuid], resource[uuid:{unknown}, type:SessionVO] not found",
    )


def test_the_time_zone_options_reach_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    def parse(*argv: str) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        register(parser.add_subparsers())
        return parser.parse_args(["sim", *argv])

    default = config_from_args(parse())
    assert (default.time_zone, default.check_time_zone, default.max_sessions) == (
        "Asia/Shanghai",
        False,
        500,
    )
    chosen = config_from_args(
        parse("--time-zone", "UTC", "--check-time-zone", "--max-sessions", "7")
    )
    assert (chosen.time_zone, chosen.check_time_zone, chosen.max_sessions) == ("UTC", True, 7)
    with pytest.raises(SystemExit):
        parse("--time-zone", "Mars/Olympus")
    assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err
