"""What the Model and ModelServiceDeployment kinds share: references and the status base.

Owned here: ``LocalRef`` (another object of this namespace, by name), ``SecretKeyRef``, and
``ChainStatus``, the status fields every kind of the chain has besides its ZStack facts:
conditions, the spec last reconciled, the last error, the connection, the diff base and the
count of failed jobs (part of every derived job uuid, as for ModelService: docs/writes.md).
"""

from __future__ import annotations

from pydantic import Field

from zstack_operator.resources.common import CrdModel
from zstack_operator.resources.status import (
    Condition,
    ConditionedStatus,
    StatusError,
    conditions_field,
)

#: A Kubernetes object name (DNS subdomain).
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class LocalRef(CrdModel):
    """Another object in this namespace, by name."""

    name: str = Field(
        min_length=1, max_length=253, pattern=NAME_PATTERN, description="metadata.name of it."
    )


class SecretKeyRef(CrdModel):
    """One key of a Secret in this namespace."""

    name: str = Field(
        min_length=1, max_length=253, pattern=NAME_PATTERN, description="Name of the Secret."
    )
    key: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key in the Secret's data.",
    )


class ChainStatus(ConditionedStatus):
    """The operator's own status fields, shared by Model and ModelServiceDeployment."""

    observed_generation: int | None = Field(
        default=None,
        description="metadata.generation of the spec last reconciled.",
        json_schema_extra={"format": "int64"},
    )
    conditions: list[Condition] = conditions_field()
    error: StatusError | None = Field(
        default=None, description="The last ZStack error; cleared on success."
    )
    connection: str | None = Field(
        default=None,
        max_length=600,
        description="The connection the object is managed through: ZStackConnection/<name>, "
        "ClusterZStackConnection/<name>, or operator-default. Kept once the ZStack resource "
        "exists.",
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
