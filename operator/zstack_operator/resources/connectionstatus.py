"""The observed state of both connection kinds, and the whole connection objects.

Owned here: ``ConnectionStatus`` (conditions in ModelService's Condition shape, the ZStack
release and account the login reached, when it was last checked, how many ModelServices use the
connection, the model centers the account sees: ``ModelCenterEntry``), the condition vocabulary
the connection CRDs describe, and the ``ZStackConnection`` / ``ClusterZStackConnection``
objects (apiVersion, kind, metadata, spec, status) used to build manifests from Python and to
read an object back in one validated step.
The operator writes status; ``crdgen`` renders its schema.

Reading is tolerant (unknown keys are ignored) so status written by another operator version
never stops a check; writing goes through these models, so it always fits the CRD.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from zstack_operator.resources.common import (
    API_VERSION,
    ConditionType,
    CrdModel,
    Rfc3339,
    Uuid32,
)
from zstack_operator.resources.connection import (
    CLUSTER_CONNECTION_KIND,
    CONNECTION_KIND,
    CONNECTION_TERMINAL_REASONS,
    ClusterZStackConnectionSpec,
    ConnectionReason,
    ZStackConnectionSpec,
)
from zstack_operator.resources.status import Condition

#: The conditions a connection carries: Ready (the login works) and kstatus' Reconciling and
#: Stalled, derived from Ready the way ModelService derives them from Ready and Synced.
CONNECTION_CONDITION_TYPES = (
    ConditionType.READY,
    ConditionType.RECONCILING,
    ConditionType.STALLED,
)

#: The CRD descriptions of Condition's ``type`` and ``reason`` for the connection kinds (the
#: Condition model's own name ModelService's vocabulary).
CONNECTION_CONDITION_DESCRIPTIONS = {
    "type": "Condition type: Ready (the operator can log in to ZStack with this connection), "
    "or kstatus' Reconciling and Stalled.",
    "reason": "One CamelCase word saying why: "
    + ", ".join(reason.value for reason in ConnectionReason)
    + ". Stalled carries the terminal ones ("
    + ", ".join(r.value for r in ConnectionReason if r in CONNECTION_TERMINAL_REASONS)
    + "), Reconciling the others.",
}


#: The most model centers a connection's status lists (the first ones by name). A ZStack has
#: a handful; the bound keeps the status small whatever it has.
MAX_MODEL_CENTERS = 32


class ModelCenterEntry(CrdModel):
    """One model center the connection's account can see (QueryModelCenter), read-only."""

    model_config = ConfigDict(extra="ignore")

    uuid: Uuid32 = Field(description="UUID of the model center: a Model's spec.modelCenterUuid.")
    name: str | None = Field(default=None, max_length=255, description="Its name in ZStack.")
    status: str | None = Field(
        default=None, max_length=64, description="Its status in ZStack (e.g. Connected)."
    )
    url: str | None = Field(
        default=None, max_length=2048, description="The URL ZStack reports for it."
    )
    management_ip: str | None = Field(
        default=None, max_length=255, description="Address of its management service."
    )


class ConnectionStatus(CrdModel):
    """Observed state of a connection, written only by the operator."""

    model_config = ConfigDict(extra="ignore")

    observed_generation: int | None = Field(
        default=None,
        description="metadata.generation of the spec last checked.",
        json_schema_extra={"format": "int64"},
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Reconciling and Stalled conditions.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    zstack_version: str | None = Field(
        default=None,
        max_length=128,
        description="ZStack release the endpoint reports (GetVersion), for example 5.3.28.",
    )
    account: str | None = Field(
        default=None,
        max_length=255,
        description="Name of the ZStack account the login reached: every model service managed "
        "through this connection belongs to it.",
    )
    account_uuid: Uuid32 | None = Field(default=None, description="UUID of that ZStack account.")
    last_checked: Rfc3339 | None = Field(
        default=None, description="When the operator last logged in or checked (RFC 3339)."
    )
    used_by: int | None = Field(
        default=None,
        ge=0,
        description="How many ModelServices use this connection.",
        json_schema_extra={"format": "int32"},
    )
    model_centers: list[ModelCenterEntry] | None = Field(
        default=None,
        max_length=MAX_MODEL_CENTERS,
        description="The model centers the account sees, sorted by name (at most "
        f"{MAX_MODEL_CENTERS}), read at each check: where to find a modelCenterUuid. Observed "
        "only; the operator never changes a model center.",
    )
    model_centers_message: str | None = Field(
        default=None,
        max_length=512,
        description="Why modelCenters is stale or incomplete: the last QueryModelCenter failed "
        "(the list is the last one read), or there are more centers than it lists. Absent "
        "when the list is complete and current.",
    )


class ZStackConnection(CrdModel):
    """A ZStackConnection custom resource."""

    # The API server adds metadata fields we do not model; metadata stays a plain dict.
    model_config = ConfigDict(extra="ignore")

    api_version: str = API_VERSION
    kind: str = CONNECTION_KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ZStackConnectionSpec
    status: ConnectionStatus | None = None


class ClusterZStackConnection(CrdModel):
    """A ClusterZStackConnection custom resource."""

    model_config = ConfigDict(extra="ignore")

    api_version: str = API_VERSION
    kind: str = CLUSTER_CONNECTION_KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ClusterZStackConnectionSpec
    status: ConnectionStatus | None = None
