"""BatchReader: concurrent single-uuid reads coalesced into one ``uuid?=`` query."""

from __future__ import annotations

import asyncio
import uuid as uuidlib

from zstack_operator.sim import Simulator
from zstack_operator.zstack import BatchReader, ZStackClient

from tests.support.client_helpers import ADMIN, param


async def test_batch_reader_coalesces_300_concurrent_gets_into_one_query(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN) as client:
        made = await asyncio.gather(*(client.add_model_service(param()) for _ in range(150)))
        await sim.admin.reset_counters()
        reader = BatchReader(client)
        asked = [inv.uuid for inv in made] + [uuidlib.uuid4().hex for _ in range(150)]
        answers = await asyncio.gather(*(reader.get(u) for u in asked))
        assert answers[:150] == made
        assert answers[150:] == [None] * 150
        assert (await sim.admin.counters()).count("QueryModelService") == 1


async def test_batch_reader_flushes_at_max_batch_and_shares_duplicates(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN) as client:
        inv = await client.add_model_service(param())
        await sim.admin.reset_counters()
        reader = BatchReader(client, window=0.05, max_batch=100)
        asked = [inv.uuid] * 5 + [uuidlib.uuid4().hex for _ in range(250)]
        answers = await asyncio.gather(*(reader.get(u) for u in asked))
        assert answers[:5] == [inv] * 5
        assert set(answers[5:]) == {None}
        await reader.aclose()
    # 251 distinct uuids in batches of at most 100: three queries.
    assert (await sim.admin.counters()).count("QueryModelService") == 3


async def test_batch_reader_hands_the_query_error_to_every_caller(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN) as client:
        await client.query_model_services()
        await sim.admin.set_faults(throttle_rate=1.0, retry_after=600)
        reader = BatchReader(client)
        results = await asyncio.gather(
            *(reader.get(uuidlib.uuid4().hex) for _ in range(10)), return_exceptions=True
        )
    assert {type(r).__name__ for r in results} == {"ZStackRESTError"}
    assert (await sim.admin.counters()).count("QueryModelService", "429") == 1
