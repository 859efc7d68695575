"""Typed shapes of ZStack's AI lifecycle APIs: model centers, models, deployments.

Owned here: the request params and inventories of AddModelCenter / UpdateModelCenter /
QueryModelCenter, AddModel / UpdateModel / QueryModel, DeployModelService and the model service
instance group APIs, exactly as ZSTACK-AI-LIFECYCLE.md sections 2-4 give them (the generated SDK
of 5.1.20 and, for Deploy, the later fields of the newest releases). The conventions are
``zstack.models``': snake_case names with camelCase aliases, strict request models, tolerant
inventories (every field but ``uuid`` optional, unknown fields ignored), dates in the node's
zone. Used by ``zstack.ai`` (the client calls) and the simulator (``sim``), which derives its
field checks from these models, so both share one definition.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from .models import ModelServiceRef, ZStackDate, _Inventory, _Wire

#: JPA entity names of the AI resources (tags' ``resourceType``, ownership errors).
MODEL_CENTER_VO = "ModelCenterVO"
MODEL_VO = "ModelVO"
INSTANCE_GROUP_VO = "ModelServiceInstanceGroupVO"


class DeploymentType(StrEnum):
    """DeployModelService ``type``: 5.1.20 has the first two, newer releases ``BareMetal2``."""

    VIRTUAL_MACHINE = "VirtualMachine"
    CONTAINER = "Container"
    BARE_METAL2 = "BareMetal2"


class PlacementMode(StrEnum):
    """DeployModelService ``placementMode`` (newer releases only)."""

    AUTO = "Auto"
    PINNED = "Pinned"


# -- model centers -------------------------------------------------------------------------


class AddModelCenterParam(_Wire):
    """The ``param`` object of AddModelCenter (``sdk/AddModelCenterAction``)."""

    name: str
    url: str
    management_ip: str
    management_port: int
    description: str | None = None
    parameters: str | None = None
    storage_network_uuid: str | None = None
    service_network_uuid: str | None = None
    container_registry: str | None = None
    container_network: str | None = None
    container_storage_network: str | None = None
    resource_uuid: str | None = None
    tag_uuids: list[str] | None = None


class UpdateModelCenterParam(_Wire):
    """The ``updateModelCenter`` object: only the given fields change."""

    name: str | None = None
    url: str | None = None
    description: str | None = None
    parameters: str | None = None
    management_ip: str | None = None
    management_port: int | None = None
    storage_network_uuid: str | None = None
    service_network_uuid: str | None = None
    container_registry: str | None = None
    container_network: str | None = None
    container_storage_network: str | None = None


class ModelCenterCapacityInventory(_Inventory):
    """What a model center's storage holds, per use (``ModelCenterCapacityInventory``)."""

    uuid: str | None = None
    model_used_capacity: int | None = None
    model_service_used_capacity: int | None = None
    dataset_used_capacity: int | None = None
    fine_tune_used_capacity: int | None = None
    model_evaluation_used_capacity: int | None = None
    installation_used_capacity: int | None = None
    temporary_used_capacity: int | None = None


class ModelCenterInventory(_Inventory):
    """A model center (``ModelCenterInventory``)."""

    uuid: str
    name: str | None = None
    description: str | None = None
    url: str | None = None
    parameters: str | None = None
    management_ip: str | None = None
    management_port: int | None = None
    storage_network_uuid: str | None = None
    service_network_uuid: str | None = None
    container_registry: str | None = None
    container_network: str | None = None
    container_storage_network: str | None = None
    status: str | None = None
    capacity: ModelCenterCapacityInventory | None = None
    create_date: ZStackDate | None = None
    last_op_date: ZStackDate | None = None


# -- models --------------------------------------------------------------------------------


class AddModelParam(_Wire):
    """The ``param`` object of AddModel (``sdk/AddModelAction``); ``token`` is write-only."""

    name: str
    install_path: str
    model_center_uuid: str
    description: str | None = None
    parameters: str | None = None
    token: str | None = Field(default=None, repr=False)
    logo: str | None = None
    vendor: str | None = None
    introduction: str | None = None
    version: str | None = None
    size: int | None = None
    model_service_uuids: list[str] | None = None
    resource_uuid: str | None = None
    tag_uuids: list[str] | None = None


class UpdateModelParam(_Wire):
    """The ``updateModel`` object; logo, vendor, introduction, size, version, token are fixed."""

    name: str | None = None
    install_path: str | None = None
    description: str | None = None
    parameters: str | None = None
    model_center_uuid: str | None = None


