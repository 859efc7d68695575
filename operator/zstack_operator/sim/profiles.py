"""What each simulated ZStack release knows: field sets, enums, defaults, inventory shape.

Owned here: ``Profile`` and the three the simulator has (ZSTACK-API.md sections 3.2-3.4 and
section 10 row 4), chosen by ``--zstack-version`` through ``profile_for``:

- ``5.1.20`` (5.1.8-5.2.x): Add/Update take ``dockerImage`` and ``vmImageUuid``; ``framework``
  is one of ``Other|Bentoml|HuggingFace`` and defaults to ``Other``; no ``source``,
  ``architectureImages``, container or GPU fields; the inventory has neither ``version`` nor
  ``hasNewVersion``, ``readme``, ``source``, ``cpuArchitectures``, ``modelServiceImages``,
  ``supportDistributed``, ``containerCommand``, ``containerArgs``, ``vendorToSpecUuidsMap``.
- ``5.3.20``: adds ``source`` (the old framework values, default ``Other``) and ``readme``;
  ``framework`` takes the engine names and has no default.
- the newest (``5.5.22``): the seed page's shape, as ``zstack.models`` has it (images per
  architecture, free ``framework``, ``version``/``hasNewVersion``).

Other versions get the profile whose fields they have, by the thresholds
``resources.releases`` uses: before 5.3.20 the 5.1.20 one (``5.2.1`` too), 5.3.20 itself the
5.3.20 one, anything later or unparsable the newest (the release that brought the newest
shape is not in the sources). Fields a
profile does not know are dropped on input, as Gson drops unknown keys. Used by ``validate``
(field specs), ``inventory`` (shape), ``services_ops`` (defaults) and ``query`` (fields).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..zstack.models import AddModelServiceParam, UpdateModelServiceParam
from .validate import FieldSpec, field_specs

NEWEST = "5.5.22"
#: ``AddModelServiceParam.framework`` validValues up to 5.2.x, and ``source`` in 5.3.20.
OLD_FRAMEWORKS = ("Other", "Bentoml", "HuggingFace")
#: ``framework`` validValues in 5.3.20 (J53 ``AddModelServiceAction``).
FRAMEWORKS_5_3: tuple[str, ...] = (
    "vLLM", "Diffusers", "Transformers", "sentence_transformers", "llama.cpp", "Ollama", "Other",
)  # fmt: skip
_TYPES = ("Endpoint", "FineTune", "ModelEval", "App")


@dataclass(frozen=True)
class Profile:
    """One release's model-service API."""

    version: str
    add_fields: tuple[FieldSpec, ...]
    update_fields: tuple[FieldSpec, ...]
    #: Wire names of ModelServiceInventory, in the order the release prints them.
    inventory_fields: tuple[str, ...]
    #: What a new service reports for fields the request left out (message and DB defaults).
    defaults: Mapping[str, Any]

    def knows(self, field: str) -> bool:
        """Whether the release's inventory has ``field``."""
        return field in self.inventory_fields


def _s(name: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "str", required)


_TYPE = FieldSpec("type", "enum", valid=_TYPES)

_ADD_5_1 = (
    _s("name", True),
    _s("description"),
    _s("yaml", True),
    _s("dockerImage"),
    _s("vmImageUuid"),
    FieldSpec("requestCpu", "int", True),
    FieldSpec("requestMemory", "int", True),
    _s("zoneUuid"),
    _s("modelCenterUuid", True),
    _s("gpuComputeCapability"),
    _s("installPath", True),
    FieldSpec("system", "bool"),
    _s("startCommand", True),
    _s("pythonVersion"),
    _s("condaVersion"),
    _TYPE,
    FieldSpec("framework", "enum", valid=OLD_FRAMEWORKS),
    _s("resourceUuid"),
    FieldSpec("tagUuids", "str_list"),
    FieldSpec("modelUuids", "str_list"),
)
_UPDATE_5_1 = (
    _s("name"),
    _s("dockerImage"),
    _s("description"),
    _s("yaml"),
    _s("vmImageUuid"),
    FieldSpec("requestCpu", "int"),
    FieldSpec("requestMemory", "int"),
    _s("gpuComputeCapability"),
    _s("startCommand"),
    _s("pythonVersion"),
    _TYPE,
    FieldSpec("framework", "enum", valid=OLD_FRAMEWORKS),
)


def _with_5_3_enums(specs: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
    out = []
    for spec in specs:
        if spec.name == "framework":
            out.append(FieldSpec("framework", "enum", valid=FRAMEWORKS_5_3))
            out.append(FieldSpec("source", "enum", valid=OLD_FRAMEWORKS))
        else:
            out.append(spec)
    return tuple(out)


_INVENTORY_5_1 = (
    "uuid", "name", "description", "yaml", "requestCpu", "requestMemory", "modelCenterUuid",
    "type", "framework", "dockerImage", "size", "system", "vmImageUuid", "gpuComputeCapability",
    "installPath", "pythonVersion", "condaVersion", "startCommand", "modelServiceRefs",
    "createDate", "lastOpDate",
)  # fmt: skip
_INVENTORY_5_3 = (
    "uuid", "name", "description", "readme", "yaml", "requestCpu", "requestMemory",
    "modelCenterUuid", "type", "framework", "source", "dockerImage", "size", "system",
    "vmImageUuid", "gpuComputeCapability", "installPath", "pythonVersion", "condaVersion",
    "startCommand", "modelServiceRefs", "createDate", "lastOpDate",
)  # fmt: skip
_INVENTORY_NEWEST = (
    "uuid", "name", "description", "readme", "yaml", "requestCpu", "requestMemory",
    "modelCenterUuid", "type", "framework", "source", "size", "system", "hasNewVersion",
    "gpuComputeCapability", "installPath", "pythonVersion", "condaVersion", "version",
    "startCommand", "containerCommand", "containerArgs", "supportDistributed",
    "cpuArchitectures", "vendorToSpecUuidsMap", "modelServiceRefs", "modelServiceImages",
    "createDate", "lastOpDate",
)  # fmt: skip

_BASE_DEFAULTS = {"type": "Endpoint", "system": False, "size": 0}

PROFILES: dict[str, Profile] = {
    "5.1.20": Profile(
        "5.1.20",
        _ADD_5_1,
        _UPDATE_5_1,
        _INVENTORY_5_1,
        MappingProxyType({**_BASE_DEFAULTS, "framework": "Other"}),
    ),
    "5.3.20": Profile(
        "5.3.20",
        _with_5_3_enums(_ADD_5_1),
        _with_5_3_enums(_UPDATE_5_1),
        _INVENTORY_5_3,
        MappingProxyType({**_BASE_DEFAULTS, "source": "Other"}),
    ),
    NEWEST: Profile(
        NEWEST,
        field_specs(AddModelServiceParam),
        field_specs(UpdateModelServiceParam),
        _INVENTORY_NEWEST,
        MappingProxyType({**_BASE_DEFAULTS, "supportDistributed": False, "hasNewVersion": False}),
    ),
}


def _parse(version: str) -> tuple[int, ...] | None:
    found = re.match(r"\s*(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in found.group(1).split(".")) if found else None


def profile_for(version: str) -> Profile:
    """The profile of ZStack ``version`` (see the module docstring for the thresholds)."""
    wanted = _parse(version)
    if wanted is None or wanted >= (5, 3, 21):
        return PROFILES[NEWEST]
    return PROFILES["5.3.20" if wanted >= (5, 3, 20) else "5.1.20"]
