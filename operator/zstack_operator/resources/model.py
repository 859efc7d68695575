"""The Model custom resource: a model registered in a ZStack model center (AddModel).

Owned here: the kind's names, ``ModelSpec`` (AddModel's ``param`` fields plus the operator's
own) and ``ModelStatus``. Which fields UpdateModel can change is ZSTACK-AI-LIFECYCLE.md 3:
name, installPath, description, parameters and modelCenterUuid; logo, vendor, introduction,
size and version are fixed once the model exists (``FIXED``), and ``token`` is write-only
(ZStack never returns it), so it is read from its Secret at creation only. ``crdgen`` renders
``crds/model.yaml`` from these models.
"""

from __future__ import annotations

from pydantic import Field, StrictInt
from pydantic.alias_generators import to_camel

from zstack_operator.resources.chainbase import ChainStatus, SecretKeyRef
from zstack_operator.resources.common import (
    CrdModel,
    DeletionPolicy,
    ManagementPolicy,
    Rfc3339,
    Uuid32,
)
from zstack_operator.resources.spec import AdoptionPolicy, ConnectionRef
from zstack_operator.zstack.models import ZSTACK_UUID_PATTERN

MODEL_KIND = "Model"
MODEL_PLURAL = "models"
MODEL_SINGULAR = "model"
MODEL_SHORT_NAMES = ["zsmodel"]

#: Longest free text (parameters, introduction, logo: mediumtext in ZStack's schema), bounded
#: so that the largest object stays far below etcd's limit.
MAX_TEXT = 65536

#: The fields UpdateModel changes in place (snake_case), compared with the inventory.
MUTABLE = ("name", "install_path", "description", "parameters", "model_center_uuid")
#: Fields AddModel takes and ZStack reports but UpdateModel cannot change.
FIXED = ("logo", "vendor", "introduction", "version", "size")


class ModelSpec(CrdModel):
    """Desired state: the AddModel parameters plus the operator's own fields."""

    name: str | None = Field(
        default=None,
        max_length=255,
        description="Name of the model in ZStack. Defaults to metadata.name. Mutable.",
    )
    install_path: str = Field(
        max_length=2048,
        description="Where the model's files are in the model center (for example "
        "/models/qwen2-7b). Mutable.",
    )
    model_center_uuid: Uuid32 = Field(
        description="UUID of the model center that holds the model. `kubectl get "
        "zstackconnection -o yaml` lists the centers a connection sees (status.modelCenters). "
        "Mutable."
    )
    description: str | None = Field(
        default=None, max_length=2048, description="Description of the model. Mutable."
    )
    parameters: str | None = Field(
        default=None,
        max_length=MAX_TEXT,
        description="The model's parameters, as ZStack takes them (free text). Mutable.",
    )
    token_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="The Secret key holding the token ZStack uses to fetch the model. Read once, "
        "at creation: ZStack never returns a token, so a later change cannot be compared.",
    )
    logo: str | None = Field(
        default=None, max_length=MAX_TEXT, description="Logo of the model. Fixed once created."
    )
    vendor: str | None = Field(
        default=None,
        max_length=255,
        description="Vendor of the model (for example Qwen). Fixed once created.",
    )
    introduction: str | None = Field(
        default=None,
        max_length=MAX_TEXT,
        description="Introduction text of the model. Fixed once created.",
    )
    version: str | None = Field(
        default=None, max_length=255, description="Version of the model. Fixed once created."
    )
    size: StrictInt | None = Field(
        default=None,
        ge=0,
        description="Size of the model as ZStack records it (ZStack does not document the "
        "unit). Fixed once created.",
        json_schema_extra={"format": "int64"},
    )
    resource_uuid: str | None = Field(
        default=None,
        pattern=ZSTACK_UUID_PATTERN,
        max_length=32,
        description="UUID to give the model in ZStack. Defaults to metadata.uid without dashes. "
        "With managementPolicy Observe it names the existing model to observe.",
    )
    connection_ref: ConnectionRef | None = Field(
        default=None, description="The ZStack connection to use (as for a ModelService)."
    )
    adoption_policy: AdoptionPolicy = Field(
        default=AdoptionPolicy.NEVER,
        description="Never: manage only a model this object created. Adopt: take over the "
        "existing model named by resourceUuid if no other Model owns it and the connection "
        "allows adoption (it is then marked with this object's owner tag).",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete removes the model from ZStack when this object is deleted (after the "
        "ModelServices and deployments that use it); Orphan leaves it in ZStack.",
    )
    management_policy: ManagementPolicy = Field(
        default=ManagementPolicy.MANAGE,
        description="Manage creates and updates the model; Observe only reads the model named by "
        "resourceUuid and reports it in status.",
    )


class ModelStatus(ChainStatus):
    """Observed state of a Model, written only by the operator."""

    uuid: Uuid32 | None = Field(
        default=None,
        description="UUID of the model in ZStack (chosen by the operator: spec.resourceUuid or "
        "metadata.uid without dashes).",
    )
    model_center_uuid: Uuid32 | None = Field(
        default=None, description="The model center ZStack reports the model in."
    )
    type: str | None = Field(
        default=None, max_length=64, description="The model's type, as ZStack sets it."
    )
    model_service_uuids: list[Uuid32] | None = Field(
        default=None,
        max_length=256,
        description="UUIDs of the model services the model is bound to (ZStack's refs).",
    )
    create_date: Rfc3339 | None = Field(default=None, description="When ZStack created it.")
    last_op_date: Rfc3339 | None = Field(default=None, description="When ZStack last changed it.")


def camel(name: str) -> str:
    """The spec's (camelCase) name of a snake_case field."""
    return to_camel(name)
