"""Status building: conditions, transitions, ZStack facts, scrubbed messages and minimal patches.

Pure functions used by ``reconcile``: they turn "what happened" into the ``.status`` the
resource should show, tell which condition changes deserve an Event, and compute the merge
patch that moves the stored status to the new one (None when nothing changed, so an idle
operator never writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from .resources import (
    Condition,
    ConditionStatus,
    ConditionType,
    ErrorCause,
    ModelServiceStatus,
    ReadyReason,
    StatusError,
    SyncedReason,
)
from .resources.status import ERROR_FIELD_LIMITS as RESOURCE_ERROR_LIMITS
from .resources.status import MAX_ERROR_CAUSES as RESOURCE_MAX_CAUSES
from .resources.status import ConditionedStatus
from .zstack import known_secrets
from .zstack.errors import ZStackAPIError, ZStackError
from .zstack.models import ModelServiceInventory
from .zstack.redact import scrub_patterns

#: Any kind's status (ModelService, Model, ModelServiceDeployment).
S = TypeVar("S", bound=ConditionedStatus)

#: Longest message kept in a condition or Event; ZStack details can be whole stack traces.
MAX_MESSAGE = 1024
#: Longest text kept in each string field of ``status.error`` and of each of its ``causes``, in
#: characters, the ellipsis that marks a cut included. ZStack puts what it likes in them (a
#: details field can be a whole Java stack trace), and status is one etcd object shared with
#: the conditions: bounded, one error can never push the object past what the API server takes.
ERROR_FIELD_LIMITS = RESOURCE_ERROR_LIMITS
#: Most entries kept in ``status.error.causes``. A longer chain keeps the outermost causes and
#: the innermost one (the root cause, usually the informative one), with one entry in between
#: whose details say how many were left out.
MAX_ERROR_CAUSES = RESOURCE_MAX_CAUSES
#: Reasons after which nothing is retried until the spec (or Secret) changes.
TERMINAL_REASONS = frozenset(
    {
        SyncedReason.REJECTED,
        SyncedReason.INVALID_SPEC,
        SyncedReason.IMMUTABLE_FIELD_CHANGED,
        SyncedReason.NOT_OWNED,
    }
)


def now_rfc3339(*, precise: bool = False) -> str:
    """The current time as Kubernetes writes it (UTC, ``Z``; microseconds when ``precise``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if precise else "%Y-%m-%dT%H:%M:%SZ")


