"""What the Model and ModelServiceDeployment reconcilers share.

Owned here: ``ChainPass`` (a pass over one object of either kind, written once at the end, or
early when a job must be recorded before it is sent), the connection lookup, the reports of a
ZStack failure and of an invalid spec, the waits for dependencies (a delay that grows from a
few seconds to 30 s: no hot loop, yet a folder applied in any order converges quickly), and
the derived job uuids (``reconcile.jobs``' rules: from what the object holds, never random).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from .. import status as st
from ..connections import OPERATOR_DEFAULT, CredentialsError
from ..connections.keys import from_shown, shown
from ..reconcile.finalize import PAUSED_RECHECK
from ..reconcile.model import Requeue, Resource, Result, Retry, StatusWriteError, Terminal
from ..reconcile.passes import BasePass
from ..resources import ReadyReason, SyncedReason
from ..resources.chainbase import ChainStatus
from ..zstack.errors import DuplicateJobError, ErrorKind, JobExpiredError, ZStackError
from .seam import ChainAPI, ChainDeps, KindOutcome

T = TypeVar("T")

#: Seconds between looks at a job that outlived a pass's wait, or at a deployment starting.
POLL = 3.0
#: Longest wait between two looks at a missing or not-Ready dependency.
MAX_DEPENDENCY_WAIT = 30.0


#: Looks at the POLL pace before the wait grows: a folder applied at once converges in seconds.
_QUICK_LOOKS = 10


def dependency_wait(attempt: int) -> float:
    """Seconds before looking again: 3 for the first ten looks, then growing by 3 up to 30."""
    return min(MAX_DEPENDENCY_WAIT, POLL * max(1, attempt - _QUICK_LOOKS + 2))


class Stop(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Ends a pass early with ``result`` (the status already says why)."""

    def __init__(self, result: Result) -> None:
        super().__init__(str(result))
        self.result = result


class ChainPass(BasePass[st.S]):
    """A pass over one Model or ModelServiceDeployment."""

    def __init__(self, res: Resource, deps: ChainDeps, plural: str, model: type[st.S]) -> None:
        async def write(resource: Resource, patch: dict[str, Any]) -> None:
            await deps.write_status(plural, resource, patch)

        super().__init__(res, write, model)

    async def finish(self, result: Result) -> KindOutcome:
        """Write the status once and return the outcome; raises StatusWriteError."""
        return KindOutcome(result, self.new, await self.write(result))

    async def finish_anyway(self, result: Result) -> KindOutcome:
        """``finish`` for deletion: a status that cannot be written must not hold it up."""
        try:
            return await self.finish(result)
        except StatusWriteError:
            return KindOutcome(result, self.new)

    async def save_now(self) -> None:
        """Store the status as it stands, before a call that must be recorded first."""
        await self._flush()


