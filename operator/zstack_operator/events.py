"""Kubernetes Events about ModelServices: built here, posted in the background.

Owned here: ``event_body`` (a core/v1 Event for one ``status.Transition``) and ``EventPoster``,
which posts them without making a reconcile pass wait and drops one the API server refuses
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
#: Events waiting to be posted; past this they are dropped (and logged), never queued forever.
MAX_PENDING = 1000
#: Events posted at once: they share the API-server connections with the status writes, which
#: must not queue behind them (a burst of creates would otherwise reach Ready later).
CONCURRENCY = 4


def event_body(
    namespace: str, name: str, uid: str, ev: Transition, *, now: datetime | None = None
) -> dict[str, Any]:
    """The core/v1 Event ``kubectl describe`` shows for ``ev`` on one ModelService."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{name}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
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
    """Posts Events in background tasks; ``drain`` waits for them (shutdown, tests)."""

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._send = send
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CONCURRENCY)

    def post(self, namespace: str, name: str, uid: str, events: Iterable[Transition]) -> None:
        """Queue one Event per transition."""
        for ev in events:
            if len(self._tasks) >= MAX_PENDING:
                log.warning("%s/%s: dropped Event %s: too many Events pending", namespace, name,
                            ev.reason)  # fmt: skip
                continue
            task = asyncio.create_task(self._one(event_body(namespace, name, uid, ev)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _one(self, body: dict[str, Any]) -> None:
        try:
            async with self._slots:
                await self._send(body)
        except Exception as exc:  # an Event is auxiliary: say so and drop it
            ref = body["involvedObject"]
            log.warning("%s/%s: could not post Event %s: %s", ref["namespace"], ref["name"],
                        body["reason"], exc)  # fmt: skip

    async def drain(self) -> None:
        """Wait for every queued Event."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
