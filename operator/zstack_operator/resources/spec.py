"""The desired state of a ModelService: ``ModelServiceSpec`` and its parts.

Owned here: every field of ZStack's AddModelService ``param`` object (same snake_case names and
types as ``zstack.models.AddModelServiceParam``, camelCase on the wire and in the CRD), the
request-level tags, and the operator's own fields. Field descriptions, limits and patterns
here ARE the CRD schema: ``crdgen`` renders them, so edit them here, never in ``crds/``.
Used by ``plan``/``reconcile`` (through ``to_add_param`` and ``param_fields``) and ``crdgen``.

Sources of the limits: the seed API page (required flags), ZSTACK-API.md sections 3, 5 and 6
(enums, uuid shapes, database column widths).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, StrictBool, StrictInt

from zstack_operator.resources.common import CrdModel, DeletionPolicy, ManagementPolicy, Uuid32
from zstack_operator.zstack.models import (
    IMMUTABLE_PARAMS,
    ZSTACK_UUID_PATTERN,
    AddModelServiceParam,
    ArchitectureImage,
    CpuArchitecture,
    ServiceType,
)

_IMMUTABLE = "Immutable once set: ZStack cannot change it in place."
_CREATE_ONLY = (
    "Used only when the model service is created; ZStack does not report it back, so the "
    "operator records the value it created with and reports a later change instead of applying it."
)


class ConnectionRef(CrdModel):
    """Which ZStack connection (endpoint and credentials) manages this resource."""

    name: str = Field(
        description="Name of the ZStack connection to use. When connectionRef is omitted the "
        "operator's default connection is used.",
        min_length=1,
    )


class ArchitectureImageSpec(ArchitectureImage):
    """The image a model service runs on one CPU architecture."""

    # Redeclared (same names and types as the wire model) to carry descriptions and limits.
    cpu_architecture: CpuArchitecture = Field(
        description="CPU architecture this image is for: X86_64 or AARCH64."
    )
    vm_image_uuid: Uuid32 | None = Field(
        default=None,
        description="UUID of the ZStack VM image used when the service is deployed as virtual "
        "machines on this architecture.",
    )
    docker_image: str | None = Field(
        default=None,
        max_length=255,
        description="Container image (registry/repository:tag) used when the service is "
        "deployed as containers on this architecture.",
    )


def _add_immutability_rules(schema: dict[str, Any]) -> None:
    schema["x-kubernetes-validations"] = immutability_rules()


class ModelServiceSpec(CrdModel):
    """Desired state: the AddModelService parameters plus the operator's own fields.

    Integers and booleans are strict (no "4" or "yes"), as the API server's schema is, so a
    spec this model accepts is one the CRD accepts.
    """

    model_config = ConfigDict(json_schema_extra=_add_immutability_rules)

    name: str | None = Field(
        default=None,
        max_length=255,
        description="Resource name of the model service in ZStack. Defaults to metadata.name.",
    )
    description: str | None = Field(
        default=None, max_length=2048, description="Detailed description of the resource."
    )
    yaml: str = Field(
        description="The service's configuration file in YAML format (for example its services "
        "with ports and livez/readyz probes, env, distro packages and Python requirements). "
        "Compared as exact text."
    )
    request_cpu: StrictInt = Field(
        ge=1,
        description="Number of CPU cores the service needs.",
        json_schema_extra={"format": "int32"},
    )
    request_memory: StrictInt = Field(
        ge=1,
        description="Amount of memory the service needs. ZStack does not document the unit; "
        "its examples (1024, 8192) suggest MiB.",
        json_schema_extra={"format": "int64"},
    )
    zone_uuid: Uuid32 | None = Field(
        default=None, description=f"UUID of the zone the service belongs to. {_IMMUTABLE}"
    )
    model_center_uuid: Uuid32 = Field(
        description=f"UUID of the model center that hosts the service. {_IMMUTABLE}"
    )
    gpu_compute_capability: str | None = Field(
        default=None,
        max_length=32,
        description="GPU compute capability the service requires (for example 8.0).",
    )
    install_path: str = Field(
        max_length=512,
        description=f"Installation path of the service in the model center. {_IMMUTABLE}",
    )
    system: StrictBool | None = Field(
        default=None,
        description=f"Whether this is a system (built-in) model service. {_IMMUTABLE}",
    )
    start_command: str = Field(max_length=1024, description="Command that starts the service.")
    python_version: str | None = Field(
        default=None, max_length=32, description="Python version the service runs with."
    )
    conda_version: str | None = Field(
        default=None,
        max_length=32,
        description=f"Conda version the service's environment uses. {_IMMUTABLE}",
    )
    type: ServiceType | None = Field(
        default=None,
        description="Type of the model service: Endpoint, FineTune, ModelEval or App. "
        "ZStack uses Endpoint when it is omitted.",
    )
    framework: str | None = Field(
        default=None,
        max_length=255,
        description="Framework of the model service, for example vLLM, Diffusers, Transformers, "
        "sentence_transformers, llama.cpp, Ollama or Other. The accepted values depend on the "
        "ZStack release.",
    )
    resource_uuid: str | None = Field(
        default=None,
        pattern=ZSTACK_UUID_PATTERN,
        max_length=32,
        description="UUID to give the model service in ZStack (32 lowercase hex characters, "
        "version nibble 1-5, variant 8, 9, a or b). Defaults to metadata.uid without dashes. "
        "With managementPolicy Observe it names the existing service to observe. "
        f"{_IMMUTABLE}",
    )
    tag_uuids: list[Uuid32] | None = Field(
        default=None, description=f"UUIDs of ZStack tags to attach. {_CREATE_ONLY}"
    )
    source: str | None = Field(
        default=None,
        max_length=32,
        description="Where the model service comes from, for example Other, Bentoml or "
        "HuggingFace.",
    )
    model_uuids: list[Uuid32] | None = Field(
        default=None,
        description="UUIDs of the models bound to the service. Changes are applied by binding "
        "and unbinding models.",
    )
    architecture_images: list[ArchitectureImageSpec] | None = Field(
        default=None, description="Image to use on each CPU architecture the service supports."
    )
    support_distributed: StrictBool | None = Field(
        default=None,
        description="Whether the service supports distributed deployment across several instances.",
    )
    container_command: str | None = Field(
        default=None, description="Command that starts the service's container."
    )
    container_args: str | None = Field(
        default=None, description="Arguments passed to the container's start command."
    )
    vendor_to_spec_uuids_map: dict[str, list[Uuid32]] | None = Field(
        default=None,
        description="Map from GPU vendor (for example NVIDIA) to the UUIDs of the GPU "
        "specifications the service can use.",
    )
    system_tags: list[str] | None = Field(
        default=None, description=f"ZStack system tags of the request. {_CREATE_ONLY}"
    )
    user_tags: list[str] | None = Field(
        default=None, description=f"ZStack user tags of the request. {_CREATE_ONLY}"
    )
    connection_ref: ConnectionRef | None = Field(
        default=None,
        description="The ZStack connection to use; the operator's default connection if omitted.",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DELETE,
        description="Delete removes the model service from ZStack when this object is deleted; "
        "Orphan leaves it in ZStack.",
    )
    management_policy: ManagementPolicy = Field(
        default=ManagementPolicy.MANAGE,
        description="Manage creates and updates the model service in ZStack; Observe only reads "
        "it (named by resourceUuid) and reports it in status.",
    )

    def param_fields(self) -> dict[str, Any]:
        """Return the ZStack ``param`` fields the user set, by snake_case name.

        Operator fields and request-level tags are left out, and so is ``name`` when unset (the
        caller supplies metadata.name, as ``to_add_param`` does). Values are Python objects:
        enums stay enums, architecture images become snake_case dicts.
        """
        return self.model_dump(
            mode="python", by_alias=False, exclude_none=True, include=set(PARAM_FIELDS)
        )

    def to_add_param(self, *, default_name: str, resource_uuid: str) -> AddModelServiceParam:
        """Build the AddModelService ``param``: the fields the user set, a name, and a uuid."""
        fields = self.param_fields()
        fields.setdefault("name", default_name)
        fields["resource_uuid"] = resource_uuid
        return AddModelServiceParam.model_validate(fields)


#: Spec fields that are AddModelService ``param`` fields (snake_case).
PARAM_FIELDS: frozenset[str] = frozenset(AddModelServiceParam.model_fields)
#: Spec fields sent beside ``param`` in the AddModelService request.
TAG_FIELDS: frozenset[str] = frozenset({"system_tags", "user_tags"})
#: Spec fields only the operator reads.
OPERATOR_FIELDS: frozenset[str] = frozenset(
    {"connection_ref", "deletion_policy", "management_policy"}
)


def immutable_fields() -> list[str]:
    """Return the camelCase names of the spec fields ZStack cannot change, in spec order."""
    return [
        (info.alias or name)
        for name, info in ModelServiceSpec.model_fields.items()
        if name in IMMUTABLE_PARAMS
    ]


def immutability_rules() -> list[dict[str, str]]:
    """CEL transition rules on ``spec``: once a field is set it can neither change nor go away.

    A field absent from the old object may be added (for example to pin the uuid the operator
    chose, or to spell out a value ZStack defaulted); the operator compares such a value with
    ZStack and reports ImmutableFieldChanged when they differ.
    """
    return [
        {
            "rule": f"!has(oldSelf.{f}) || (has(self.{f}) && self.{f} == oldSelf.{f})",
            "message": f"{f} is immutable once set: it cannot be changed or removed",
        }
        for f in immutable_fields()
    ]
