"""The management node's time zone as the client knows it (ZSTACK-API.md section 10, rows 1, 12).

A ZStack management node prints every inventory date as a wall-clock time in its JVM's zone,
without saying which, and by default (``rest.checkTimeZone=false``) checks an AccessKey
request's ``Date`` header by comparing the header's wall-clock part with its own local wall
clock, ignoring the zone the header names. So the client must know the node's zone.

Owned here: ``NodeTime``, built from the client's ``time_zone`` argument: ``None`` (UTC, what
the client always assumed), an IANA name, or ``"auto"`` (learned from the node by
``zstack.autozone`` before the first authenticated request, once, single-flight). It gives the
zone to the AccessKey ``Date`` header (``credentials.http_date``) and the validation context
that reads inventory dates in it (``models.date_context``). Used by ``zstack.auth``,
``zstack.dispatch`` and ``zstack.client``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ZStackConfigError
from .models import date_context

#: The ``time_zone`` value that asks the client to learn the zone from the node.
AUTO = "auto"


def zone_named(name: str) -> tzinfo:
    """The IANA zone ``name``; ``ZStackConfigError`` when this machine does not know it."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # ValueError: a malformed key such as "../x"; the name is configuration, not a secret.
        raise ZStackConfigError(
            f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai, UTC or auto"
        ) from None


class NodeTime:
    """Which zone the node's clock and printed dates are in."""

    def __init__(self, time_zone: str | None) -> None:
        self.auto = time_zone == AUTO
        self.zone: tzinfo = UTC
        #: The zone's name once known; None means "UTC, because nobody said otherwise".
        self.name: str | None = None
        if time_zone is not None and not self.auto:
            self.zone, self.name = zone_named(time_zone), time_zone
        self._learned = not self.auto
        self._task: asyncio.Task[tuple[tzinfo, str]] | None = None

    @property
    def pending(self) -> bool:
        """True while ``auto`` has not learned the zone yet."""
        return not self._learned

    def describe(self) -> str:
        """The zone for messages: its name, or what the default means."""
        if self.name is not None:
            return self.name
        return "not learned yet (auto)" if self.auto else "UTC, the default"

    def context(self) -> dict[str, Any]:
        """The ``model_validate`` context that reads inventory dates in the node's zone."""
        return date_context(self.zone)

    def learn(self, zone: tzinfo, name: str) -> None:
        """Record the zone ``auto`` found."""
        self.zone, self.name, self._learned = zone, name, True

    async def ensure(self, detect: Callable[[], Awaitable[tuple[tzinfo, str]]]) -> None:
        """Learn the zone with ``detect`` unless known; concurrent callers share one detection.

        A failed detection is not remembered: the next caller tries again.
        """
        if self._learned:
            return
        task = self._task
        if task is None or task.done():
            task = asyncio.create_task(_run(detect), name="zstack-time-zone")
            # A detection whose waiters were all cancelled must not log "never retrieved".
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._task = task
        zone, name = await asyncio.shield(task)
        self.learn(zone, name)


async def _run(detect: Callable[[], Awaitable[tuple[tzinfo, str]]]) -> tuple[tzinfo, str]:
    return await detect()
