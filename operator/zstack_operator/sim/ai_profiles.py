"""What each simulated release knows of the AI lifecycle APIs: Deploy fields, inventory shapes.

Owned here: ``AiProfile`` and one per release profile (``profiles``), picked by
``ai_profile``. The field checks come from the client's models (``zstack.ai_models``), so both
sides share them; what differs per release (ZSTACK-AI-LIFECYCLE.md 4):

- ``5.1.20``: DeployModelService takes ``name``, ``zoneUuid``, ``type``
  (``VirtualMachine|Container``) and the optional fields up to ``l3NetworkUuids``; **no**
  ``resourceUuid`` or ``tagUuids`` (Deploy is no ``APICreateMessage`` there); the group has no
  ``description`` and the instance no ``name`` or ``accountUuid``.
- ``5.3.20``: the same as 5.1.20 (the sources show no AI change up to it; unverified).
- the newest (``5.5.22``): the later fork's Deploy (``resourceUuid``, ``tagUuids``, ``BareMetal2``,
  placement, GPU and root-disk fields), the group's ``description`` and the instance's ``name``
  and ``accountUuid``.

Model centers and models are the same in every profile (their 5.1.20 shapes already have
``containerStorageNetwork``, ``capacity`` and ``modelServiceUuids``). Fields a release does not
know are dropped on input, as Gson drops unknown keys. Used by ``centers_api``,
``models_api``, ``deploy_api`` and ``ai_inventory``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..zstack.ai_models import (
    AddModelCenterParam,
    AddModelParam,
    DeployModelServiceParam,
    UpdateModelCenterParam,
    UpdateModelParam,
    UpdateModelServiceInstanceGroupParam,
)
from .profiles import NEWEST, Profile
from .validate import FieldSpec, field_specs

ADD_CENTER_FIELDS = field_specs(AddModelCenterParam)
UPDATE_CENTER_FIELDS = field_specs(UpdateModelCenterParam)
ADD_MODEL_FIELDS = field_specs(AddModelParam)
UPDATE_MODEL_FIELDS = field_specs(UpdateModelParam)
UPDATE_GROUP_FIELDS = field_specs(UpdateModelServiceInstanceGroupParam)
#: ``maxLength`` of the String fields that declare one (no Add declares any).
UPDATE_CENTER_LENGTHS: Mapping[str, int] = MappingProxyType(
    dict.fromkeys(("name", "url", "description", "parameters"), 255)
)
UPDATE_MODEL_LENGTHS: Mapping[str, int] = MappingProxyType(
    dict.fromkeys(("name", "installPath", "description", "parameters", "modelCenterUuid"), 255)
)
UPDATE_GROUP_LENGTHS: Mapping[str, int] = MappingProxyType({"name": 255})
DEPLOY_LENGTHS: Mapping[str, int] = MappingProxyType({"serviceLivez": 255, "serviceReadyz": 255})

_DEPLOY_NEWEST = field_specs(DeployModelServiceParam)
#: 5.1.20's Deploy: the fields up to ``l3NetworkUuids``, ``type`` without ``BareMetal2``.
_DEPLOY_5_1 = tuple(
    FieldSpec("type", "enum", True, ("VirtualMachine", "Container")) if s.name == "type" else s
    for s in _DEPLOY_NEWEST[: [s.name for s in _DEPLOY_NEWEST].index("l3NetworkUuids") + 1]
)

_GROUP_5_1 = (
    "uuid", "modelUuid", "name", "modelServiceUuid", "instances", "datasetRefInventories",
    "status", "modelServiceType", "type", "createDate", "lastOpDate",
)  # fmt: skip
_GROUP_NEWEST = (
    "uuid", "modelUuid", "name", "description", "modelServiceUuid", "instances",
    "datasetRefInventories", "status", "modelServiceType", "type", "createDate", "lastOpDate",
)  # fmt: skip
_INSTANCE_5_1 = (
    "uuid", "modelServiceGroupUuid", "yaml", "k8sResourceYaml", "status", "url", "urlMaps",
    "internalUrl", "jupyterUrl", "vmInstanceUuid", "vm", "createDate", "lastOpDate",
)  # fmt: skip
_INSTANCE_NEWEST = (
    "uuid", "modelServiceGroupUuid", "name", "yaml", "k8sResourceYaml", "status", "url",
    "urlMaps", "internalUrl", "jupyterUrl", "vmInstanceUuid", "vm", "accountUuid",
    "createDate", "lastOpDate",
)  # fmt: skip
#: ModelCenterInventory and ModelInventory, the same in every profile.
CENTER_FIELDS = (
    "uuid", "name", "description", "url", "parameters", "managementIp", "managementPort",
    "storageNetworkUuid", "serviceNetworkUuid", "containerRegistry", "containerNetwork",
    "containerStorageNetwork", "status", "capacity", "createDate", "lastOpDate",
)  # fmt: skip
MODEL_FIELDS = (
    "uuid", "name", "description", "installPath", "parameters", "modelCenterUuid", "logo",
    "vendor", "introduction", "size", "version", "type", "minGpuMemory", "modelServiceRefs",
    "createDate", "lastOpDate",
)  # fmt: skip


@dataclass(frozen=True)
class AiProfile:
    """One release's AI lifecycle API."""

    deploy_fields: tuple[FieldSpec, ...]
    #: ModelServiceInstanceGroupInventory and ModelServiceInstanceInventory, in wire order.
    group_fields: tuple[str, ...]
    instance_fields: tuple[str, ...]

    @property
    def deploy_takes_resource_uuid(self) -> bool:
        """Whether Deploy is an ``APICreateMessage`` in this release."""
        return any(s.name == "resourceUuid" for s in self.deploy_fields)


_OLD = AiProfile(_DEPLOY_5_1, _GROUP_5_1, _INSTANCE_5_1)
AI_PROFILES: Mapping[str, AiProfile] = MappingProxyType(
    {
        "5.1.20": _OLD,
        "5.3.20": _OLD,
        NEWEST: AiProfile(_DEPLOY_NEWEST, _GROUP_NEWEST, _INSTANCE_NEWEST),
    }
)


def ai_profile(profile: Profile) -> AiProfile:
    """The AI lifecycle profile of a release profile."""
    return AI_PROFILES[profile.version]
