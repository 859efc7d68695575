"""One usable ZStack connection: its client, coalescing reader and inventory cache.

Owned here: ``Connection``, reconcile's ``ServiceAPI`` for one connection: the calls reconcile
makes, with reads served by the coalescing reader (fresh) or the bulk-refreshed cache
(``max_age`` > 0), and the owner-marker calls (``owner_tags``, ``mark_owner``) that prove which
ModelService a service belongs to (docs/tenancy.md). Built by ``pool``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..inventory import InventoryCache
from ..resources.spec import OWNER_TAG_PREFIX
from ..zstack.ai import AiApi
from ..zstack.batch import BatchReader
from ..zstack.client import ZStackClient
from ..zstack.errors import ZStackError
from ..zstack.models import AddModelServiceParam, ModelServiceInventory, UpdateModelServiceParam
from .sources import Source

log = logging.getLogger(__name__)

#: Seconds before a GetVersion that failed is asked again.
_VERSION_RETRY = 30.0


@dataclass
class Connection:
    """One ZStack endpoint with its credentials, client, reader and cache.

    It is reconcile's ``ServiceAPI``: the calls reconcile makes, with reads served by the
    coalescing reader (fresh) or the bulk-refreshed cache (``max_age`` > 0).
    """

    source: Source
    client: ZStackClient
    reader: BatchReader
    cache: InventoryCache
    secret_version: str
    #: What GetVersion answered (None: not asked yet, or ZStack did not answer).
    zstack_version: str | None = None
    _version_asked: float = field(default=-_VERSION_RETRY, repr=False)

    @property
    def key(self) -> str:
        """The connection's key (``keys``)."""
        return self.source.key

    @property
    def label(self) -> str:
        """How messages name this connection."""
        return self.source.label

    @property
    def ai(self) -> AiApi:
        """Model centers, models and deployments of this connection (``zstack.ai``)."""
        return self.client.ai

    @property
    def allow_adoption(self) -> bool:
        """Whether ModelServices may adopt existing services through this connection."""
        return self.source.allow_adoption

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

    async def zstack_release(self) -> str | None:
        """The node's release (GetVersion, no session), asked once; again 30 s after a failure.

        Asked only by objects that set a release-dependent field (``resources.releases``), so a
        restart with none of them costs no request for it.
        """
        now = time.monotonic()
        if self.zstack_version is None and now - self._version_asked >= _VERSION_RETRY:
            self._version_asked = now
            try:
                self.zstack_version = await self.client.get_version()
            except ZStackError as exc:
                # Not any object's failure: meanwhile the newest field set is assumed, so nothing
                # the user set is dropped on a guess.
                log.info("%s: cannot read the ZStack version yet (%s)", self.key, exc)
        return self.zstack_version

    async def owner_tags(self, uuid: str) -> list[str]:
        """The owner markers (``OWNER_TAG_PREFIX`` user tags) on the service ``uuid``."""
        tags = await self.client.query_user_tags(uuid)
        return [t.tag for t in tags if t.tag.startswith(OWNER_TAG_PREFIX)]

    async def mark_owner(self, uuid: str, tag: str, *, job_uuid: str, wait: float) -> None:
        """CreateUserTag ``tag`` on the service ``uuid`` (adoption)."""
        await self.client.create_user_tag(uuid, tag, job_uuid=job_uuid, wait=wait)
