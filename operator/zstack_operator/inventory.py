"""A per-connection cache of ZStack inventories, refreshed in bulk, for drift and resume checks.

Why it exists: re-reading each service on its own would cost one request per resource per drift
interval, and one per resource after every operator restart. Instead every uuid the operator
knows is registered here, and a stale read refreshes *all* of them with ``uuid?=`` batch queries
(up to 1,800 uuids a request): ceil(N/1800) requests per interval, so a restart with 3,000
resources costs a login and two queries.
Reconciles record what they learn, so a fresh write never reads as drift.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from .zstack.client import MAX_UUIDS_PER_QUERY, ZStackClient
from .zstack.models import ModelServiceInventory

#: Uuids per ``uuid?=`` query (the query's ``limit`` is raised to match).
BATCH = MAX_UUIDS_PER_QUERY


class InventoryCache:
    """Latest known inventory per uuid, with the time it was read."""

    def __init__(
        self,
        client: ZStackClient,
        universe: Callable[[], Iterable[str]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._universe = universe
        self._clock = clock
        self._entries: dict[str, tuple[float, ModelServiceInventory | None]] = {}
        self._refreshing: asyncio.Task[None] | None = None

    def record(self, uuid: str, inventory: ModelServiceInventory | None) -> None:
        """Remember what a reconcile just read or wrote."""
        self._entries[uuid] = (self._clock(), inventory)

    def forget(self, uuid: str) -> None:
        """Drop a uuid whose resource is gone."""
        self._entries.pop(uuid, None)

    def cached(self, uuid: str, max_age: float) -> tuple[bool, ModelServiceInventory | None]:
        """(True, inventory) when an entry younger than ``max_age`` exists, else (False, None)."""
        entry = self._entries.get(uuid)
        if entry is not None and self._clock() - entry[0] <= max_age:
            return True, entry[1]
        return False, None

    async def get(self, uuid: str, max_age: float) -> ModelServiceInventory | None:
        """The inventory of ``uuid`` no older than ``max_age`` seconds (None: not in ZStack)."""
        hit, inventory = self.cached(uuid, max_age)
        if hit:
            return inventory
        await self._refresh(extra=uuid)
        return self._entries.get(uuid, (0.0, None))[1]

    async def _refresh(self, extra: str) -> None:
        # Single flight: callers arriving during a refresh share it; a uuid it did not
        # cover (registered meanwhile) triggers one more.
        while True:
            task = self._refreshing
            if task is None:
                task = asyncio.ensure_future(self._fetch_all(extra))
                self._refreshing = task
                task.add_done_callback(lambda _: setattr(self, "_refreshing", None))
            await asyncio.shield(task)
            if extra in self._entries:
                return

    async def _fetch_all(self, extra: str) -> None:
        started = self._clock()
        uuids = sorted({*self._universe(), extra})
        found: dict[str, ModelServiceInventory] = await self._client.get_model_services(
            uuids, batch_size=BATCH
        )
        for uuid in uuids:
            # A reconcile that recorded this uuid while the query ran knows better.
            if self._entries.get(uuid, (-1.0, None))[0] < started:
                self._entries[uuid] = (started, found.get(uuid))
