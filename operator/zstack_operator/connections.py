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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from .inventory import InventoryCache
from .kubeapi import KubeAPI, KubeError
from .settings import Settings
from .zstack import known_secrets
from .zstack.batch import BatchReader
from .zstack.client import ZStackClient
from .zstack.credentials import AccessKeyCredentials, AccountCredentials, Credentials
from .zstack.models import AddModelServiceParam, ModelServiceInventory, UpdateModelServiceParam
from .zstack.transport import RequestObserver

log = logging.getLogger(__name__)

#: The only connection this release knows; ``spec.connectionRef`` may name it or be omitted.
DEFAULT_CONNECTION = "default"


class CredentialsError(Exception):
    """The credentials Secret is missing, unreadable or incomplete; the message says which."""


@dataclass
class Connection:
    """One ZStack endpoint with its credentials, client, reader and cache.

    It is reconcile's ``ServiceAPI``: the calls reconcile makes, with reads served by the
    coalescing reader (fresh) or the bulk-refreshed cache (``max_age`` > 0).
    """

    name: str
    client: ZStackClient
    reader: BatchReader
    cache: InventoryCache
    secret_version: str

    async def add_model_service(
        self,
        param: AddModelServiceParam,
        *,
        system_tags: Sequence[str] | None,
        user_tags: Sequence[str] | None,
        job_uuid: str,
        wait: float,
    ) -> ModelServiceInventory:
        """AddModelService (``ZStackClient.add_model_service``)."""
        return await self.client.add_model_service(
            param, system_tags=system_tags, user_tags=user_tags, job_uuid=job_uuid, wait=wait
        )

    async def update_model_service(
        self, uuid: str, param: UpdateModelServiceParam, *, job_uuid: str, wait: float
    ) -> ModelServiceInventory:
        """UpdateModelService."""
        return await self.client.update_model_service(uuid, param, job_uuid=job_uuid, wait=wait)

    async def delete_model_service(self, uuid: str, *, job_uuid: str, wait: float) -> None:
        """DeleteModelService."""
        await self.client.delete_model_service(uuid, job_uuid=job_uuid, wait=wait)

    async def bind_model(
        self, model_uuid: str, service_uuid: str, *, job_uuid: str, wait: float
    ) -> None:
        """BindModelToService."""
        await self.client.bind_model(model_uuid, service_uuid, job_uuid=job_uuid, wait=wait)

    async def unbind_model(
        self, model_uuid: str, service_uuid: str, *, job_uuid: str, wait: float
    ) -> None:
        """UnbindModelFromService."""
        await self.client.unbind_model(model_uuid, service_uuid, job_uuid=job_uuid, wait=wait)

    async def wait_job(
        self,
        job_uuid: str,
        *,
        api: str,
        timeout: float,  # noqa: ASYNC109 - a deadline that raises JobTimeoutError, not a cancel
    ) -> ModelServiceInventory | None:
        """Resume a job by uuid (``ZStackClient.wait_job``)."""
        return await self.client.wait_job(job_uuid, api=api, timeout=timeout)

    async def read(self, uuid: str, *, max_age: float) -> ModelServiceInventory | None:
        """The inventory of ``uuid``: from the cache when ``max_age`` allows, else fresh."""
        if max_age > 0:
            return await self.cache.get(uuid, max_age)
        inventory = await self.reader.get(uuid)
        self.cache.record(uuid, inventory)
        return inventory

    def remember(self, uuid: str, inventory: ModelServiceInventory | None) -> None:
        """Record what a write returned, so the next cached read does not call it drift."""
        if inventory is None:
            self.cache.forget(uuid)
        else:
            self.cache.record(uuid, inventory)


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
        known_secrets.register(password)
        return AccountCredentials(account_name=account, password=SecretStr(password))
    if key_id and key_secret:
        known_secrets.register(key_secret)
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
        self._changes = 0

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

    async def credential_changes(self) -> int:
        """Re-read the credentials Secret; how many times it has changed since the start.

        A changed Secret drops the cached connection, so the next use logs in with the new
        credentials. The drift loop calls this every ``RECHECK`` seconds while resources wait
        for a credentials fix, and re-checks them when the count moves.
        """
        try:
            _, version = await self._read_secret()
        except CredentialsError:
            version = ""
        if version != self._version:
            self._version = version
            self._changes += 1
            async with self._lock:
                old = self._connections.pop(DEFAULT_CONNECTION, None)
            if old is not None and old.secret_version != version:
                await old.client.aclose()
            elif old is not None:
                self._connections[DEFAULT_CONNECTION] = old
        return self._changes

    async def aclose(self) -> None:
        """Log out of every connection."""
        for conn in list(self._connections.values()):
            await conn.client.aclose()
        self._connections.clear()
