"""ZStack jobs of one ModelService: their uuids, derived; and how one is settled.

Owned here: every ``X-Job-UUID`` the operator sends is derived from what the object already
holds (its uid, ``status.failedJobs``, the state the job acts on), never chosen at random and
never written down first. So a pass that dies after sending a job and before writing status is
followed by one that derives the same uuid: ZStack answers "Duplicate job uuid" and the client
follows the first job instead of running a second (docs/writes.md has the whole argument).
What goes into each uuid:

- create: the uid, ``failedJobs`` and the ``createDate`` of the service it replaces (none for
  the first create), so a recreate after an out-of-band deletion is a new job, while a retry of
  the same create is the same job;
- update, bind, unbind: also the inventory's ``lastOpDate`` and bound models, so repairing drift
  that appeared after an earlier identical call is a new job, not a replay of the old one, and
  the generation (``act.change``: ``lastOpDate`` has one-second resolution);
- delete: the uid and ``failedJobs``.

``failedJobs`` grows when a job's failure is believed, because a failed job's uuid is spent:
ZStack would answer its old failure to a retry. ``settle`` is the one place a job's end is read.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Awaitable
from dataclasses import dataclass

from ..resources import JobAction
from ..zstack.errors import (
    DuplicateJobError,
    ErrorKind,
    JobExpiredError,
    JobTimeoutError,
    ZStackAPIError,
)
from ..zstack.models import ModelServiceInventory
from .model import ServiceAPI

_JOB_NAMESPACE = uuidlib.UUID("6c1f3c1e-8a0f-4f5e-9d43-7d1b2a0c9e55")

#: Passes that re-ask a job whose failure looks transient before believing it.
DOUBTFUL_JOB_RETRIES = 5

#: The ZStack API of each job action, as the client names it.
API = {
    JobAction.CREATE: "AddModelService",
    JobAction.UPDATE: "UpdateModelService",
    JobAction.DELETE: "DeleteModelService",
    JobAction.BIND: "BindModelToService",
    JobAction.UNBIND: "UnbindModelFromService",
}


def job_uuid(uid: str, action: JobAction, *state: object) -> str:
    """The X-Job-UUID of ``action`` on the object ``uid`` when it holds ``state``."""
    key = "/".join([uid, str(action), *(str(s) for s in state)])
    return uuidlib.uuid5(_JOB_NAMESPACE, key).hex


def create_job(uid: str, failed_jobs: int, replaces: str | None) -> str:
    """The create's job uuid; ``replaces`` is the createDate of a service deleted behind us."""
    return job_uuid(uid, JobAction.CREATE, failed_jobs, replaces or "")


def fingerprint(inventory: ModelServiceInventory) -> str:
    """What a change acts on: ZStack's last change time and the models bound."""
    stamp = inventory.last_op_date.isoformat() if inventory.last_op_date else ""
    return f"{stamp}|{','.join(sorted(inventory.model_uuids))}"


def believed(exc: ZStackAPIError, attempt: int) -> bool:
    """Whether a job's reported failure can be taken as final.

    A poll that keeps failing with SYS.1000/1001 reads exactly like a job that failed with it.
    Taking it at its word too early would forget a create that may still land: the finalizer
    would then delete ahead of it and leak it. So a transient failure is re-asked on the next
    ``DOUBTFUL_JOB_RETRIES`` passes (kopf's backoff spreads them over minutes); one that keeps
    failing that way is believed after that, and its uuid still forbids a duplicate. A create
    refused because its uuid is taken ("already exists", SYS.1000 too) is final at once: it
    can never land.
    """
    final = exc.kind is not ErrorKind.TRANSIENT or uuid_taken(exc)
    return final or attempt >= DOUBTFUL_JOB_RETRIES


def uuid_taken(exc: ZStackAPIError) -> bool:
    """A create refused because its uuid exists (ZStack's SYS.1000 "... already exists")."""
    return "already exists" in (exc.error.details or "")


@dataclass(frozen=True)
class Finished:
    """The job ended well; ``inventory`` is None when it returns none or ZStack forgot it."""

    inventory: ModelServiceInventory | None
    #: ZStack no longer knows the job (never sent, or expired after hours).
    unknown: bool = False


@dataclass(frozen=True)
class Running:
    """The job is still running after the pass's wait."""


@dataclass(frozen=True)
class Failed:
    """The job failed; ``believed`` says whether that is final (see ``believed``)."""

    error: ZStackAPIError
    believed: bool


Settled = Finished | Running | Failed


async def settle(
    api: ServiceAPI, uuid: str, action: JobAction, *, wait: float, attempt: int
) -> Settled:
    """Wait up to ``wait`` seconds for a job that may have been sent, and say how it ended."""
    return await outcome(api.wait_job(uuid, api=API[action], timeout=wait), api, uuid, action,
                         wait=wait, attempt=attempt)  # fmt: skip


async def outcome(
    call: Awaitable[ModelServiceInventory | None],
    api: ServiceAPI,
    uuid: str,
    action: JobAction,
    *,
    wait: float,
    attempt: int,
) -> Settled:
    """Run a job's call (a send or a wait) and say how the job ended.

    Transport trouble (no reply at all) is raised: nothing is known about the job.
    """
    try:
        try:
            return Finished(await call)
        except DuplicateJobError:
            return Finished(await api.wait_job(uuid, api=API[action], timeout=wait))
    except JobExpiredError:
        return Finished(None, unknown=True)
    except JobTimeoutError:
        return Running()
    except ZStackAPIError as exc:
        return Failed(exc, believed(exc, attempt))
