"""Connections by key, built on first use and rebuilt when their resource or Secret changes.

Owned here: ``ConnectionPool`` (one ``Connection`` per connection key, shared by every
ModelService that uses it; the checks that come before any ZStack call: the connection exists,
is offered to the object's namespace, has a usable endpoint and Secret) and
``CredentialsError``, the one error for "this connection cannot be used now", with a reason
word for the connection's own status. A changed resource or Secret drops the cached client and
calls ``on_change`` with the key, so the objects waiting for that connection are re-checked at
once (``secretwatch`` reports the Secret changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..endpoints import (
    HTTP_OPT_IN,
    EndpointError,
    InsecureEndpointError,
    check_endpoint,
    warn_if_insecure,
)
from ..inventory import InventoryCache
from ..kubeapi import KubeAPI, KubeError
from ..resources.spec import ConnectionKind
from ..secret_data import CredentialsError as SecretDataError
from ..secret_data import credentials_from_secret
from ..settings import Settings
from ..zstack.batch import BatchReader
from ..zstack.client import ZStackClient
from ..zstack.credentials import Credentials
from ..zstack.transport import RequestObserver
from . import keys
from .keys import OPERATOR_DEFAULT, shown
from .service import Connection
from .sources import Registry, Source, from_settings

log = logging.getLogger(__name__)

#: Seconds a replaced client stays open for the requests still using it.
_RETIRE_AFTER = 60.0


class CredentialsError(Exception):
    """A connection cannot be used now; the message says what to fix, ``reason`` in a word.

    Reasons: NotFound, NotOffered, InvalidSpec, InsecureEndpoint, SecretNotFound,
    SecretForbidden, SecretInvalid, and SecretUnreadable (the API server failed: retried).
    """

    def __init__(self, message: str, reason: str = "SecretInvalid") -> None:
        super().__init__(message)
        self.reason = reason


class ConnectionPool:
    """Every connection's client, built on demand from the ``registry``."""

    def __init__(
        self,
        settings: Settings,
        kube: KubeAPI,
        universe: Callable[[str], Iterable[str]],
        observer: RequestObserver | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = Registry(from_settings(settings))
        self._kube = kube
        self._universe = universe
        self._observer = observer
        self.on_change = on_change or (lambda _key: None)
        self._connections: dict[str, Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._retiring: dict[asyncio.Task[None], Connection] = {}
        self._ca_files: dict[str, str] = {}
        self._warned: set[str] = set()

    def resolve(self, namespace: str, ref: Mapping[str, Any] | None, pinned: str | None) -> str:
        """The key of the connection an object uses (``keys.resolve``)."""
        return keys.resolve(namespace, ref, pinned, self.registry.exists)

    def source(self, key: str, namespace: str | None) -> Source:
        """The usable configuration of ``key`` for an object in ``namespace`` (None: any)."""
        source = self.registry.get(key)
        if source is None:
            namespaced = key.startswith(f"{ConnectionKind.NAMESPACED}/")
            where = f" in namespace {namespace}" if namespace and namespaced else ""
            raise CredentialsError(
                f"{shown(key)} does not exist{where}: create it, or change spec.connectionRef",
                "NotFound",
            )
        if namespace is not None and not source.offered_to(namespace):
            raise CredentialsError(
                f"{shown(key)} is not offered to namespace {namespace}: a cluster admin must add "
                "it to the connection's spec.allowedNamespaces",
                "NotOffered",
            )
        if source.problem:
            raise CredentialsError(
                f"{source.label} cannot be used: {source.problem}", "InvalidSpec"
            )
        # A resource's opt-in is its spec field, not the operator's flag.
        opt_in = HTTP_OPT_IN if key == OPERATOR_DEFAULT else "spec.allowInsecureHTTP: true"
        try:
            check_endpoint(source.endpoint, allow_http=source.allow_http, opt_in=opt_in)
        except InsecureEndpointError as exc:
            raise CredentialsError(f"{source.label}: {exc}", "InsecureEndpoint") from None
        except EndpointError as exc:
            raise CredentialsError(f"{source.label}: {exc}", "InvalidSpec") from None
        return source

    async def get(self, key: str, namespace: str | None = None) -> Connection:
        """The connection of ``key`` for an object in ``namespace`` (CredentialsError: unusable)."""
        source = self.source(key, namespace)
        conn = self._connections.get(key)
        if conn is not None and conn.source == source:
            return conn
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            conn = self._connections.get(key)
            if conn is None or conn.source != source:
                fresh = await self._build(source)
                if conn is not None:
                    self._retire(conn)
                self._connections[key] = conn = fresh
            return conn

    async def _read_secret(self, source: Source) -> tuple[Credentials, str]:
        namespace, name = source.secret
        where = f"{namespace}/{name}"
        try:
            secret = await self._kube.get_secret(namespace, name)
        except KubeError as exc:
            if exc.status == 403:  # RBAC: the installer's to fix, not to retry
                hint = (
                    "grant get and watch on it (docs/install.md#rbac)"
                    if source.key == OPERATOR_DEFAULT
                    else f"with Helm, add {namespace} to tenancy.secretNamespaces"
                )
                raise CredentialsError(
                    f"the operator may not read credentials Secret {where} of {source.label} "
                    f"({exc}); {hint}",
                    "SecretForbidden",
                ) from None
            raise CredentialsError(
                f"cannot read credentials Secret {where} of {source.label}: {exc}",
                "SecretUnreadable",
            ) from None
        if secret is None:
            raise CredentialsError(
                f"credentials Secret {where} of {source.label} not found: create it with keys "
                "accountName and password (or accessKeyId and accessKeySecret)",
                "SecretNotFound",
            )
        version = str(secret.get("metadata", {}).get("resourceVersion", ""))
        try:
            return credentials_from_secret(secret, where), version
        except SecretDataError as exc:
            raise CredentialsError(str(exc), "SecretInvalid") from None

    def _verify(self, source: Source) -> bool | str:
        if source.insecure_skip_tls_verify:
            return False
        if source.ca_bundle:
            path = self._ca_files.get(source.ca_bundle)
            if path is None:
                fd, path = tempfile.mkstemp(prefix="zstack-ca-", suffix=".pem")
                with os.fdopen(fd, "w") as f:
                    f.write(source.ca_bundle)
                self._ca_files[source.ca_bundle] = path
            return path
        return source.ca_file or True

    async def _build(self, source: Source) -> Connection:
        credentials, version = await self._read_secret(source)
        if source.insecure_skip_tls_verify:
            log.warning("TLS verification of %s is disabled", source.label)
        if source.key != OPERATOR_DEFAULT and source.key not in self._warned:
            # Once per connection (the runner warns about the operator's own at start).
            self._warned.add(source.key)
            warn_if_insecure(source.endpoint, source.label)
        client = ZStackClient(
            source.endpoint,
            credentials,
            max_in_flight=source.max_in_flight,
            verify=self._verify(source),
            observer=self._observer,
            time_zone=source.time_zone,
        )
        key = source.key
        return Connection(
            source=source,
            client=client,
            reader=BatchReader(client),
            cache=InventoryCache(client, lambda: self._universe(key)),
            secret_version=version,
        )

    def _retire(self, conn: Connection) -> None:
        async def later() -> None:
            await asyncio.sleep(_RETIRE_AFTER)
            await conn.client.aclose()

        task = asyncio.create_task(later())
        self._retiring[task] = conn
        task.add_done_callback(lambda t: self._retiring.pop(t, None))

    def _drop(self, key: str) -> None:
        conn = self._connections.pop(key, None)
        if conn is not None:
            self._retire(conn)

    def put(self, source: Source) -> None:
        """A connection resource was added or changed."""
        old = self.registry.put(source)
        if old != source:
            self._drop(source.key)
            self.on_change(source.key)

    def remove(self, key: str) -> None:
        """A connection resource is gone."""
        if self.registry.remove(key) is not None:
            self._drop(key)
            self.on_change(key)

    def secret_changed(self, namespace: str, name: str, version: str) -> list[str]:
        """A credentials Secret changed (or went): the keys of the connections it affects."""
        keys = []
        for source in self.registry.using_secret(namespace, name):
            conn = self._connections.get(source.key)
            if conn is None or conn.secret_version != version:
                self._drop(source.key)
                keys.append(source.key)
        for key in keys:
            self.on_change(key)
        return keys

    async def aclose(self) -> None:
        """Log out of every connection and remove the CA files written for them."""
        for task, conn in list(self._retiring.items()):
            task.cancel()
            await conn.client.aclose()
        for conn in list(self._connections.values()):
            await conn.client.aclose()
        self._connections.clear()
        for path in self._ca_files.values():
            with contextlib.suppress(OSError):
                os.unlink(path)


__all__ = ["OPERATOR_DEFAULT", "ConnectionPool", "CredentialsError"]
