"""The desired state of a ModelService: ``ModelServiceSpec`` and its parts.

Owned here: every field of ZStack's AddModelService ``param`` object (same snake_case names and
types as ``zstack.models.AddModelServiceParam``, camelCase on the wire and in the CRD), the
request-level tags, and the operator's own fields. Field descriptions, limits and patterns
here ARE the CRD schema: ``crdgen`` renders them, so edit them here, never in ``crds/``.
Field roles (mutable, immutable, create-only, ...) live in ``fields``; the descriptions' role
sentences and the CEL rules are derived from it. Used by ``plan`` (through ``to_add_param`` and
``to_update_param``, the one value builder for both calls) and ``crdgen``.

Sources of the limits: the seed API page (required flags), ZSTACK-API.md sections 3, 5 and 6
(enums, uuid shapes, database column widths).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from zstack_operator.resources import fields
from zstack_operator.resources.chainbase import LocalRef
from zstack_operator.resources.common import CrdModel, DeletionPolicy, ManagementPolicy, Uuid32
from zstack_operator.zstack.models import (
    ZSTACK_UUID_PATTERN,
    AddModelServiceParam,
    ArchitectureImage,
    CpuArchitecture,
    ServiceType,
    UpdateModelServiceParam,
)

#: Bounds of every string, list and map, chosen so that the largest object the schema admits
#: stays well under etcd's 1.5 MiB request limit even with every character JSON-escaped (6
#: bytes), and a client-side ``kubectl apply`` (which copies the object into a 256 KiB
#: annotation) still works for ordinary text. tests/e2e/test_largest_object.py applies it.
MAX_YAML = 65536
MAX_COMMAND = 4096
MAX_ITEMS = 64
MAX_MODELS = 256
MAX_VENDORS = 16
MAX_TAG = 1024
MAX_KEY = 64
#: A system or user tag ("key::value" form).
Tag = Annotated[str, Field(max_length=MAX_TAG)]
# A structural schema cannot bound map keys (no propertyNames): a CEL rule does, on 1.25+, and
# the operator's own validation (``_short_keys``) everywhere.
_VENDOR_KEY_MESSAGE = f"vendor names are at most {MAX_KEY} characters"
_VENDOR_KEYS: JsonDict = {
    "rule": f"self.all(k, size(k) <= {MAX_KEY})",
    "message": _VENDOR_KEY_MESSAGE,
}


#: The user tag that marks a ZStack service as created (or adopted) by one ModelService:
#: ``zstack-operator::owner::<namespace>/<name>`` (docs/tenancy.md). Reserved: a spec may not
#: carry it, or a new object could claim to own what another created.
OWNER_TAG_PREFIX = "zstack-operator::owner::"


class ConnectionKind(StrEnum):
    """The kinds of resource ``spec.connectionRef`` can name."""

    NAMESPACED = "ZStackConnection"
    CLUSTER = "ClusterZStackConnection"


class AdoptionPolicy(StrEnum):
    """Whether a ModelService may take over a ZStack service it did not create."""

    NEVER = "Never"
    ADOPT = "Adopt"


class ConnectionRef(CrdModel):
    """Which ZStack connection (endpoint and credentials) manages this resource."""

    kind: ConnectionKind = Field(
        default=ConnectionKind.NAMESPACED,
        description="ZStackConnection (in this namespace) or ClusterZStackConnection (offered "
        "to this namespace by a cluster admin).",
    )
    name: str = Field(
        description="Name of the connection. When connectionRef is omitted, the namespace's "
        "ZStackConnection named 'default' is used if there is one, else the operator's own "
        "connection (its command-line flags).",
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
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


def _from_field_table(schema: dict[str, Any]) -> None:
    """End each description with its role's sentence (``fields``)."""
    for name in fields.FIELDS:
        prop = schema["properties"].get(to_camel(name))
        note = fields.role_note(name)
        if prop is not None and note:
            prop["description"] = f"{prop['description']} {note}"


