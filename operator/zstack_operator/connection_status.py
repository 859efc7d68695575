"""The connection resources' side of the operator: registry feed, status, deletion guard.

Owned here: ``ConnectionController``, which turns watch events of ZStackConnection and
ClusterZStackConnection objects into the pool's registry (and the Secret watches that follow
it), probes a connection whenever it or its Secret changes and on a slow timer, writes its
status (Ready, version, account, last check, users, the model centers the account sees), and
answers whether a deletion may go on: not while ModelServices, Models or deployments use it
(the status then says which, reason InUse). ``handlers`` calls it from kopf; nothing here
imports kopf.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from .connection_health import Health, probe, status_patch
from .connections import OPERATOR_DEFAULT, ConnectionPool, SecretWatcher
from .connections.keys import from_shown, key_of
from .connections.sources import from_object
from .kubeapi import KubeAPI, KubeError
from .resources import GROUP, KIND, VERSION
from .resources.connection import (
    CLUSTER_CONNECTION_KIND,
    CLUSTER_CONNECTION_PLURAL,
    CONNECTION_PLURAL,
)
from .resources.deployment import DEPLOYMENT_KIND, DEPLOYMENT_PLURAL
from .resources.model import MODEL_KIND, MODEL_PLURAL

log = logging.getLogger(__name__)

#: How many users a status message names before it says "and N more".
_NAMED_USERS = 5
#: The kinds besides ModelService that use a connection, read only when one is being deleted.
_CHAIN_KINDS = {MODEL_PLURAL: MODEL_KIND, DEPLOYMENT_PLURAL: DEPLOYMENT_KIND}


def _plural(kind: str) -> str:
    return CLUSTER_CONNECTION_PLURAL if kind == CLUSTER_CONNECTION_KIND else CONNECTION_PLURAL


class ConnectionController:
    """Keeps the pool's registry, the Secret watches and the connections' status current."""

    def __init__(
        self,
        pool: ConnectionPool,
        kube: KubeAPI,
        users: Callable[[str], list[str]],
        operator_namespace: str,
    ) -> None:
        self._pool = pool
        self._kube = kube
        self._users = users
        self._operator_namespace = operator_namespace
        self.watcher = SecretWatcher(kube, self._secret_changed)
        #: The last body seen of each connection resource, by key (for status refreshes).
        self._bodies: dict[str, tuple[str, Mapping[str, Any]]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        #: Connections whose QueryModelCenter fails: said once at info, not at every check.
        self._centers_failing: set[str] = set()

    def start(self) -> None:
        """Watch the operator's own credentials Secret from the start."""
        self.watcher.sync(self._pool.registry.secrets())

    def _secret_changed(self, namespace: str, name: str, version: str) -> None:
        for key in self._pool.secret_changed(namespace, name, version):
            log.info("credentials Secret %s/%s of %s changed", namespace, name, key)

    def changed(self, key: str) -> None:
        """The pool says ``key`` changed: refresh its status soon (once, however many say so)."""
        if key in self._bodies and key not in self._refreshing:
            task = asyncio.create_task(self._refresh_soon(key), name=f"refresh-{key}")
            self._refreshing[key] = task
            task.add_done_callback(lambda _t: self._refreshing.pop(key, None))

    async def _refresh_soon(self, key: str) -> None:
        await asyncio.sleep(1.0)  # one probe for a burst; and kopf's index sees the new user
        kind, body = self._bodies[key]
        try:
            await self.refresh(kind, body)
        except Exception:  # a status refresh must never take the operator down
            log.exception("status refresh of %s failed", key)

    def observed(self, kind: str, body: Mapping[str, Any]) -> str:
        """A connection object was seen (added, changed, or marked for deletion): its key."""
        source = from_object(kind, body, self._operator_namespace)
        self._bodies[source.key] = (kind, body)
        self._pool.put(source)
        self.watcher.sync(self._pool.registry.secrets())
        return source.key

    def gone(self, kind: str, body: Mapping[str, Any]) -> None:
        """A connection object is gone for good."""
        meta = body.get("metadata") or {}
        key = key_of(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        self._bodies.pop(key, None)
        self._centers_failing.discard(key)
        self._pool.remove(key)
        self.watcher.sync(self._pool.registry.secrets())

    async def refresh(self, kind: str, body: Mapping[str, Any], *, deleting: bool = False) -> int:
        """Probe the connection and write its status; how many objects use it.

        ``usedBy`` counts ModelServices (from kopf's index, free); a deletion also lists the
        Models and deployments that could use it, so none is left without credentials to
        delete its ZStack record with.
        """
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        key = key_of(kind, namespace, name)
        users = [f"{KIND} {ref}" for ref in self._users(key)]
        in_use = None
        if deleting:
            users += await self._chain_users(
                key, None if kind == CLUSTER_CONNECTION_KIND else namespace
            )
        if deleting and users:
            named = ", ".join(users[:_NAMED_USERS])
            more = f" and {len(users) - _NAMED_USERS} more" if len(users) > _NAMED_USERS else ""
            in_use = (
                f"deletion waits: {len(users)} object(s) use this connection ({named}{more});"
                " delete them or point them at another connection first"
            )
        health = await probe(self._pool, key)
        self._note_centers(key, health)
        patch = status_patch(
            health,
            generation=int(meta.get("generation") or 0),
            used_by=len(users),
            old=body.get("status") or {},
            in_use_message=in_use,
        )
        try:
            await self._kube.patch_status(GROUP, VERSION, _plural(kind), namespace, name, patch)
        except KubeError as exc:
            log.warning("cannot write the status of %s: %s", key, exc)
        return len(users)

    async def _chain_users(self, key: str, namespace: str | None) -> list[str]:
        """``Kind namespace/name`` of every Model and deployment using ``key``.

        An object uses the connection its status records (written whenever one is resolved),
        else the one its spec names now. A failed list counts as a user: when unsure, wait.
        """
        found: list[str] = []
        for plural, kind in _CHAIN_KINDS.items():
            try:
                items = await self._kube.list_objects(GROUP, VERSION, plural, namespace)
            except KubeError as exc:
                log.warning("cannot list %s to guard the deletion of %s: %s", plural, key, exc)
                found.append(f"{kind} (cannot list: {exc})")
                continue
            for obj in items:
                meta, status = obj.get("metadata") or {}, obj.get("status") or {}
                ns = str(meta.get("namespace") or "")
                recorded = status.get("connection")
                if recorded:
                    used = from_shown(ns, str(recorded))
                else:
                    pinned = OPERATOR_DEFAULT if status.get("uuid") else None
                    ref = (obj.get("spec") or {}).get("connectionRef")
                    used = self._pool.resolve(ns, ref, pinned)
                if used == key:
                    found.append(f"{kind} {ns}/{meta.get('name')}")
        return sorted(found)

    def _note_centers(self, key: str, health: Health) -> None:
        if health.centers_failed and key not in self._centers_failing:
            self._centers_failing.add(key)
            log.info("%s is Ready, but %s", key, health.centers_message)
        elif health.centers is not None:
            self._centers_failing.discard(key)

    async def aclose(self) -> None:
        """Stop the Secret watches and pending refreshes."""
        for task in list(self._refreshing.values()):
            task.cancel()
        await self.watcher.aclose()
