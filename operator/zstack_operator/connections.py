"""ZStack connections: credentials from a Secret, one pooled client per connection.

Owned here: turning the operator's default connection (endpoint from settings, credentials
from a Kubernetes Secret) into a ``ZStackClient`` with its coalescing ``BatchReader`` and
``InventoryCache``, shared by every resource that uses it. The Secret is read once and again
only when ZStack refuses the credentials or a slow re-check asks, so a fixed Secret is picked up
without a restart and without reading it once per resource.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import SecretStr

from .inventory import InventoryCache
from .kubeapi import KubeAPI, KubeError
from .settings import Settings
from .status import register_secret
from .zstack.batch import BatchReader
from .zstack.client import ZStackClient
from .zstack.credentials import AccessKeyCredentials, AccountCredentials, Credentials
from .zstack.transport import RequestObserver

log = logging.getLogger(__name__)

#: Seconds between two re-reads of the credentials Secret while credentials are failing.
RECHECK = 15.0
#: The only connection this release knows; ``spec.connectionRef`` may name it or be omitted.
DEFAULT_CONNECTION = "default"


class CredentialsError(Exception):
    """The credentials Secret is missing, unreadable or incomplete; the message says which."""


@dataclass
class Connection:
    """One ZStack endpoint with its credentials, client, reader and cache."""

    name: str
    client: ZStackClient
    reader: BatchReader
    cache: InventoryCache
    secret_version: str


def _decode(data: dict[str, str], key: str) -> str | None:
    raw = data.get(key)
    return base64.b64decode(raw).decode().strip() if raw else None


def credentials_from_secret(secret: dict[str, object], where: str) -> Credentials:
    """Account or AccessKey credentials from a Secret's ``data``; CredentialsError if neither."""
    data = secret.get("data") or {}
    assert isinstance(data, dict)
    account, password = _decode(data, "accountName"), _decode(data, "password")
    key_id, key_secret = _decode(data, "accessKeyId"), _decode(data, "accessKeySecret")
    if account and password:
        register_secret(password)
        return AccountCredentials(account_name=account, password=SecretStr(password))
    if key_id and key_secret:
        register_secret(key_secret)
        return AccessKeyCredentials(access_key_id=key_id, access_key_secret=SecretStr(key_secret))
    raise CredentialsError(
        f"Secret {where} must hold accountName and password, or accessKeyId and accessKeySecret"
    )


class ConnectionPool:
    """Connections by name, built on first use and rebuilt when their Secret changes."""

    def __init__(
        self,
        settings: Settings,
        kube: KubeAPI,
        universe: Callable[[str], Iterable[str]],
        observer: RequestObserver | None = None,
    ) -> None:
        self._settings = settings
        self._kube = kube
        self._universe = universe
        self._observer = observer
        self._connections: dict[str, Connection] = {}
        self._lock = asyncio.Lock()
        self._version = ""
        self._checked_at = -RECHECK

    async def get(self, name: str | None) -> Connection:
        """The connection for ``spec.connectionRef.name`` (None means the default)."""
        name = name or DEFAULT_CONNECTION
        if name != DEFAULT_CONNECTION:
            raise CredentialsError(
                f"unknown connection {name!r}: this operator has only the "
                f"{DEFAULT_CONNECTION!r} connection; remove spec.connectionRef"
            )
        conn = self._connections.get(name)
        if conn is not None:
            return conn
        async with self._lock:
            conn = self._connections.get(name)
            if conn is None:
                conn = await self._build(name)
                self._connections[name] = conn
            return conn

    async def _read_secret(self) -> tuple[Credentials, str]:
        ref = self._settings.credentials_secret
        try:
            secret = await self._kube.get_secret(ref.namespace, ref.name)
        except KubeError as exc:
            raise CredentialsError(f"cannot read credentials Secret {ref}: {exc}") from exc
        if secret is None:
            raise CredentialsError(
                f"credentials Secret {ref} not found: create it with keys accountName and "
                "password (or accessKeyId and accessKeySecret)"
            )
        version = str(secret.get("metadata", {}).get("resourceVersion", ""))
        return credentials_from_secret(secret, str(ref)), version

    async def _build(self, name: str) -> Connection:
        credentials, version = await self._read_secret()
        self._version = version
        if self._settings.insecure_skip_tls_verify:
            log.warning("TLS verification of %s is disabled", self._settings.endpoint)
        client = ZStackClient(
            self._settings.endpoint,
            credentials,
            max_in_flight=self._settings.max_in_flight,
            verify=self._settings.verify,
            observer=self._observer,
        )
        return Connection(
            name=name,
            client=client,
            reader=BatchReader(client),
            cache=InventoryCache(client, lambda: self._universe(name)),
            secret_version=version,
        )

    async def credentials_version(self) -> str:
        """The credentials Secret's resourceVersion ("" if unreadable), re-read every RECHECK s.

        A changed Secret drops the cached connection, so the next use logs in with the new
        credentials.
        """
        now = time.monotonic()
        if now - self._checked_at < RECHECK:
            return self._version
        self._checked_at = now
        try:
            _, version = await self._read_secret()
        except CredentialsError:
            version = ""
        if version != self._version:
            self._version = version
            async with self._lock:
                old = self._connections.pop(DEFAULT_CONNECTION, None)
            if old is not None and old.secret_version != version:
                await old.client.aclose()
            elif old is not None:
                self._connections[DEFAULT_CONNECTION] = old
        return version

    async def aclose(self) -> None:
        """Log out of every connection."""
        for conn in list(self._connections.values()):
            await conn.client.aclose()
        self._connections.clear()
