"""The seam of the chain's reconcilers: what they are given and what they talk to.

Owned here: the Protocols the Model and ModelServiceDeployment reconcilers depend on
(``ChainAPI`` for one ZStack connection, ``ChainConnections``; ``refs.Objects`` reads the
namespace's objects), ``ChainDeps`` and ``KindOutcome``. The concrete classes are
``connections.Connection`` and ``handlers``' wiring of ``kubeapi``; tests bring the simulator
and a real API server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..reconcile.model import Resource, Result
from ..resources.status import ConditionedStatus
from ..status import Transition
from ..zstack.ai import AiApi
from .refs import Objects


class ChainAPI(Protocol):
    """The ZStack calls of one connection the chain makes."""

    @property
    def ai(self) -> AiApi:
        """Model centers, models and deployments."""
        ...

    @property
    def label(self) -> str:
        """How messages name the connection."""
        ...

    @property
    def allow_adoption(self) -> bool:
        """Whether objects may adopt existing ZStack resources through this connection."""
        ...

    async def owner_tags(self, uuid: str) -> list[str]:
        """The owner markers on a ZStack resource."""
        ...

    async def mark_owner(self, uuid: str, tag: str, *, job_uuid: str, wait: float) -> None:
        """Add an owner marker to a ZStack resource (adoption)."""
        ...


class ChainConnections(Protocol):
    """Where an object's ZStack connection comes from (``connections.ConnectionPool``)."""

    def resolve(self, namespace: str, ref: Mapping[str, Any] | None, pinned: str | None) -> str:
        """The key of the connection an object uses."""
        ...

    async def get(self, key: str, namespace: str | None = None) -> ChainAPI:
        """The connection of ``key``; raises ``connections.CredentialsError`` when unusable."""
        ...


#: Writes a merge patch to an object's status: (plural, resource, patch).
KindStatusWriter = Callable[[str, Resource, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class ChainDeps:
    """What the chain's reconcilers talk to."""

    connections: ChainConnections
    objects: Objects
    write_status: KindStatusWriter
    #: Seconds to wait for a ZStack job within one pass before recording it and requeueing.
    job_wait: float = 20.0


@dataclass(frozen=True)
class KindOutcome:
    """One pass over a Model or ModelServiceDeployment: what comes next, status and Events."""

    result: Result
    status: ConditionedStatus
    events: tuple[Transition, ...] = ()


__all__ = [
    "ChainAPI",
    "ChainConnections",
    "ChainDeps",
    "KindOutcome",
    "Objects",
]
