"""The ModelServiceDeployment custom resource: one deployed instance group (DeployModelService).

Owned here: the kind's names, ``DeploymentSpec`` (DeployModelService's 5.1.20 fields, the model
service and the model by reference or uuid, and the operator's own fields) and
``DeploymentStatus`` (the group, its instances and their URLs). ZStack can change a group only
by renaming it (UpdateModelServiceInstanceGroup), so ``name`` is the one mutable field; every
other field is recorded in ``status.deployedWith`` when the group is deployed and a later
difference is refused (ImmutableFieldChanged: delete and re-create the object to redeploy).
``crdgen`` renders ``crds/modelservicedeployment.yaml`` from these models.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictInt, model_validator
from pydantic.config import JsonDict

from zstack_operator.resources.chainbase import ChainStatus, LocalRef
from zstack_operator.resources.common import CrdModel, DeletionPolicy, Rfc3339, Uuid32
from zstack_operator.resources.spec import MAX_ITEMS, ConnectionRef
from zstack_operator.resources.status import PendingJob
from zstack_operator.zstack.ai_models import DeploymentType

DEPLOYMENT_KIND = "ModelServiceDeployment"
DEPLOYMENT_PLURAL = "modelservicedeployments"
DEPLOYMENT_SINGULAR = "modelservicedeployment"
DEPLOYMENT_SHORT_NAMES = ["zmsd"]

#: Group and instance status that mean "serving" (the only value ZStack documents).
RUNNING = "Running"
#: Group status values that will not become Running by waiting.
FAILED_STATES = frozenset({"Failed", "Error", "Stopped", "Deleted"})

#: The Deploy fields recorded in ``status.deployedWith`` and refused when changed afterwards.
DEPLOY_FIELDS = (
    "zone_uuid",
    "type",
    "description",
    "vm_image_uuid",
    "primary_storage_uuid",
    "docker_image",
    "cpu_num",
    "memory_size",
    "service_boot_uptime",
    "dataset_uuids",
    "l3_network_uuids",
)

_ONE_SERVICE = "set exactly one of modelServiceRef and modelServiceUuid"
_ONE_MODEL = "set at most one of modelRef and modelUuid"


def _rules(schema: JsonDict) -> None:
    schema["x-kubernetes-validations"] = [
        {
            "rule": "has(self.modelServiceRef) != has(self.modelServiceUuid)",
            "message": _ONE_SERVICE,
        },
        {"rule": "!(has(self.modelRef) && has(self.modelUuid))", "message": _ONE_MODEL},
    ]


class DeploymentSpec(CrdModel):
    """Desired state: the DeployModelService parameters plus the operator's own fields."""

    model_config = {"json_schema_extra": _rules}

    model_service_ref: LocalRef | None = Field(
        default=None,
        description="The ModelService (in this namespace) to deploy; the deployment waits until "
        "it is Ready. Set this or modelServiceUuid.",
    )
    model_service_uuid: Uuid32 | None = Field(
        default=None,
        description="UUID of an existing ZStack model service to deploy, instead of "
        "modelServiceRef.",
    )
    model_ref: LocalRef | None = Field(
        default=None,
        description="The Model (in this namespace) to serve; the deployment waits until it is "
        "Ready. Optional, like modelUuid.",
    )
    model_uuid: Uuid32 | None = Field(
        default=None, description="UUID of an existing ZStack model to serve, instead of modelRef."
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Name of the instance group in ZStack. Defaults to metadata.name. The only "
        "field ZStack can change in place (a rename).",
    )
    zone_uuid: Uuid32 = Field(description="UUID of the zone to deploy in.")
    type: DeploymentType = Field(
        description="VirtualMachine or Container (BareMetal2 exists in newer releases only)."
    )
    description: str | None = Field(
        default=None, max_length=2048, description="Description of the deployment."
    )
    vm_image_uuid: Uuid32 | None = Field(
        default=None, description="UUID of the VM image (type VirtualMachine)."
    )
    primary_storage_uuid: Uuid32 | None = Field(
        default=None, description="UUID of the primary storage for the instances' disks."
    )
    docker_image: str | None = Field(
        default=None, max_length=2048, description="Container image (type Container)."
    )
    cpu_num: StrictInt | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="CPU cores of each instance.",
        json_schema_extra={"format": "int32"},
    )
    memory_size: StrictInt | None = Field(
        default=None,
        ge=1,
        description="Memory of each instance (ZStack does not document the unit).",
        json_schema_extra={"format": "int64"},
    )
    service_boot_uptime: StrictInt | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="Seconds ZStack allows the service to boot (5.1.20 and later).",
        json_schema_extra={"format": "int32"},
    )
    dataset_uuids: list[Uuid32] | None = Field(
        default=None, max_length=MAX_ITEMS, description="UUIDs of datasets to attach."
    )
    l3_network_uuids: list[Uuid32] | None = Field(
        default=None, max_length=MAX_ITEMS, description="UUIDs of the L3 networks to attach."
    )
    connection_ref: ConnectionRef | None = Field(
        default=None,
        description="The ZStack connection to use. With modelServiceRef, leave it unset or name "
        "the ModelService's connection: a group lives in its service's account.",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete removes the instance group from ZStack when this object is deleted; "
        "Orphan leaves it running.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> DeploymentSpec:
        if (self.model_service_ref is None) == (self.model_service_uuid is None):
            raise ValueError(_ONE_SERVICE)
        if self.model_ref is not None and self.model_uuid is not None:
            raise ValueError(_ONE_MODEL)
        return self

    def deploy_values(self) -> dict[str, Any]:
        """The recorded Deploy fields the user set (snake_case, JSON values)."""
        return self.model_dump(
            mode="json", by_alias=False, exclude_none=True, include=set(DEPLOY_FIELDS)
        )


class DeployedWith(CrdModel):
    """What the instance group was deployed with (to refuse later changes ZStack cannot make)."""

    model_service_uuid: Uuid32 | None = Field(default=None, description="The model service.")
    model_uuid: Uuid32 | None = Field(default=None, description="The model, if any.")
    zone_uuid: Uuid32 | None = Field(
        default=None, description="The spec.zoneUuid it was deployed with."
    )
    type: str | None = Field(
        default=None, max_length=32, description="The spec.type it was deployed with."
    )
    description: str | None = Field(
        default=None, max_length=2048, description="The spec.description it was deployed with."
    )
    vm_image_uuid: Uuid32 | None = Field(
        default=None, description="The spec.vmImageUuid it was deployed with."
    )
    primary_storage_uuid: Uuid32 | None = Field(
        default=None, description="The spec.primaryStorageUuid it was deployed with."
    )
    docker_image: str | None = Field(
        default=None, max_length=2048, description="The spec.dockerImage it was deployed with."
    )
    cpu_num: int | None = Field(
        default=None,
        description="The spec.cpuNum it was deployed with.",
        json_schema_extra={"format": "int32"},
    )
    memory_size: int | None = Field(
        default=None,
        description="The spec.memorySize it was deployed with.",
        json_schema_extra={"format": "int64"},
    )
    service_boot_uptime: int | None = Field(
        default=None,
        description="The spec.serviceBootUptime it was deployed with.",
        json_schema_extra={"format": "int32"},
    )
    dataset_uuids: list[Uuid32] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description="The spec.datasetUuids it was deployed with.",
    )
    l3_network_uuids: list[Uuid32] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description="The spec.l3NetworkUuids it was deployed with.",
    )


