"""Kubernetes Events about the operator's objects: built here, posted in the background.

Owned here: ``event_body`` (a core/v1 Event for one ``status.Transition``) and ``EventPoster``,
a bounded queue and a few workers that post them without making a reconcile pass wait; it
drops one the API server refuses
(an Event is auxiliary: the status already says what happened). The operator posts its own
Events rather than through kopf because drift checks run outside kopf's handlers, where
kopf's event queue does not exist.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .resources import API_VERSION, KIND
from .status import Transition

log = logging.getLogger(__name__)

COMPONENT = "zstack-operator"
#: Events waiting to be posted (a few hundred bytes each); past this they are dropped and
#: logged rather than held without bound. A burst of 3,000 creates queues about 2,000.
MAX_PENDING = 20000
#: Events posted at once: they share the API-server connections with the status writes, which
#: must not queue behind them (a burst of creates would otherwise reach Ready later).
CONCURRENCY = 4


def event_body(
    namespace: str,
    name: str,
    uid: str,
    ev: Transition,
    *,
    now: datetime | None = None,
    kind: str = KIND,
) -> dict[str, Any]:
    """The core/v1 Event ``kubectl describe`` shows for ``ev`` on one object of ``kind``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": uid,
        },
        "type": "Warning" if ev.warning else "Normal",
        "reason": ev.reason,
        "message": ev.message,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": os.environ.get("POD_NAME") or socket.gethostname(),
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class EventPoster:
    """Posts Events from a bounded queue with a few workers; ``drain`` waits for the queue."""

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._send = send
        self._queue: asyncio.Queue[tuple[str, str, str, Transition, str]] = asyncio.Queue(
            MAX_PENDING
        )
        self._workers: list[asyncio.Task[None]] = []

    def post(
        self,
        namespace: str,
        name: str,
        uid: str,
        events: Iterable[Transition],
        kind: str = KIND,
    ) -> None:
        """Queue one Event per transition of an object of ``kind`` (workers start at the first)."""
        if not self._workers:
            self._workers = [asyncio.create_task(self._work()) for _ in range(CONCURRENCY)]
        for ev in events:
            try:
                self._queue.put_nowait((namespace, name, uid, ev, kind))
            except asyncio.QueueFull:
                log.warning("%s/%s: dropped Event %s: %d Events already wait to be posted",
                            namespace, name, ev.reason, MAX_PENDING)  # fmt: skip

    async def _work(self) -> None:
        while True:
            namespace, name, uid, ev, kind = await self._queue.get()
            try:
                await self._send(event_body(namespace, name, uid, ev, kind=kind))
            except Exception as exc:  # an Event is auxiliary: say so and drop it
                log.warning("%s/%s: could not post Event %s: %s", namespace, name, ev.reason, exc)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued Event is posted (or dropped), then stop the workers."""
        await self._queue.join()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
