"""Watching the credentials Secrets the connections use, each by name.

Owned here: ``SecretWatcher``: one task per Secret some connection reads, a Kubernetes watch
restricted to that Secret by a ``metadata.name`` field selector (so the operator never streams
other Secrets), reporting every new resourceVersion, deletion included, to a callback. Without
``list``/``watch`` permission on Secrets in that namespace it falls back to reading the Secret
every ``POLL`` seconds, and says so once in the log. Nothing here imports kopf.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from ..kubeapi import KubeAPI, KubeError

log = logging.getLogger(__name__)

#: Seconds between reads of a Secret that cannot be watched, and before re-opening a watch.
POLL = 5.0
#: How long one watch request stays open before it is renewed.
WATCH_TIMEOUT = 300

Changed = Callable[[str, str, str], None]


class SecretWatcher:
    """Keeps one watch per Secret in ``sync``'s set; reports (namespace, name, version)."""

    def __init__(self, kube: KubeAPI, changed: Changed) -> None:
        self._kube = kube
        self._changed = changed
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def sync(self, secrets: Iterable[tuple[str, str]]) -> None:
        """Watch exactly these Secrets: start the new ones, stop the ones no longer used."""
        wanted = set(secrets)
        for ref in list(self._tasks):
            if ref not in wanted:
                self._tasks.pop(ref).cancel()
        for ref in wanted - set(self._tasks):
            self._tasks[ref] = asyncio.create_task(self._watch(*ref), name=f"secret-{ref[1]}")

    async def _version(self, namespace: str, name: str) -> str:
        secret = await self._kube.get_secret(namespace, name)
        return "" if secret is None else str(secret["metadata"].get("resourceVersion", ""))

    async def _watch(self, namespace: str, name: str) -> None:
        version: str | None = None
        polling = False
        while True:
            try:
                current = await self._version(namespace, name)
                if version is not None and current != version:
                    self._changed(namespace, name, current)
                version = current
                if polling:
                    await asyncio.sleep(POLL)
                    continue
                async for event in self._kube.watch_secret(
                    namespace, name, version or "0", timeout=WATCH_TIMEOUT
                ):
                    meta = (event.get("object") or {}).get("metadata") or {}
                    seen = (
                        "" if event.get("type") == "DELETED" else str(meta.get("resourceVersion"))
                    )
                    if seen != version:
                        version = seen
                        self._changed(namespace, name, seen)
            except asyncio.CancelledError:
                raise
            except KubeError as exc:
                if exc.status == 403 and not polling:
                    polling = True
                    log.warning(
                        "cannot watch Secret %s/%s (%s); reading it every %.0f s instead",
                        namespace, name, exc, POLL,
                    )  # fmt: skip
                elif exc.status != 410:  # 410: the version expired; start over from a read
                    log.debug("watch of Secret %s/%s ended: %s", namespace, name, exc)
                    await asyncio.sleep(POLL)
            except Exception:  # the watch must outlive any surprise; it logs and starts over
                log.exception("watch of Secret %s/%s failed", namespace, name)
                await asyncio.sleep(POLL)

    async def aclose(self) -> None:
        """Stop every watch."""
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