class InstanceStatus(CrdModel):
    """One instance of the group, as ZStack reports it."""

    uuid: str = Field(max_length=64, description="UUID of the instance.")
    name: str | None = Field(default=None, max_length=255, description="Its name (newer releases).")
    status: str | None = Field(default=None, max_length=64, description="Its status in ZStack.")
    url: str | None = Field(default=None, max_length=2048, description="Where it serves.")
    internal_url: str | None = Field(
        default=None, max_length=2048, description="Where it serves inside the cloud."
    )
    url_maps: dict[str, str] | None = Field(
        default=None,
        max_length=32,
        description="Further URLs by name, as ZStack reports them (values as text).",
    )


class DeploymentStatus(ChainStatus):
    """Observed state of a ModelServiceDeployment, written only by the operator."""

    uuid: Uuid32 | None = Field(
        default=None, description="UUID of the instance group in ZStack, once it is known."
    )
    status: str | None = Field(
        default=None, max_length=64, description="The group's status in ZStack (e.g. Running)."
    )
    endpoint: str | None = Field(
        default=None,
        max_length=2048,
        description="The URL of the first instance that serves: where to send requests.",
    )
    ready_instances: str | None = Field(
        default=None, max_length=32, description="Running instances out of all, e.g. 1/1."
    )
    instances: list[InstanceStatus] | None = Field(
        default=None, max_length=64, description="Every instance with its status and URLs."
    )
    model_service_uuid: Uuid32 | None = Field(
        default=None, description="The model service the group was deployed from."
    )
    model_uuid: Uuid32 | None = Field(default=None, description="The model it serves, if any.")
    pending_job: PendingJob | None = Field(
        default=None,
        description="The DeployModelService job, recorded before it is sent: after a restart the "
        "operator follows it (or, once ZStack has forgotten it, recognises the group it made) "
        "instead of deploying twice.",
    )
    deployed_with: DeployedWith | None = Field(
        default=None, description="What the group was deployed with."
    )
    create_date: Rfc3339 | None = Field(default=None, description="When ZStack created it.")
    last_op_date: Rfc3339 | None = Field(default=None, description="When ZStack last changed it.")