def validation_message(exc: ValidationError) -> str:
    """The first few schema errors as ``spec.<field>: <why>``."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        where = f"spec.{loc}" if loc else "spec"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def invalid(p: ChainPass[Any], message: str, what: str) -> Result:
    """An invalid spec: said in status, nothing sent, nothing retried until it changes."""
    p.ready_if_unset(ReadyReason.NOT_CREATED, f"not created: the spec is invalid ({what})")
    p.synced(False, SyncedReason.INVALID_SPEC, message)
    p.update(observed_generation=p.gen)
    return Terminal(message)


async def connection(
    p: ChainPass[Any],
    deps: ChainDeps,
    ref: Mapping[str, Any] | None,
    *,
    exists: bool,
    inherited: str | None = None,
) -> ChainAPI:
    """The object's connection; raises ``Stop`` when it cannot be used (the status says why).

    ``exists``: the ZStack resource exists, so the connection is pinned to the recorded one.
    ``inherited``: the connection of the object this one depends on, used when ``ref`` is unset.
    """
    recorded = p.old.connection if isinstance(p.old, ChainStatus) else None
    pinned = (recorded or OPERATOR_DEFAULT) if exists else inherited
    key = deps.connections.resolve(p.res.namespace, ref, pinned)
    if exists and key != from_shown(p.res.namespace, pinned or OPERATOR_DEFAULT):
        message = (
            f"spec.connectionRef names {shown(key)}, but the ZStack resource was created through "
            f"{pinned} and lives in its account; restore spec.connectionRef (or remove it)"
        )
        p.synced(False, SyncedReason.IMMUTABLE_FIELD_CHANGED, message)
        p.update(observed_generation=p.gen)
        raise Stop(Terminal(message))
    try:
        api = await deps.connections.get(key, p.res.namespace)
    except CredentialsError as exc:
        if not exists:
            p.ready(False, ReadyReason.NOT_CREATED, "not created: the connection is not usable")
        if exc.reason == "SecretUnreadable":
            p.synced(False, SyncedReason.RECONCILE_ERROR, f"{exc} (will retry)")
            raise Stop(Retry(str(exc))) from exc
        p.synced(False, SyncedReason.CONNECTION_UNAVAILABLE, f"{exc}; a fix is picked up soon")
        p.update(observed_generation=p.gen)
        raise Stop(Requeue(MAX_DEPENDENCY_WAIT, str(exc))) from exc
    p.update(connection=shown(key))
    return api


def failed(p: ChainPass[Any], exc: ZStackError, *, exists: bool, what: str) -> Result:
    """Report a ZStack failure: transient ones are retried, refusals wait for a fix."""
    message = st.describe(exc)
    p.update(error=st.error_status(exc))
    if exc.transient:
        if not exists:
            p.ready(False, ReadyReason.CREATING, f"waiting for ZStack to accept the {what}")
        p.synced(False, SyncedReason.RECONCILE_ERROR, f"{message} (will retry)")
        return Retry(message)
    if exc.kind == ErrorKind.AUTH:
        message += "; fix the connection's credentials Secret"
    else:
        message += "; fix the spec to retry"
    if not exists:
        p.ready(False, ReadyReason.NOT_CREATED, f"not created: ZStack refused the {what}")
    p.synced(False, SyncedReason.REJECTED, message)
    p.update(observed_generation=p.gen)
    return Terminal(message)


def waiting(p: ChainPass[Any], message: str, attempt: int) -> Result:
    """A dependency is missing or not Ready: say which, look again soon."""
    p.ready(False, ReadyReason.WAITING_FOR_DEPENDENCY, message)
    p.synced(False, SyncedReason.WAITING_FOR_DEPENDENCY, message)
    p.update(observed_generation=p.gen)
    return Requeue(dependency_wait(attempt), message)


async def sent(call: Awaitable[T], follow: Callable[[], Awaitable[T]]) -> T:
    """What ``call`` gave, or ``follow()`` when ZStack already knows ``call``'s job uuid.

    ``call`` is a ZStack mutation sent with a derived job uuid. A 400 "Duplicate job uuid" on
    the first try means an earlier send of this very job got through (a pass that died after
    sending, or one that ran on an older status): the job is followed to its end, never sent
    again, and it is not counted as failed.
    """
    try:
        return await call
    except DuplicateJobError:
        return await follow()


async def after_job(
    api: ChainAPI, job: str, name: str, wait: float, read: Callable[[], Awaitable[T | None]]
) -> T:
    """``read()`` once the already-sent job ``job`` (of API ``name``) has ended.

    The ``follow`` of ``sent`` for a mutation whose job result is not the inventory: the
    resource is read again instead. Gone by then reads as a forgotten job.
    """
    await api.ai.wait_job(job, api=name, timeout=wait)
    found = await read()
    if found is None:
        raise JobExpiredError(job, api=name)
    return found


async def paused_deletion(p: ChainPass[Any]) -> KindOutcome | None:
    """The outcome of a deletion held by ``ai.zstack.io/paused`` (None: not paused)."""
    if not p.res.paused:
        return None
    p.synced(False, SyncedReason.PAUSED, "deletion waits: paused by annotation ai.zstack.io/paused")
    return await p.finish_anyway(Requeue(PAUSED_RECHECK, "deletion waits while paused"))
