"""Coalesce concurrent single-uuid reads into one ``q=uuid?=a,b,c`` query (DESIGN.md 3, drift).

Owned here: ``BatchReader``. When the operator restarts, every ModelService resumes at once and
each wants "its" inventory; asked one by one that is a thousand queries. ``BatchReader.get``
parks each uuid for ``window`` seconds (or until ``max_batch`` uuids wait) and then answers
all of them from one ``ZStackClient.get_model_services`` call. Used by the operator's
connection pool (``connections.py``) for observe-before-act reads.
"""

from __future__ import annotations

import asyncio
import logging

from .client import SERVER_PAGE_LIMIT, ZStackClient
from .models import ModelServiceInventory

log = logging.getLogger(__name__)

_Waiter = asyncio.Future[ModelServiceInventory | None]


class BatchReader:
    """``await reader.get(uuid)`` with the cost of one query per window, not per call."""

    def __init__(
        self, client: ZStackClient, *, window: float = 0.01, max_batch: int = SERVER_PAGE_LIMIT
    ) -> None:
        if window < 0 or not 1 <= max_batch <= SERVER_PAGE_LIMIT:
            raise ValueError(f"need window >= 0 and 1 <= max_batch <= {SERVER_PAGE_LIMIT}")
        self._client = client
        self._window = window
        self._max_batch = max_batch
        self._pending: dict[str, list[_Waiter]] = {}
        self._timer: asyncio.TimerHandle | None = None
        # Strong references: the event loop only keeps weak ones to running tasks.
        self._flushes: set[asyncio.Task[None]] = set()

    async def get(self, uuid: str) -> ModelServiceInventory | None:
        """Return the inventory of ``uuid``, or None when ZStack has no such model service."""
        loop = asyncio.get_running_loop()
        waiter: _Waiter = loop.create_future()
        self._pending.setdefault(uuid, []).append(waiter)
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._window, self._flush)
        return await waiter

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, {}
        if not batch:
            return
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _answer(self, batch: dict[str, list[_Waiter]]) -> None:
        try:
            found = await self._client.get_model_services(batch, batch_size=self._max_batch)
        except asyncio.CancelledError:
            for waiters in batch.values():
                for waiter in waiters:
                    waiter.cancel()
            raise
        except Exception as exc:
            # Every parked caller gets the query's own typed error.
            log.debug("batched read of %d uuids failed: %s", len(batch), exc)
            for waiters in batch.values():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
            return
        for uuid, waiters in batch.items():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(found.get(uuid))

    async def aclose(self) -> None:
        """Answer what is parked now and wait for every running batch to finish."""
        self._flush()
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)
