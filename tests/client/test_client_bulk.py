"""Reads at scale: ``uuid?=`` chunks and pagination past the server's 1000-row limit."""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from zstack_operator.sim import SimConfig, SimMode, Simulator, running_simulator
from zstack_operator.zstack import ZStackClient
from zstack_operator.zstack.client import MAX_UUIDS_PER_QUERY

from tests.support.client_helpers import ADMIN, param

# One simulator with 2,500 services serves every test here: making them is the slow part.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim_2500() -> AsyncIterator[tuple[Simulator, list[str]]]:
    """A synchronous simulator holding 2,500 model services (made once per module)."""
    async with running_simulator(SimConfig(mode=SimMode.SYNC, job_duration_ms=0)) as sim:
        async with ZStackClient(sim.url, ADMIN, max_in_flight=32) as client:
            made = await asyncio.gather(
                *(client.add_model_service(param(name=f"bulk-{i:04d}")) for i in range(2500))
            )
        yield sim, [inv.uuid for inv in made]


async def test_batch_get_of_2500_uuids_costs_three_queries(
    sim_2500: tuple[Simulator, list[str]],
) -> None:
    sim, uuids = sim_2500
    await sim.admin.reset_counters()
    unknown = [uuidlib.uuid4().hex for _ in range(20)]
    async with ZStackClient(sim.url, ADMIN) as client:
        found = await client.get_model_services([*uuids, *unknown, *uuids[:10]])
        assert set(found) == set(uuids)
        assert {inv.name for inv in found.values()} == {f"bulk-{i:04d}" for i in range(2500)}
        assert (await sim.admin.counters()).count("QueryModelService", "200") == 3

        small = await client.get_model_services(uuids[:250], batch_size=100)
        assert set(small) == set(uuids[:250])
        assert (await sim.admin.counters()).count("QueryModelService", "200") == 6

        # The operator's drift cache asks up to 1,800 at once (the URL still fits 64 KiB).
        wide = await client.get_model_services(uuids, batch_size=MAX_UUIDS_PER_QUERY)
        assert set(wide) == set(uuids)
        assert (await sim.admin.counters()).count("QueryModelService", "200") == 8


async def test_query_all_pages_past_the_server_limit(
    sim_2500: tuple[Simulator, list[str]],
) -> None:
    sim, uuids = sim_2500
    await sim.admin.reset_counters()
    async with ZStackClient(sim.url, ADMIN) as client:
        first = await client.query_model_services(reply_with_count=True)
        # The server caps an unbounded query at 1000 inventories but counts them all.
        assert len(first.inventories) == 1000
        assert first.total == 2500
        everything = await client.query_all()
        assert sorted(inv.uuid for inv in everything) == sorted(uuids)
        named = await client.query_all(["name~=bulk-1%"], page_size=300)
        assert len(named) == 1000
    # One query above, three full pages and a short one for query_all, four for the filter.
    assert (await sim.admin.counters()).count("QueryModelService", "200") == 1 + 3 + 4
