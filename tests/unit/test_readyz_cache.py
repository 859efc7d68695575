"""/readyz answers from a cached Kubernetes API check: one check per period, shared by every
concurrent probe, over real HTTP on loopback with a counting check and a fake clock."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from zstack_operator.health import READY_CACHE_SECONDS, Health, serve

PERIOD = 5.0


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class CountingCheck:
    """Stands in for ``KubeAPI.version``: counts calls, can fail, can be held open."""

    calls: int = 0
    error: Exception | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    called: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def __call__(self) -> object:
        self.calls += 1
        self.called.set()
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return {"gitVersion": "v1.20.2"}


@dataclass
class Served:
    health: Health
    clock: Clock
    check: CountingCheck
    url: str


@pytest.fixture
async def served(caplog: pytest.LogCaptureFixture) -> AsyncIterator[Served]:
    clock = Clock()
    health = Health(cache_seconds=PERIOD, clock=clock)
    check = CountingCheck()
    health.started, health.api_check = True, check
    with caplog.at_level(logging.INFO, logger="zstack_operator.health"):
        runner: web.AppRunner = await serve(health, "127.0.0.1:0")
    (url,) = re.findall(r"on (http://127\.0\.0\.1:\d+)$", caplog.text, re.MULTILINE)
    yield Served(health, clock, check, f"{url}/readyz")
    await runner.cleanup()


async def probe(client: httpx.AsyncClient, url: str) -> tuple[int, str]:
    reply = await client.get(url)
    return reply.status_code, reply.text


async def test_concurrent_probes_share_one_check(served: Served) -> None:
    served.check.gate.clear()  # hold the check open while every probe arrives
    async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=50)) as client:
        probes = [asyncio.create_task(probe(client, served.url)) for _ in range(40)]
        await asyncio.wait_for(served.check.called.wait(), timeout=10)
        await asyncio.sleep(0.2)  # let the rest of the probes reach the server
        served.check.gate.set()
        answers = await asyncio.gather(*probes)
    assert answers == [(200, "ok")] * 40
    assert served.check.calls == 1


async def test_an_answer_is_reused_for_one_period_then_refreshed(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(25):
            assert await probe(client, served.url) == (200, "ok")
        assert served.check.calls == 1
        served.clock.now += PERIOD - 0.01
        assert await probe(client, served.url) == (200, "ok")
        assert served.check.calls == 1
        served.clock.now += 0.01
        assert await probe(client, served.url) == (200, "ok")
        assert served.check.calls == 2


async def test_a_steady_stream_of_hits_costs_one_check_per_period(served: Served) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(100):  # 50 s of a hit every half second
            assert await probe(client, served.url) == (200, "ok")
            served.clock.now += 0.5
    assert served.check.calls == 10


async def test_a_failing_api_is_cached_too_and_recovery_shows_after_a_period(
    served: Served,
) -> None:
    served.check.error = RuntimeError("Kubernetes API unreachable: ConnectError")
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(10):
            assert await probe(client, served.url) == (
                503,
                "Kubernetes API: Kubernetes API unreachable: ConnectError",
            )
        assert served.check.calls == 1
        served.check.error = None
        served.clock.now += PERIOD
        assert await probe(client, served.url) == (200, "ok")
    assert served.check.calls == 2


async def test_not_started_answers_without_asking_the_api(served: Served) -> None:
    served.health.started = False
    async with httpx.AsyncClient(timeout=10) as client:
        assert await probe(client, served.url) == (503, "starting")
    assert served.check.calls == 0


async def test_a_new_check_function_is_not_answered_from_the_old_ones_cache(
    served: Served,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        assert await probe(client, served.url) == (200, "ok")
        replacement = CountingCheck(error=RuntimeError("refused"))
        served.health.api_check = replacement
        assert await probe(client, served.url) == (503, "Kubernetes API: refused")
    assert (served.check.calls, replacement.calls) == (1, 1)


async def test_a_probe_that_gives_up_does_not_cancel_the_shared_check() -> None:
    clock, check = Clock(), CountingCheck()
    health = Health(cache_seconds=PERIOD, clock=clock)
    health.started, health.api_check = True, check
    check.gate.clear()
    quitter = asyncio.create_task(health.ready())
    waiter = asyncio.create_task(health.ready())
    await asyncio.sleep(0.05)
    quitter.cancel()
    check.gate.set()
    assert await waiter == (True, "ok")
    assert check.calls == 1
    assert await health.ready() == (True, "ok")
    assert check.calls == 1


def test_the_default_period_is_a_few_seconds_below_the_probe_period() -> None:
    assert 1 <= READY_CACHE_SECONDS < 10  # the chart's readinessProbe.periodSeconds
