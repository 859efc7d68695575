"""``ZStackClient``: the typed, async model-service API of one ZStack endpoint.

Owned here: the public operations (add, get, query, batch get, update, delete, bind, unbind,
resume a job; the tenancy calls of ``zstack.tenancy``: version, current account, user tags;
the AI lifecycle calls of ``zstack.ai`` as ``client.ai``)
and their exact request envelopes (ZSTACK-API.md 2.1 and 3.1): ``{"param": ...}``
plus top-level ``systemTags``/``userTags`` for AddModelService, ``{"updateModelService": ...}``
with only the given fields, ``{"param": {}}`` for bind, query strings for GET and DELETE.
Inventories are parsed with the node's time zone (``zstack.nodetime``), so their dates are
the right instants. Everything below an operation (auth, retries, polling, errors, the zone)
lives in the sibling modules.
Used by the operator's reconcile layer, ``zstack.batch`` and the ``bench-client`` command.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from . import tenancy
from .ai import AiApi
from .auth import AccessKeyAuth, Authenticator, SessionAuth
from .credentials import AccessKeyCredentials, AccountCredentials, Credentials
from .dispatch import Call, Dispatcher
from .errors import ZStackConfigError, ZStackRESTError
from .jobs import JobRunner
from .models import (
    MODEL_SERVICE_VO,
    AccountInventory,
    AddModelServiceParam,
    DeleteMode,
    ModelServiceInventory,
    UpdateModelServiceParam,
    UserTagInventory,
)
from .nodetime import NodeTime
from .redact import Redactor
from .retry import PollPolicy, RetryPolicy
from .transport import Params, RequestObserver, Transport

log = logging.getLogger(__name__)

#: ZStack answers at most this many inventories per query (``limit`` defaults to 1000).
SERVER_PAGE_LIMIT = 1000
#: Most uuids one ``uuid?=`` query may name, with ``limit`` raised to match: a uuid and its
#: comma take 33 bytes of the URL, and ZStack's Tomcat accepts 64 KiB of request head
#: (``maxHttpHeaderSize=65536``, ZSTACK-API.md section 10 row 16): 1,800 leave ~6 KiB spare.
MAX_UUIDS_PER_QUERY = 1800
_SERVICES = "/ai/model-services"


@dataclass(frozen=True)
class QueryResult:
    """One page of QueryModelService; ``total`` only when ``reply_with_count`` was asked."""

    inventories: list[ModelServiceInventory]
    total: int | None = None


def _secrets_of(credentials: Credentials) -> tuple[str, ...]:
    if isinstance(credentials, AccountCredentials):
        return credentials.password.get_secret_value(), credentials.password_hash()
    return (credentials.access_key_secret.get_secret_value(),)


def _inventory(result: dict[str, Any], api: str, context: dict[str, Any]) -> ModelServiceInventory:
    inventory = result.get("inventory")
    if not isinstance(inventory, dict):
        raise ZStackRESTError(200, "the reply has no inventory", api=api)
    return ModelServiceInventory.model_validate(inventory, context=context)


class ZStackClient:
    """Async client of one ZStack endpoint; share one instance per endpoint + credentials.

    ``endpoint`` is the root URL (``http://mn:8080``); ``/zstack/v1`` is appended. Every
    mutation takes ``job_uuid`` (sent as ``X-Job-UUID``; generated when omitted) and ``wait``
    (seconds to poll before ``JobTimeoutError``; None uses ``poll.timeout``). ``time_zone`` is
    the management node's IANA zone: AccessKey ``Date`` headers carry its local wall clock and
    inventory dates are read in it; None means UTC, ``"auto"`` asks the node
    (``zstack.autozone``). An unknown name is ``ZStackConfigError``.
    """

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        *,
        max_in_flight: int = 16,
        verify: bool | str = True,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        observer: RequestObserver | None = None,
        time_zone: str | None = None,
    ) -> None:
        if not isinstance(credentials, AccountCredentials | AccessKeyCredentials):
            raise ZStackConfigError("credentials must be Account- or AccessKeyCredentials")
        self._node_time = NodeTime(time_zone)
        self._transport = Transport(
            endpoint,
            redact=Redactor(*_secrets_of(credentials)),
            max_in_flight=max_in_flight,
            verify=verify,
            timeout=timeout,
            observer=observer,
        )
        auth: Authenticator
        if isinstance(credentials, AccountCredentials):
            auth = SessionAuth(credentials, self._transport, self._node_time)
        else:
            auth = AccessKeyAuth(credentials, self._node_time)
        self._auth = auth
        self._max_in_flight = max_in_flight
        self._dispatcher = Dispatcher(
            self._transport, auth, retry or RetryPolicy(), self._node_time
        )
        self._jobs = JobRunner(self._dispatcher, poll or PollPolicy())
        #: Model centers, models and deployments (``zstack.ai``), sharing this client's
        #: session, retries, job polling and in-flight cap.
        self.ai = AiApi(self._dispatcher, self._jobs)

    @property
    def endpoint(self) -> str:
        """The API root every request goes to (``<endpoint>/zstack/v1``)."""
        return self._transport.base_url

    @property
    def time_zone(self) -> str | None:
        """The node's zone as configured or learned (None: UTC by default, or not learned)."""
        return self._node_time.name

    def __repr__(self) -> str:
        return (
            f"ZStackClient(endpoint={self.endpoint!r}, auth={self._auth!r}, "
            f"max_in_flight={self._max_in_flight}, time_zone={self._node_time.describe()!r})"
        )

    def _context(self) -> dict[str, Any]:
        return self._node_time.context()

    def _maybe_inventory(self, result: dict[str, Any], api: str) -> ModelServiceInventory | None:
        return _inventory(result, api, self._context()) if "inventory" in result else None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Log out (session mode) and close the connection pool; safe to call twice."""
        if self._transport.closed:
            return
        await self._auth.close()
        await self._transport.aclose()

    # -- mutations -------------------------------------------------------------------------

    async def add_model_service(
        self,
        param: AddModelServiceParam,
        *,
        system_tags: Sequence[str] | None = None,
        user_tags: Sequence[str] | None = None,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> ModelServiceInventory:
        """AddModelService: ``POST /ai/model-services`` ``{"param", "systemTags", "userTags"}``."""
        body: dict[str, Any] = {"param": param.wire()}
        if system_tags is not None:
            body["systemTags"] = list(system_tags)
        if user_tags is not None:
            body["userTags"] = list(user_tags)
        call = Call("POST", _SERVICES, api="AddModelService", body=body, job_uuid=job_uuid)
        return _inventory(await self._jobs.mutate(call, wait=wait), call.api, self._context())

    async def update_model_service(
        self,
        uuid: str,
        param: UpdateModelServiceParam,
        *,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> ModelServiceInventory:
        """UpdateModelService: ``PUT /ai/model-services/{uuid}`` with only the given fields."""
        call = Call(
            "PUT",
            f"{_SERVICES}/{uuid}",
            api="UpdateModelService",
            body={"updateModelService": param.wire()},
            job_uuid=job_uuid,
        )
        return _inventory(await self._jobs.mutate(call, wait=wait), call.api, self._context())

    async def delete_model_service(
        self,
        uuid: str,
        *,
        mode: DeleteMode = DeleteMode.PERMISSIVE,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> None:
        """DeleteModelService: ``DELETE /ai/model-services/{uuid}?deleteMode=<mode>``."""
        params: Params = [("deleteMode", DeleteMode(mode).value)]
        call = Call(
            "DELETE", f"{_SERVICES}/{uuid}", api="DeleteModelService", params=params,
            job_uuid=job_uuid,
        )  # fmt: skip
        await self._jobs.mutate(call, wait=wait)

    async def bind_model(
        self,
        model_uuid: str,
        service_uuid: str,
        *,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> ModelServiceInventory | None:
        """BindModelToService: ``POST /ai/models/{model}/model-services/{service}``.

        Returns the service's inventory when the reply carries one.
        """
        path = f"/ai/models/{model_uuid}/model-services/{service_uuid}"
        call = Call("POST", path, api="BindModelToService", body={"param": {}}, job_uuid=job_uuid)
        return self._maybe_inventory(await self._jobs.mutate(call, wait=wait), call.api)

    async def unbind_model(
        self,
        model_uuid: str,
        service_uuid: str,
        *,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> ModelServiceInventory | None:
        """UnbindModelFromService: ``DELETE /ai/models/{model}/model-services/{service}``.

        Returns the service's inventory when the reply carries one (ZSTACK-API.md section 10
        row 7: it does on 5.1.20).
        """
        path = f"/ai/models/{model_uuid}/model-services/{service_uuid}"
        call = Call("DELETE", path, api="UnbindModelFromService", job_uuid=job_uuid)
        return self._maybe_inventory(await self._jobs.mutate(call, wait=wait), call.api)

    async def wait_job(
        self,
        job_uuid: str,
        *,
        api: str = "",
        # Not asyncio.timeout: expiry must raise JobTimeoutError naming the job, and must not
        # cancel a poll in the middle.
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ModelServiceInventory | None:
        """Resume a job by uuid (e.g. after a restart): its inventory, or None if it has none.

        ``job_uuid`` is the one a mutation was sent with: if the client resent it after a
        session expiry, the resent job's outcome is returned. Raises the job's
        ``ZStackAPIError`` if it failed, ``JobExpiredError`` if ZStack no longer knows it (fall
        back to a query) and ``JobTimeoutError`` if still running.
        """
        result = await self._jobs.resume(job_uuid, api=api, timeout=self._jobs.deadline(timeout))
        # Polls carry no credential, so nothing has learned an "auto" zone yet in a new process.
        await self._dispatcher.ensure_zone()
        return self._maybe_inventory(result, api)

    # -- queries ---------------------------------------------------------------------------

    async def query_model_services(
        self,
        conditions: Sequence[str] = (),
        *,
        limit: int | None = None,
        start: int | None = None,
        sort: str | None = None,
        reply_with_count: bool = False,
        fields: Sequence[str] | None = None,
    ) -> QueryResult:
        """QueryModelService: ``GET /ai/model-services?q=<cond>&q=...`` (conditions ANDed)."""
        params: Params = [("q", condition) for condition in conditions]
        if limit is not None:
            params.append(("limit", str(limit)))
        if start is not None:
            params.append(("start", str(start)))
        if sort is not None:
            params.append(("sort", sort))
        if reply_with_count:
            params.append(("replyWithCount", "true"))
        if fields is not None:
            # The uuid identifies every inventory the client hands out.
            params.append(("fields", ",".join(dict.fromkeys(["uuid", *fields]))))
        call = Call("GET", _SERVICES, api="QueryModelService", params=params)
        body = (await self._dispatcher.send(call)).reply.obj()
        context = self._context()
        inventories = [
            ModelServiceInventory.model_validate(i, context=context)
            for i in body.get("inventories", [])
        ]
        total = body.get("total")
        return QueryResult(inventories, int(total) if total is not None else None)

    async def get_model_service(self, uuid: str) -> ModelServiceInventory | None:
        """Return the service with this uuid, or None when ZStack has none (``inventories: []``)."""
        result = await self.query_model_services([f"uuid={uuid}"])
        return next((i for i in result.inventories if i.uuid == uuid), None)

    async def query_all(
        self,
        conditions: Sequence[str] = (),
        *,
        page_size: int = SERVER_PAGE_LIMIT,
        sort: str = "+uuid",
    ) -> list[ModelServiceInventory]:
        """Every match, following ``start``/``limit`` pages until a short page.

        Sorted by uuid by default so that the pages of an offset scan do not overlap.
        """
        if not 1 <= page_size <= SERVER_PAGE_LIMIT:
            raise ValueError(f"page_size must be between 1 and {SERVER_PAGE_LIMIT}")
        found: dict[str, ModelServiceInventory] = {}
        start = 0
        while True:
            page = await self.query_model_services(
                conditions, limit=page_size, start=start, sort=sort
            )
            for inventory in page.inventories:
                found.setdefault(inventory.uuid, inventory)
            if len(page.inventories) < page_size:
                return list(found.values())
            start += len(page.inventories)

    async def get_model_services(
        self, uuids: Iterable[str], *, batch_size: int = SERVER_PAGE_LIMIT
    ) -> dict[str, ModelServiceInventory]:
        """Return the existing services among ``uuids`` by uuid; one ``uuid?=`` query per chunk."""
        if not 1 <= batch_size <= MAX_UUIDS_PER_QUERY:
            raise ValueError(f"batch_size must be between 1 and {MAX_UUIDS_PER_QUERY}")
        wanted = list(dict.fromkeys(uuids))
        asked = set(wanted)
        found: dict[str, ModelServiceInventory] = {}
        # One chunk after the other: the in-flight cap is shared with every other caller, and
        # a failing chunk then raises its own typed error rather than an ExceptionGroup.
        for i in range(0, len(wanted), batch_size):
            chunk = wanted[i : i + batch_size]
            page = await self.query_model_services([f"uuid?={','.join(chunk)}"], limit=len(chunk))
            found.update((inv.uuid, inv) for inv in page.inventories if inv.uuid in asked)
        return found

    # -- tenancy ---------------------------------------------------------------------------

    async def get_version(self) -> str:
        """GetVersion: the management node's version, e.g. ``"5.5.22"`` (no login needed)."""
        return await tenancy.get_version(self._dispatcher)

    async def current_account(self) -> AccountInventory:
        """The account behind this client's credentials (QueryAccount)."""
        session_account = None
        if isinstance(self._auth, SessionAuth):
            await self._auth.session()
            session_account = self._auth.account_uuid
        return await tenancy.current_account(self._dispatcher, session_account)

    async def query_user_tags(self, resource_uuid: str) -> list[UserTagInventory]:
        """QueryUserTag: the user tags on ``resource_uuid`` this account may see."""
        return await tenancy.query_user_tags(self._dispatcher, resource_uuid)

    async def create_user_tag(
        self,
        resource_uuid: str,
        tag: str,
        *,
        resource_type: str = MODEL_SERVICE_VO,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> UserTagInventory:
        """CreateUserTag: put the free-text ``tag`` on ``resource_uuid``.

        A duplicate is ``SYS.1006``, and so is another account's resource.
        """
        return await tenancy.create_user_tag(
            self._jobs,
            resource_uuid,
            tag,
            resource_type=resource_type,
            job_uuid=job_uuid,
            wait=wait,
            context=self._context(),
        )

    async def delete_tag(
        self, uuid: str, *, job_uuid: str | None = None, wait: float | None = None
    ) -> None:
        """DeleteTag: remove the tag ``uuid`` (an unknown uuid is success)."""
        await tenancy.delete_tag(self._jobs, uuid, job_uuid=job_uuid, wait=wait)