def rfc3339(value: datetime | None) -> str | None:
    """A ZStack time (aware, in the node's zone) as Kubernetes writes times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


_rfc3339 = rfc3339


def scrub(message: str, limit: int = MAX_MESSAGE) -> str:
    """A message safe for status and Events: known secrets redacted, at most ``limit`` long.

    Masked before it is cut, so a cut can never leave the start of a secret behind.
    """
    text = scrub_patterns(known_secrets.mask(" ".join(message.split())))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded_cause(cause: ErrorCause) -> dict[str, str | None]:
    return {
        field: scrub(value, limit) if (value := getattr(cause, field)) else None
        for field, limit in ERROR_FIELD_LIMITS.items()
    }


def bound_error(err: StatusError) -> StatusError:
    """``err`` scrubbed, each field within ``ERROR_FIELD_LIMITS``, at most MAX_ERROR_CAUSES causes.

    Any other code that builds a ``StatusError`` passes it through here before writing it.
    """
    causes = list(err.causes)
    if len(causes) > MAX_ERROR_CAUSES:
        kept = MAX_ERROR_CAUSES - 2  # room for the marker and the root cause
        left_out = len(causes) - kept - 1
        marker = ErrorCause(details=f"… {left_out} more causes left out …")
        causes = [*causes[:kept], marker, causes[-1]]
    return StatusError(
        **_bounded_cause(err),
        causes=[ErrorCause(**_bounded_cause(cause)) for cause in causes],
    )


def error_status(exc: BaseException) -> StatusError | None:
    """``status.error`` for a ZStack ErrorCode (bounded: ``bound_error``); else empty."""
    if isinstance(exc, ZStackAPIError):
        return bound_error(StatusError.from_error_code(exc.error))
    return None


def describe(exc: BaseException) -> str:
    """One scrubbed line for a condition message."""
    if isinstance(exc, ZStackError):
        return scrub(str(exc))
    return scrub(f"{type(exc).__name__}: {exc}")


def with_inventory(status: ModelServiceStatus, inv: ModelServiceInventory) -> ModelServiceStatus:
    """Copy the facts ZStack reports into status."""
    return status.model_copy(
        update={
            "uuid": inv.uuid,
            "version": inv.version,
            "has_new_version": inv.has_new_version,
            "size": inv.size,
            "create_date": _rfc3339(inv.create_date),
            "last_op_date": _rfc3339(inv.last_op_date),
        }
    )


def set_condition(
    status: S,
    type_: ConditionType,
    ok: bool,
    reason: str,
    message: str,
    generation: int | None,
) -> S:
    """Set one condition; ``lastTransitionTime`` moves only when the status value flips."""
    value = ConditionStatus.TRUE if ok else ConditionStatus.FALSE
    old = next((c for c in status.conditions if c.type == type_), None)
    since = old.last_transition_time if old and old.status == value else now_rfc3339()
    new = Condition(
        type=type_,
        status=value,
        reason=reason,
        message=scrub(message),
        last_transition_time=since,
        observed_generation=generation,
    )
    others = [c for c in status.conditions if c.type != type_]
    order = [str(t) for t in ConditionType]
    rank = {t: i for i, t in enumerate(order)}
    ordered = sorted([*others, new], key=lambda c: rank.get(c.type, len(order)))
    return status.model_copy(update={"conditions": ordered})


#: Ready reasons that mean work is under way (kstatus: InProgress).
_IN_PROGRESS = frozenset(
    {
        ReadyReason.CREATING,
        ReadyReason.UPDATING,
        ReadyReason.DELETING,
        ReadyReason.DEPLOYING,
        ReadyReason.WAITING_FOR_DEPENDENCY,
    }
)


def with_kstatus(status: S) -> S:
    """Add or drop kstatus' Reconciling and Stalled conditions to match Ready and Synced.

    kstatus (Flux, cli-utils) reads only these two: Stalled=True for a terminal Synced reason
    (nothing changes until the spec does) or a Failed deployment, Reconciling=True while work
    is under way or being retried. Absent means False, so they are removed when neither applies.
    """
    ready = condition(status, ConditionType.READY)
    synced = condition(status, ConditionType.SYNCED)
    keep = [c for c in status.conditions if c.type in (ConditionType.READY, ConditionType.SYNCED)]
    status = status.model_copy(update={"conditions": keep})
    gen = synced.observed_generation if synced else ready.observed_generation if ready else None
    if synced and synced.reason in TERMINAL_REASONS:
        return set_condition(
            status, ConditionType.STALLED, True, synced.reason, synced.message, gen
        )
    if ready and ready.status != ConditionStatus.TRUE and ready.reason == ReadyReason.FAILED:
        # A deployment ZStack reports Failed stays so: only a new deployment changes it.
        return set_condition(status, ConditionType.STALLED, True, ready.reason, ready.message, gen)
    busy = (
        ready is not None and ready.status != ConditionStatus.TRUE and ready.reason in _IN_PROGRESS
    )
    if busy or (synced and synced.reason == SyncedReason.RECONCILE_ERROR):
        source = synced if synced and synced.reason == SyncedReason.RECONCILE_ERROR else ready
        assert source is not None
        return set_condition(
            status, ConditionType.RECONCILING, True, source.reason, source.message, gen
        )
    return status


def condition(status: ConditionedStatus, type_: ConditionType) -> Condition | None:
    """The condition of that type, if present."""
    return next((c for c in status.conditions if c.type == type_), None)


#: First states that are the normal course of a create: no Event (one per resource is enough,
#: and at 1,000 resources every Event is an API write).
_QUIET_FIRST = frozenset({ReadyReason.CREATING, SyncedReason.RECONCILE_SUCCESS})


@dataclass(frozen=True)
class Transition:
    """A condition change worth an Event."""

    warning: bool
    reason: str
    message: str


#: Warnings that are not terminal: the operator retries, or a connection fix re-drives them
#: (a GitOps sync often applies the connection after its ModelServices: not Stalled).
_WARN_TOO = frozenset({SyncedReason.RECONCILE_ERROR, SyncedReason.CONNECTION_UNAVAILABLE})


def transitions(old: ConditionedStatus, new: ConditionedStatus) -> list[Transition]:
    """Condition changes (status or reason) between two statuses, as Events to post."""
    out: list[Transition] = []
    for cond in new.conditions:
        if cond.type not in (ConditionType.READY, ConditionType.SYNCED):
            continue  # derived conditions (kstatus) repeat what Ready and Synced already said
        before = condition(old, ConditionType(cond.type))
        if before and (before.status, before.reason) == (cond.status, cond.reason):
            continue
        if before is None and cond.reason in _QUIET_FIRST:
            continue  # the expected first steps say nothing an operator of the cluster needs
        warning = cond.reason in TERMINAL_REASONS or cond.reason in _WARN_TOO
        event = Transition(warning, cond.reason, cond.message or cond.reason)
        if event not in out:  # Ready and Synced saying the same thing (a wait) is one Event
            out.append(event)
    return out


def dump(status: ConditionedStatus) -> dict[str, Any]:
    """The status as stored in Kubernetes (camelCase, no empty fields)."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """RFC 7386 merge patch from ``old`` to ``new``: changed keys, and None for removed ones."""
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if old.get(key) == value:
            continue
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            patch[key] = merge_patch(before, value) or {}
        else:
            patch[key] = value
    return patch or None