class ModelInventory(_Inventory):
    """A model (``ModelInventory``); ``type`` and ``minGpuMemory`` are the server's."""

    uuid: str
    name: str | None = None
    description: str | None = None
    install_path: str | None = None
    parameters: str | None = None
    model_center_uuid: str | None = None
    logo: str | None = None
    vendor: str | None = None
    introduction: str | None = None
    size: int | None = None
    version: str | None = None
    type: str | None = None
    min_gpu_memory: int | None = None
    model_service_refs: list[ModelServiceRef] | None = None
    create_date: ZStackDate | None = None
    last_op_date: ZStackDate | None = None

    @property
    def service_uuids(self) -> set[str]:
        """Uuids of the model services this model is bound to."""
        refs = self.model_service_refs or ()
        return {ref.model_service_uuid for ref in refs if ref.model_service_uuid}


# -- deployments ---------------------------------------------------------------------------


class DeployModelServiceParam(_Wire):
    """The ``deployModelService`` object (``sdk/DeployModelServiceAction``).

    The fields up to ``l3_network_uuids`` are 5.1.20's; the rest exist only in newer releases
    (the later fork's SDK, ZSTACK-AI-LIFECYCLE.md 4), ``resource_uuid`` and ``tag_uuids``
    among them: leave them None for a 5.1.20 node, which ignores what it does not know.
    """

    name: str
    zone_uuid: str
    type: DeploymentType
    description: str | None = None
    model_uuid: str | None = None
    vm_image_uuid: str | None = None
    primary_storage_uuid: str | None = None
    docker_image: str | None = None
    cpu_num: int | None = None
    memory_size: int | None = None
    service_boot_uptime: int | None = None
    dataset_uuids: list[str] | None = None
    model_service_group_uuids: list[str] | None = None
    l3_network_uuids: list[str] | None = None
    cluster_uuid: str | None = None
    request_cpu_num: int | None = None
    request_memory_size: int | None = None
    service_livez: str | None = None
    service_readyz: str | None = None
    root_disk_offering_uuid: str | None = None
    root_disk_size: int | None = None
    project_uuid: str | None = None
    placement_mode: PlacementMode | None = None
    target_uuid: str | None = None
    gpu_spec_uuid: str | None = None
    gpu_count: int | None = None
    resource_uuid: str | None = None
    tag_uuids: list[str] | None = None


class UpdateModelServiceInstanceGroupParam(_Wire):
    """The ``updateModelServiceInstanceGroup`` object: a rename, nothing else."""

    name: str


class ModelServiceInstanceInventory(_Inventory):
    """One instance of a deployment (``ModelServiceInstanceInventory``).

    ``url``, ``internal_url`` and ``url_maps`` are where the model answers; ``vm`` is the
    standard VM inventory, kept as a plain mapping. ``name`` and ``account_uuid`` exist only in
    newer releases.
    """

    uuid: str
    model_service_group_uuid: str | None = None
    name: str | None = None
    yaml: str | None = None
    # to_camel would say ``k8SResourceYaml``.
    k8s_resource_yaml: str | None = Field(default=None, alias="k8sResourceYaml")
    status: str | None = None
    url: str | None = None
    url_maps: dict[str, Any] | None = None
    internal_url: str | None = None
    jupyter_url: str | None = None
    vm_instance_uuid: str | None = None
    vm: dict[str, Any] | None = None
    account_uuid: str | None = None
    create_date: ZStackDate | None = None
    last_op_date: ZStackDate | None = None


class ModelServiceGroupDatasetRefInventory(_Inventory):
    """A dataset a deployment uses (``ModelServiceGroupDatasetRefInventory``)."""

    uuid: str | None = None
    dataset_uuid: str | None = None
    model_service_instance_group_uuid: str | None = None


class ModelServiceInstanceGroupInventory(_Inventory):
    """A deployment of a model service (``ModelServiceInstanceGroupInventory``).

    ``model_service_uuid`` becomes None when its service is deleted (the foreign key is ON
    DELETE SET NULL); ``description`` exists only in newer releases.
    """

    uuid: str
    model_uuid: str | None = None
    name: str | None = None
    description: str | None = None
    model_service_uuid: str | None = None
    instances: list[ModelServiceInstanceInventory] | None = None
    dataset_ref_inventories: list[ModelServiceGroupDatasetRefInventory] | None = None
    status: str | None = None
    model_service_type: str | None = None
    type: str | None = None
    create_date: ZStackDate | None = None
    last_op_date: ZStackDate | None = None
