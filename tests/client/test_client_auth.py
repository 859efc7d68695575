"""Sessions and AccessKeys against the simulator: one login, invisible expiry, signatures."""

from __future__ import annotations

import asyncio

import pytest
from zstack_operator.sim import SimMode, Simulator
from zstack_operator.zstack import (
    AccessKeyCredentials,
    AccountCredentials,
    ErrorKind,
    ZStackAPIError,
    ZStackClient,
)

from tests.support.client_helpers import ADMIN, param
from tests.support.sim_fixtures import SimFactory


async def test_100_concurrent_callers_share_one_login(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN) as client:
        results = await asyncio.gather(*(client.get_model_service("a" * 32) for _ in range(100)))
        assert results == [None] * 100
        counters = await sim.admin.counters()
        assert counters.logins == 1
        assert counters.count("LogInByAccount") == 1
        assert counters.count("QueryModelService", "200") == 100
        assert counters.sessions_active == 1
    counters = await sim.admin.counters()
    assert counters.count("LogOut", "200") == 1
    assert counters.sessions_active == 0


@pytest.mark.parametrize("mode", [SimMode.ASYNC, SimMode.SYNC])
async def test_session_expiry_mid_run_is_invisible(sim_factory: SimFactory, mode: SimMode) -> None:
    sim = await sim_factory(mode=mode)
    async with ZStackClient(sim.url, ADMIN) as client:
        first = await client.add_model_service(param(name="before"))
        assert await sim.admin.expire_sessions() == 1

        adds = [client.add_model_service(param(name=f"after-{i}")) for i in range(20)]
        gets = [client.get_model_service(first.uuid) for _ in range(30)]
        results = await asyncio.gather(*adds, *gets)

        assert [r.name for r in results[:20] if r is not None] == [f"after-{i}" for i in range(20)]
        assert all(r == first for r in results[20:])
        counters = await sim.admin.counters()
        # Fifty callers saw ID.1001 on the same session: exactly one of them logged in again.
        assert counters.logins == 2
        assert len(counters.created) == 21
        assert all(n == 1 for n in counters.created.values())
        if mode is SimMode.ASYNC:
            # Expired-session jobs fail when polled; each add was resent under a new job uuid.
            assert counters.count("QueryApiJob", "503") == 20
        else:
            assert counters.count("AddModelService", "503") == 20
        assert counters.count("QueryModelService", "503") == 30


async def test_wrong_password_is_an_auth_error_and_not_retried(sim: Simulator) -> None:
    creds = AccountCredentials(account_name="admin", password="wrong-password")
    async with ZStackClient(sim.url, creds) as client:
        with pytest.raises(ZStackAPIError) as caught:
            await client.get_model_service("a" * 32)
    assert caught.value.code == "ID.1000"
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.api == "LogInByAccount"
    counters = await sim.admin.counters()
    assert counters.count("LogInByAccount") == 1
    assert counters.count("QueryModelService") == 0
    assert counters.count("LogOut") == 0


@pytest.mark.parametrize("mode", [SimMode.ASYNC, SimMode.SYNC])
async def test_access_key_requests_are_verified(sim_factory: SimFactory, mode: SimMode) -> None:
    sim = await sim_factory(mode=mode)
    key = await sim.admin.create_access_key()
    creds = AccessKeyCredentials(
        access_key_id=key.access_key_id, access_key_secret=key.access_key_secret
    )
    # AccessKey requests carry the node's local time: the simulator is in Asia/Shanghai.
    async with ZStackClient(sim.url, creds, time_zone=sim.config.time_zone) as client:
        inv = await client.add_model_service(param(name="signed"))
        found = await client.get_model_services([inv.uuid])
        assert found[inv.uuid].name == "signed"
        await client.delete_model_service(inv.uuid)
    counters = await sim.admin.counters()
    assert counters.logins == 0
    assert counters.count("LogOut") == 0
    assert counters.count("QueryModelService", "200") == 1

    wrong = AccessKeyCredentials(
        access_key_id=key.access_key_id, access_key_secret="not-the-secret"
    )
    async with ZStackClient(sim.url, wrong, time_zone=sim.config.time_zone) as client:
        with pytest.raises(ZStackAPIError) as query_error:
            await client.query_model_services()
        with pytest.raises(ZStackAPIError) as add_error:
            await client.add_model_service(param(name="refused"))
    for caught in (query_error, add_error):
        assert caught.value.code == "ID.1000"
        assert caught.value.kind is ErrorKind.AUTH
    assert (await sim.admin.counters()).count("QueryModelService", "503") == 1