class ModelServiceSpec(CrdModel):
    """Desired state: the AddModelService parameters plus the operator's own fields.

    Integers and booleans are strict (no "4" or "yes"), as the API server's schema is, so a
    spec this model accepts is one the CRD accepts.
    """

    model_config = ConfigDict(json_schema_extra=_from_field_table)

    name: str | None = Field(
        default=None,
        max_length=255,
        description="Resource name of the model service in ZStack. Defaults to metadata.name.",
    )
    description: str | None = Field(
        default=None, max_length=2048, description="Detailed description of the resource."
    )
    yaml: str = Field(
        max_length=MAX_YAML,
        description="The service's configuration file in YAML format (for example its services "
        "with ports and livez/readyz probes, env, distro packages and Python requirements). "
        "Compared as exact text.",
    )
    request_cpu: StrictInt = Field(
        ge=1,
        le=2**31 - 1,
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
        default=None, description="UUID of the zone the service belongs to."
    )
    model_center_uuid: Uuid32 = Field(
        description="UUID of the model center that hosts the service."
    )
    gpu_compute_capability: str | None = Field(
        default=None,
        max_length=32,
        description="GPU compute capability the service requires (for example 8.0).",
    )
    install_path: str = Field(
        max_length=512,
        description="Installation path of the service in the model center.",
    )
    system: StrictBool | None = Field(
        default=None,
        description="Whether this is a system (built-in) model service.",
    )
    start_command: str = Field(max_length=1024, description="Command that starts the service.")
    python_version: str | None = Field(
        default=None, max_length=32, description="Python version the service runs with."
    )
    conda_version: str | None = Field(
        default=None,
        max_length=32,
        description="Conda version the service's environment uses.",
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
        "With managementPolicy Observe it names the existing service to observe.",
    )
    tag_uuids: list[Uuid32] | None = Field(
        default=None, max_length=MAX_ITEMS, description="UUIDs of ZStack tags to attach."
    )
    source: str | None = Field(
        default=None,
        max_length=32,
        description="Where the model service comes from, for example Other, Bentoml or "
        "HuggingFace.",
    )
    model_uuids: list[Uuid32] | None = Field(
        default=None,
        max_length=MAX_MODELS,
        description="UUIDs of the models bound to the service. Changes are applied by binding "
        "and unbinding models.",
    )
    model_refs: list[LocalRef] | None = Field(
        default=None,
        max_length=MAX_MODELS,
        description="Models (in this namespace) to bind, by name: each Model's status.uuid, once "
        "it is Ready, is bound as if listed in modelUuids. The service waits for them.",
    )
    architecture_images: list[ArchitectureImageSpec] | None = Field(
        default=None,
        max_length=len(CpuArchitecture),
        description="Image to use on each CPU architecture the service supports.",
    )
    support_distributed: StrictBool | None = Field(
        default=None,
        description="Whether the service supports distributed deployment across several instances.",
    )
    container_command: str | None = Field(
        default=None,
        max_length=MAX_COMMAND,
        description="Command that starts the service's container.",
    )
    container_args: str | None = Field(
        default=None,
        max_length=MAX_COMMAND,
        description="Arguments passed to the container's start command.",
    )
    vendor_to_spec_uuids_map: (
        dict[str, Annotated[list[Uuid32], Field(max_length=MAX_ITEMS)]] | None
    ) = Field(
        default=None,
        max_length=MAX_VENDORS,
        json_schema_extra={"x-kubernetes-validations": [_VENDOR_KEYS]},
        description="Map from GPU vendor (for example NVIDIA) to the UUIDs of the GPU "
        "specifications the service can use.",
    )
    system_tags: list[Tag] | None = Field(
        default=None, max_length=MAX_ITEMS, description="ZStack system tags of the request."
    )
    user_tags: list[Tag] | None = Field(
        default=None, max_length=MAX_ITEMS, description="ZStack user tags of the request."
    )
    connection_ref: ConnectionRef | None = Field(
        default=None,
        description="The ZStack connection to use (see connectionRef.name for the default).",
    )
    adoption_policy: AdoptionPolicy = Field(
        default=AdoptionPolicy.NEVER,
        description="Never: manage only a service this object created, and refuse one that "
        "already exists. Adopt: take over the existing service named by resourceUuid if no "
        "other ModelService owns it and the connection allows adoption; it is then marked with "
        "this object's owner tag and deleted with it under deletionPolicy Delete.",
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

    @field_validator("user_tags", "system_tags")
    @classmethod
    def _no_owner_tag(cls, value: list[str] | None) -> list[str] | None:
        for tag in value or []:
            if tag.strip().startswith(OWNER_TAG_PREFIX):
                raise ValueError(f"tags starting with {OWNER_TAG_PREFIX!r} are the operator's own")
        return value

    @field_validator("vendor_to_spec_uuids_map")
    @classmethod
    def _short_keys(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        for key in value or {}:
            if len(key) > MAX_KEY:
                raise ValueError(_VENDOR_KEY_MESSAGE)
        return value

    def values(self, names: Iterable[str], *, default_name: str) -> dict[str, Any]:
        """The named fields the user set, by snake_case name (``name`` defaults to metadata's).

        The one source of ZStack parameters for both AddModelService and UpdateModelService.
        Values are Python objects: enums stay enums, architecture images become dicts.
        """
        wanted = set(names)
        out = self.model_dump(mode="python", by_alias=False, exclude_none=True, include=wanted)
        if "name" in wanted:
            out["name"] = self.name or default_name
        return out

    def to_add_param(
        self, *, default_name: str, resource_uuid: str, skip: Iterable[str] = ()
    ) -> AddModelServiceParam:
        """The AddModelService ``param``: every param field the user set, a name and the uuid.

        ``skip``: fields the server does not know (``releases``), left out.
        """
        values = self.values(set(fields.PARAM) - set(skip), default_name=default_name)
        values["resource_uuid"] = resource_uuid
        return AddModelServiceParam.model_validate(values)

    def to_update_param(
        self, changed: Iterable[str], *, default_name: str
    ) -> UpdateModelServiceParam:
        """The UpdateModelService object for the fields that drifted."""
        return UpdateModelServiceParam.model_validate(
            self.values(changed, default_name=default_name)
        )


def immutable_fields() -> list[str]:
    """The camelCase names of the spec fields ZStack cannot change, in spec order."""
    return [to_camel(name) for name in fields.IMMUTABLE]


def immutability_rules() -> list[dict[str, str]]:
    """CEL transition rules on the whole object: frozen once ZStack holds the service.

    Once ``status.uuid`` is set, a field set before can neither change nor go away. Before
    that, a value ZStack rejected can be corrected. A field absent from the old object may be
    added (for example to pin the uuid the operator chose, or to spell out a value ZStack
    defaulted); the operator compares such a value with ZStack and reports
    ImmutableFieldChanged when they differ. Root-level because only there can a rule read
    status.
    """
    held = "!has(oldSelf.status) || !has(oldSelf.status.uuid)"
    return [
        {
            "rule": f"{held} || !has(oldSelf.spec.{f}) || "
            f"(has(self.spec.{f}) && self.spec.{f} == oldSelf.spec.{f})",
            "message": f"spec.{f} is immutable once the service exists in ZStack "
            "(status.uuid is set): it cannot be changed or removed",
        }
        for f in immutable_fields()
    ]
