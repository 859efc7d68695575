"""The observed state of a ModelService: ``ModelServiceStatus`` and its parts.

Owned here: the shape of ``.status`` (inventory facts, conditions, the last ZStack error, the
pending job, and the create-only values the service was created with). The operator writes it
(``status`` builds conditions, ``reconcile`` fills the rest); ``crdgen`` renders its schema.

Reading is tolerant (unknown keys are ignored) so that status written by another operator
version never stops a reconcile; writing goes through these models, so it always fits the CRD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from zstack_operator.resources.common import (
    ConditionStatus,
    CrdModel,
    JobAction,
    Rfc3339,
    Uuid32,
)
from zstack_operator.zstack.models import ErrorCode


class _StatusModel(CrdModel):
    model_config = ConfigDict(extra="ignore")


class Condition(_StatusModel):
    """One condition (Ready or Synced), shaped like Kubernetes' metav1.Condition."""

    type: str = Field(description="Condition type: Ready or Synced.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="One CamelCase word saying why (Ready: Available, Creating, Updating, "
        "Deleting, NotFound, NotCreated, Unavailable; Synced: ReconcileSuccess, ReconcileError, "
        "Rejected, InvalidSpec, ImmutableFieldChanged, Paused, Observing)."
    )
    message: str = Field(default="", description="Human-readable detail of the condition.")
    last_transition_time: Rfc3339 = Field(description="When the status last changed (RFC 3339).")
    observed_generation: int | None = Field(
        default=None,
        description="metadata.generation of the spec this condition was computed from.",
        json_schema_extra={"format": "int64"},
    )


#: Longest text of each ``status.error`` field, in characters (``status.bound_error`` cuts to
#: these before writing; the CRD says the same, so the API server refuses anything longer).
#: Schema-only here: a model is built from ZStack's full text first and bounded after.
ERROR_FIELD_LIMITS = {"code": 64, "description": 512, "details": 1024, "elaboration": 512}
#: Most entries in ``status.error.causes``.
MAX_ERROR_CAUSES = 5


def _bounded(name: str) -> JsonDict:
    return {"maxLength": ERROR_FIELD_LIMITS[name]}


class ErrorCause(_StatusModel):
    """One ZStack error in the cause chain of ``status.error``."""

    code: str | None = Field(
        default=None,
        description="ZStack error code, e.g. SYS.1007.",
        json_schema_extra=_bounded("code"),
    )
    description: str | None = Field(
        default=None,
        description="ZStack's generic text for the code.",
        json_schema_extra=_bounded("description"),
    )
    details: str | None = Field(
        default=None,
        description="The specific error message.",
        json_schema_extra=_bounded("details"),
    )
    elaboration: str | None = Field(
        default=None,
        description="ZStack's optional hint.",
        json_schema_extra=_bounded("elaboration"),
    )


class StatusError(ErrorCause):
    """The last ZStack error, with its cause chain flattened (outermost first).

    ZStack nests ``cause`` objects; a CRD schema cannot be recursive, so the chain below the
    top error is stored as the list ``causes``.
    """

    causes: list[ErrorCause] = Field(
        default_factory=list,
        description="The errors that caused this one, outermost first (ZStack's nested cause "
        "chain, flattened; a long chain keeps the outermost and the root cause).",
        json_schema_extra={"maxItems": MAX_ERROR_CAUSES},
    )

    @classmethod
    def from_error_code(cls, error: ErrorCode) -> StatusError:
        """Flatten a ZStack ErrorCode (and its nested causes) into the status shape."""
        top, *rest = error.chain()
        return cls(
            code=top.code,
            description=top.description,
            details=top.details,
            elaboration=top.elaboration,
            causes=[
                ErrorCause(
                    code=c.code,
                    description=c.description,
                    details=c.details,
                    elaboration=c.elaboration,
                )
                for c in rest
            ],
        )


class PendingJob(_StatusModel):
    """The ZStack job being waited on, recorded before the call so a restart resumes it."""

    uuid: Uuid32 = Field(description="The job's uuid, sent as X-Job-UUID (32 hex characters).")
    action: JobAction = Field(
        description="What the job does: Create, Update, Delete, Bind or Unbind."
    )
    started_at: Rfc3339 = Field(description="When the job was submitted (RFC 3339).")
    generation: int | None = Field(
        default=None,
        description="metadata.generation of the spec the job applies.",
        json_schema_extra={"format": "int64"},
    )


class CreatedWith(_StatusModel):
    """Create-only values ZStack does not report back, recorded when the service was created."""

    zone_uuid: Uuid32 | None = Field(default=None, description="spec.zoneUuid at creation.")
    tag_uuids: list[Uuid32] | None = Field(default=None, description="spec.tagUuids at creation.")
    system_tags: list[str] | None = Field(default=None, description="spec.systemTags at creation.")
    user_tags: list[str] | None = Field(default=None, description="spec.userTags at creation.")


class ConditionedStatus(_StatusModel):
    """What every kind's status has: its conditions (``status`` sets and compares them).

    Each kind declares the field itself, where it belongs in its schema's order.
    """

    if TYPE_CHECKING:
        conditions: list[Condition]


def conditions_field() -> Any:
    """The ``conditions`` field of every kind's status."""
    return Field(
        default_factory=list,
        description="Ready and Synced conditions.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class ModelServiceStatus(ConditionedStatus):
    """Observed state, written only by the operator."""

    uuid: Uuid32 | None = Field(
        default=None,
        description="UUID of the model service in ZStack. Written only for a service this "
        "object owns (created, being created, or adopted), and the only one deleting this "
        "object can delete.",
    )
    version: str | None = Field(
        default=None, description="Model service version reported by ZStack."
    )
    has_new_version: bool | None = Field(
        default=None, description="Whether ZStack reports that a newer version exists."
    )
    size: int | None = Field(
        default=None,
        description="Size of the model service as ZStack reports it (ZStack does not document "
        "the unit).",
        json_schema_extra={"format": "int64"},
    )
    create_date: Rfc3339 | None = Field(
        default=None, description="When ZStack created the model service (RFC 3339)."
    )
    last_op_date: Rfc3339 | None = Field(
        default=None, description="When ZStack last changed the model service (RFC 3339)."
    )
    observed_generation: int | None = Field(
        default=None,
        description="metadata.generation of the spec last reconciled.",
        json_schema_extra={"format": "int64"},
    )
    conditions: list[Condition] = conditions_field()
    error: StatusError | None = Field(
        default=None, description="The last ZStack error; cleared on success."
    )
    pending_job: PendingJob | None = Field(
        default=None, description="The ZStack job being waited on, if any."
    )
    created_with: CreatedWith | None = Field(
        default=None,
        description="Create-only values the service was created with, to detect later changes.",
    )
    failed_jobs: int | None = Field(
        default=None,
        ge=0,
        description="ZStack jobs of this object whose failure was final. Part of every job uuid "
        "the operator derives, so a retry after a failure is a new job, not a replay.",
        json_schema_extra={"format": "int64"},
    )
    handled: str | None = Field(
        default=None,
        max_length=64,
        description="metadata.generation and a digest of the operator's annotations when the "
        "operator last finished handling a change (its diff base: docs/writes.md).",
    )
    connection: str | None = Field(
        default=None,
        max_length=600,
        description="The connection the service is managed through: ZStackConnection/<name>, "
        "ClusterZStackConnection/<name>, or operator-default. Kept once the service exists, so "
        "a namespace default added later does not move it.",
    )
