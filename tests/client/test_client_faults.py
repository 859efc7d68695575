"""Injected faults: errors, resets and 429s are retried to success; outages fail boundedly."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from zstack_operator.sim import Simulator
from zstack_operator.zstack import (
    ErrorKind,
    RetryPolicy,
    ZStackClient,
    ZStackRESTError,
    ZStackTransportError,
)
from zstack_operator.zstack.models import UpdateModelServiceParam

from tests.support.client_helpers import ADMIN, FAST_RETRY, RecordingObserver, param
from tests.support.sim_fixtures import SimFactory


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [("error_rate", "503"), ("reset_rate", "reset"), ("throttle_rate", "429")],
)
async def test_faults_are_retried_to_success(
    sim_factory: SimFactory, fault: str, outcome: str
) -> None:
    # A fixed seed makes the dice, and so this test, the same on every run.
    rates: dict[str, Any] = {fault: 0.3}
    sim = await sim_factory(seed=1234, retry_after=0.01, **rates)
    async with ZStackClient(sim.url, ADMIN, retry=FAST_RETRY) as client:
        for i in range(10):
            inv = await client.add_model_service(param(name=f"svc-{i}"))
            updated = await client.update_model_service(
                inv.uuid, UpdateModelServiceParam(request_cpu=4)
            )
            assert updated.request_cpu == 4
            assert await client.get_model_service(inv.uuid) == updated
        assert len(await client.query_all()) == 10
    counters = await sim.admin.counters()
    injected = sum(outcomes.get(outcome, 0) for outcomes in counters.requests.values())
    assert injected >= 10
    # Each resource was created exactly once although creates were retried.
    assert len(counters.created) == 10
    assert set(counters.created.values()) == {1}


async def test_long_retry_after_goes_back_to_the_caller(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN, retry=RetryPolicy(max_retry_after=30)) as client:
        await client.query_model_services()
        await sim.admin.set_faults(throttle_rate=1.0, retry_after=120)
        with pytest.raises(ZStackRESTError) as caught:
            await client.query_model_services()
        await sim.admin.set_faults(throttle_rate=0.0)
    assert caught.value.status == 429
    assert caught.value.retry_after == 120
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert (await sim.admin.counters()).count("QueryModelService", "429") == 1


async def test_outage_fails_after_the_policys_attempts(sim: Simulator) -> None:
    policy = RetryPolicy(attempts=3, base=0.01, cap=0.02)
    async with ZStackClient(sim.url, ADMIN, retry=policy) as client:
        await client.query_model_services()
        await sim.admin.set_faults(outage=True)
        with pytest.raises(ZStackTransportError) as caught:
            await client.get_model_service("a" * 32)
        with pytest.raises(ZStackTransportError):
            await client.add_model_service(param())
        await sim.admin.set_faults(outage=False)
        assert await client.get_model_service("a" * 32) is None
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.api == "QueryModelService"
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    counters = await sim.admin.counters()
    assert counters.requests["QueryModelService"] == {"200": 2, "reset": 3}
    assert counters.requests["AddModelService"] == {"reset": 3}


async def test_in_flight_requests_stay_under_the_cap(sim: Simulator) -> None:
    observer = RecordingObserver()
    async with ZStackClient(sim.url, ADMIN, max_in_flight=5, observer=observer) as client:
        await client.query_model_services()
        await sim.admin.reset_counters()
        await sim.admin.set_faults(latency_ms=10)
        made = await asyncio.gather(*(client.add_model_service(param()) for _ in range(100)))
        await asyncio.gather(*(client.get_model_service(i.uuid) for i in made))
    counters = await sim.admin.counters()
    assert counters.count("AddModelService", "202") == 100
    assert counters.count("QueryModelService", "200") == 100
    assert counters.peak_in_flight <= 5
    # 100 concurrent callers against 5 slots keep every slot busy at some point.
    assert counters.peak_in_flight == 5
    assert observer.peak_in_flight == 5
    assert observer.in_flight == 0
