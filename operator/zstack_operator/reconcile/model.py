"""The seam of reconcile: what it is given, what it talks to, and what it answers.

Owned here: ``Resource`` (the plain data of one ModelService object), the Protocols reconcile
and finalize depend on (``Connections`` -> ``ServiceAPI``, the seven ZStack calls they make,
and ``StatusWriter``), ``StatusWriteError``, and the one result type: ``Done``, ``Requeue``,
``Retry`` or ``Terminal``, carried with the status and Events by ``Outcome``. Concrete classes
live elsewhere (``connections``, ``handlers``); the unit tests bring fakes that honour these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..resources import ANNOTATION_PAUSED, ModelServiceStatus
from ..status import Transition
from ..zstack.models import AddModelServiceParam, ModelServiceInventory, UpdateModelServiceParam


@dataclass(frozen=True)
class Resource:
    """What reconcile needs of a ModelService object."""

    namespace: str
    name: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)
    #: ``metadata.creationTimestamp`` (RFC 3339, the API server's clock).
    created_at: str | None = None

    @property
    def paused(self) -> bool:
        """``ai.zstack.io/paused: "true"`` stops every write."""
        return self.annotations.get(ANNOTATION_PAUSED, "").strip().lower() == "true"

    @property
    def ref(self) -> str:
        """``namespace/name``, as log lines and messages name the object."""
        return f"{self.namespace}/{self.name}"


class ServiceAPI(Protocol):
    """The ZStack calls of one connection that reconcile and finalize make."""

    async def add_model_service(
        self,
        param: AddModelServiceParam,
        *,
        system_tags: Sequence[str] | None,
        user_tags: Sequence[str] | None,
        job_uuid: str,
        wait: float,
    ) -> ModelServiceInventory: ...

    async def update_model_service(
        self, uuid: str, param: UpdateModelServiceParam, *, job_uuid: str, wait: float
    ) -> ModelServiceInventory: ...

    async def delete_model_service(self, uuid: str, *, job_uuid: str, wait: float) -> None: ...

    async def bind_model(
        self, model_uuid: str, service_uuid: str, *, job_uuid: str, wait: float
    ) -> None: ...

    async def unbind_model(
        self, model_uuid: str, service_uuid: str, *, job_uuid: str, wait: float
    ) -> None: ...

    async def wait_job(
        self,
        job_uuid: str,
        *,
        api: str,
        timeout: float,  # noqa: ASYNC109 - a deadline that raises JobTimeoutError, not a cancel
    ) -> ModelServiceInventory | None: ...

    async def read(self, uuid: str, *, max_age: float) -> ModelServiceInventory | None:
        """The service's inventory (None: not in ZStack); ``max_age`` > 0 allows a cached one."""
        ...

    def remember(self, uuid: str, inventory: ModelServiceInventory | None) -> None:
        """Record what a write just returned (None: the service is gone)."""
        ...

    async def owner_tags(self, uuid: str) -> list[str]:
        """The owner markers on the service (``ownership``)."""
        ...

    async def mark_owner(self, uuid: str, tag: str, *, job_uuid: str, wait: float) -> None:
        """Add an owner marker to the service (adoption)."""
        ...

    @property
    def label(self) -> str:
        """How messages name the connection."""
        ...

    @property
    def allow_adoption(self) -> bool:
        """Whether this connection lets ModelServices adopt existing services."""
        ...

    async def zstack_release(self) -> str | None:
        """The management node's release (GetVersion), None when unknown."""
        ...


class Connections(Protocol):
    """Where a ModelService's ZStack connection comes from (``connections``)."""

    def resolve(self, namespace: str, ref: Mapping[str, Any] | None, pinned: str | None) -> str:
        """The key of the connection an object uses (``connections.keys.resolve``)."""
        ...

    async def get(self, key: str, namespace: str | None = None) -> ServiceAPI:
        """The connection of ``key`` for an object in ``namespace``.

        Raises ``connections.CredentialsError`` when it cannot be used now.
        """
        ...


class StatusWriteError(Exception):
    """The status subresource could not be patched; the message says why."""


class StatusWriter(Protocol):
    """Writes a merge patch to the resource's status subresource; raises StatusWriteError."""

    async def __call__(self, resource: Resource, patch: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Done:
    """Nothing more to do until something changes."""


@dataclass(frozen=True)
class Requeue:
    """A ZStack job is still running: look again after ``after`` seconds (not an error)."""

    after: float
    reason: str


@dataclass(frozen=True)
class Retry:
    """Transient trouble: try again with backoff."""

    reason: str


@dataclass(frozen=True)
class Terminal:
    """Nothing will change until the spec or the credentials do; ``reason`` says what to fix."""

    reason: str


Result = Done | Requeue | Retry | Terminal


@dataclass(frozen=True)
class Outcome:
    """One pass: what comes next, the status it left and the Events to post."""

    result: Result
    status: ModelServiceStatus
    events: tuple[Transition, ...] = ()


@dataclass(frozen=True)
class Deps:
    """What reconcile talks to, and what this process knows about jobs it may have sent."""

    connections: Connections
    write_status: StatusWriter
    #: Seconds to wait for a ZStack job within one pass before recording it and requeueing.
    job_wait: float = 20.0
    #: The API server's time (RFC 3339) when this process started: an object created before it
    #: may have had its create sent by an earlier process. None: assume every object may.
    started_at: str | None = None
    #: Create jobs this process sent whose end it has not seen yet.
    sent: set[str] = field(default_factory=set)
    #: The uuids of the Models ``spec.modelRefs`` names, or what the service waits for.
    model_refs: Callable[[Resource], Awaitable[list[str] | str]] | None = None
    #: The objects (``Kind/name``) that still use a ModelService: its deletion waits for them.
    users: Callable[[Resource], Awaitable[list[str]]] | None = None

    def maybe_sent(self, res: Resource, job: str) -> bool:
        """Whether the create ``job`` may already be out (then it is asked before it is sent)."""
        if job in self.sent or self.started_at is None or res.created_at is None:
            return True
        return res.created_at <= self.started_at
