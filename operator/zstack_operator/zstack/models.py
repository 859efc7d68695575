"""Typed shapes of ZStack's model-service API: request params, inventories, error codes.

Owned here: the wire format of AddModelService / UpdateModelService / QueryModelService, of the
tenancy APIs (AccountInventory, UserTagInventory) and of ZStack's ErrorCode, exactly as
``shared/seeds/AddModelService-api-doc.zh.txt``, ``ZSTACK-API.md`` and
``ZSTACK-AI-LIFECYCLE.md`` (sections 6 and 8) describe them. Used by the client
(``zstack.client``), the simulator (``sim``) and the ModelService resource models
(``resources``). Python names are snake_case; every field has its ZStack camelCase name as
alias, and models serialise by alias.

Request models are strict (an unknown field is a programming error); inventory models
tolerate fields they do not know, because ZStack releases differ in what they return.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo
from pydantic.alias_generators import to_camel

#: ZStack's own uuid check for ``resourceUuid`` (``StringDSL.isZStackUuid``).
ZSTACK_UUID_PATTERN = r"^[0-9a-f]{8}[0-9a-f]{4}[1-5][0-9a-f]{3}[89ab][0-9a-f]{3}[0-9a-f]{12}$"
#: Any uuid ZStack prints: 32 lowercase hex characters.
UUID32_PATTERN = r"^[0-9a-f]{32}$"
#: ZStack's built-in admin (``AccountConstant.INITIAL_SYSTEM_ADMIN_UUID``): the one account the
#: query identity filter and the ownership checks let through.
ADMIN_ACCOUNT_UUID = "36c27e8ff05c4780bf6d2fa65700f22e"
#: The JPA entity name a model service's tags and ownership errors carry.
MODEL_SERVICE_VO = "ModelServiceVO"

_GSON_FORMATS = (
    "%b %d, %Y %I:%M:%S %p",  # Gson on Java 8: "Nov 14, 2017 10:20:57 PM"
    "%b %d, %Y, %I:%M:%S %p",  # Gson on Java 9+ (CLDR locale data adds a comma)
)
#: The ``model_validate(..., context=...)`` key naming the zone inventory dates are printed in.
DATE_ZONE_CONTEXT = "zstack_time_zone"


def parse_zstack_date(value: Any, zone: tzinfo = UTC) -> Any:
    """Accept ZStack's Gson dates, ISO 8601 and epoch milliseconds; return aware UTC datetimes.

    ZStack serialises ``Timestamp`` with Gson's default US format and no zone, in the
    management node JVM's own zone (ZSTACK-API.md section 10 row 12): a text without a zone is
    a wall-clock time in ``zone``, the node's zone as the caller knows it (UTC by default). In
    the hour a daylight-saving change repeats, the earlier of the two instants is taken: the
    text cannot tell them apart. Aware inputs keep their instant, whatever ``zone`` says.
    """
    if isinstance(value, datetime):
        return _in_utc(value, zone)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str):
        return value
    # Java 20+ puts a narrow no-break space before AM/PM.
    text = re.sub(r"[\u202f\u00a0]", " ", value.strip())
    for fmt in _GSON_FORMATS:
        try:
            return _in_utc(datetime.strptime(text, fmt), zone)
        except ValueError:
            continue
    return _in_utc(datetime.fromisoformat(text.replace("Z", "+00:00")), zone)


def _in_utc(value: datetime, zone: tzinfo) -> datetime:
    aware = value if value.tzinfo else value.replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC)


def format_zstack_date(value: datetime, zone: tzinfo = UTC) -> str:
    """Render a datetime the way ZStack's Gson does (Java 8 ``MMM d, yyyy h:mm:ss a``).

    The wall clock is ``zone``'s (the node JVM's), and the text says nothing of it.
    """
    v = value.astimezone(zone)
    return f"{v:%b} {v.day}, {v.year} {v.hour % 12 or 12}:{v:%M:%S %p}"


def _date_in_context(value: Any, info: ValidationInfo) -> Any:
    zone = (info.context or {}).get(DATE_ZONE_CONTEXT)
    return parse_zstack_date(value, zone if isinstance(zone, tzinfo) else UTC)


#: A date field of an inventory: parsed in the zone the validation context names (UTC without).
ZStackDate = Annotated[datetime, BeforeValidator(_date_in_context)]


def date_context(zone: tzinfo) -> dict[str, Any]:
    """The validation context that makes inventory dates read as wall-clock times in ``zone``."""
    return {DATE_ZONE_CONTEXT: zone}


class _Wire(BaseModel):
    """Base: camelCase aliases, population by either name, serialisation by alias."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
    )

    def wire(self) -> dict[str, Any]:
        """The JSON object ZStack expects: aliases, and no field that was left unset/None."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ServiceType(StrEnum):
    """``type`` of a model service (validValues in every SDK version)."""

    ENDPOINT = "Endpoint"
    FINE_TUNE = "FineTune"
    MODEL_EVAL = "ModelEval"
    APP = "App"


class CpuArchitecture(StrEnum):
    """``cpuArchitecture`` of an architecture image (GO2 ``ArchitectureImageMappingParam``)."""

    X86_64 = "X86_64"
    AARCH64 = "AARCH64"


class DeleteMode(StrEnum):
    """``deleteMode`` of every ZStack delete API."""

    PERMISSIVE = "Permissive"
    ENFORCING = "Enforcing"


class ArchitectureImage(_Wire):
    """One entry of ``architectureImages``: the image to use on one CPU architecture."""

    cpu_architecture: CpuArchitecture
    vm_image_uuid: str | None = None
    docker_image: str | None = None


class AddModelServiceParam(_Wire):
    """The ``param`` object of AddModelService (the seed page's field list, newest release)."""

    name: str
    description: str | None = None
    yaml: str
    request_cpu: int
    request_memory: int
    zone_uuid: str | None = None
    model_center_uuid: str
    gpu_compute_capability: str | None = None
    install_path: str
    system: bool | None = None
    start_command: str
    python_version: str | None = None
    conda_version: str | None = None
    type: ServiceType | None = None
    framework: str | None = None
    resource_uuid: str | None = None
    tag_uuids: list[str] | None = None
    source: str | None = None
    model_uuids: list[str] | None = None
    architecture_images: list[ArchitectureImage] | None = None
    support_distributed: bool | None = None
    container_command: str | None = None
    container_args: str | None = None
    vendor_to_spec_uuids_map: dict[str, list[str]] | None = None


class UpdateModelServiceParam(_Wire):
    """The ``updateModelService`` object: every field optional, only the given ones change."""

    name: str | None = None
    description: str | None = None
    yaml: str | None = None
    request_cpu: int | None = None
    request_memory: int | None = None
    gpu_compute_capability: str | None = None
    start_command: str | None = None
    python_version: str | None = None
    type: ServiceType | None = None
    framework: str | None = None
    source: str | None = None
    architecture_images: list[ArchitectureImage] | None = None
    support_distributed: bool | None = None
    container_command: str | None = None
    container_args: str | None = None
    vendor_to_spec_uuids_map: dict[str, list[str]] | None = None


class _Inventory(_Wire):
    model_config = ConfigDict(extra="ignore")


class ModelServiceRef(_Inventory):
    """A model bound to a model service (``modelServiceRefs`` item)."""

    uuid: str | None = None
    model_uuid: str
    model_service_uuid: str | None = None


class ModelServiceImage(_Inventory):
    """An image of a model service for one architecture (``modelServiceImages`` item)."""

    uuid: str | None = None
    model_service_uuid: str | None = None
    cpu_architecture: str | None = None
    vm_image_uuid: str | None = None
    docker_image: str | None = None
    create_date: ZStackDate | None = None
    last_op_date: ZStackDate | None = None


class ModelServiceInventory(_Inventory):
    """A model service as ZStack reports it (``ModelServiceInventory``, seed page + SDKs).

    Releases differ (ZSTACK-API.md 3.4): 5.1.x and 5.3.20 report ``dockerImage`` and
    ``vmImageUuid`` and none of ``version``, ``hasNewVersion``, ``cpuArchitectures``,
    ``modelServiceImages`` and the container and GPU fields; 5.1.x has no ``readme`` or
    ``source`` either. Every field but ``uuid`` is optional, so each release's shape parses.
    """

    uuid: str
    name: str | None = None
    description: str | None = None
    readme: str | None = None
    yaml: str | None = None
    request_cpu: int | None = None
    request_memory: int | None = None
    model_center_uuid: str | None = None
    type: str | None = None
    framework: str | None = None
    source: str | None = None
    size: int | None = None
    system: bool | None = None
    has_new_version: bool | None = None
    gpu_compute_capability: str | None = None
    install_path: str | None = None
    python_version: str | None = None
    conda_version: str | None = None
    version: str | None = None
    start_command: str | None = None
    docker_image: str | None = None
    vm_image_uuid: str | None = None
    container_command: str | None = None
    container_args: str | None = None
    support_distributed: bool | None = None
    cpu_architectures: list[str] | None = None
    vendor_to_spec_uuids_map: dict[str, list[str]] | None = None
    model_service_refs: list[ModelServiceRef] | None = None
    model_service_images: list[ModelServiceImage] | None = None
    create_date: ZStackDate | None = None
    last_op_date: ZStackDate | None = None

    @property
    def model_uuids(self) -> set[str]:
        """Uuids of the models bound to this service."""
        return {ref.model_uuid for ref in self.model_service_refs or ()}


class ErrorCode(BaseModel):
    """ZStack's ErrorCode. ``cause`` nests; unknown newer fields are kept in ``extra``."""

    model_config = ConfigDict(extra="allow")

    code: str | None = None
    description: str | None = None
    details: str | None = None
    elaboration: str | None = None
    location: str | None = None
    cost: str | None = None
    cause: ErrorCode | None = None
    opaque: dict[str, Any] | None = None
    causes: list[ErrorCode] | None = Field(default=None, validation_alias=AliasChoices("causes"))

    def chain(self) -> list[ErrorCode]:
        """The error and its causes, outermost first (a cycle-safe walk)."""
        out: list[ErrorCode] = []
        node: ErrorCode | None = self
        while node is not None and len(out) < 16:
            out.append(node)
            node = node.cause
        return out


class SessionInventory(_Inventory):
    """The session returned by login and renew (``SessionInventory``)."""

    uuid: str
    account_uuid: str | None = None
    user_uuid: str | None = None
    user_type: str | None = None
    expired_date: ZStackDate | None = None
    create_date: ZStackDate | None = None
    no_session_evaluation: bool | None = None


class AccountInventory(_Inventory):
    """An account (``AccountInventory``): ``type`` is ``Normal`` or ``SystemAdmin``."""

    uuid: str
    name: str | None = None
    description: str | None = None
    type: str | None = None
    create_date: ZStackDate | None = None
    last_op_date: ZStackDate | None = None


class UserTagInventory(_Inventory):
    """A user tag (``UserTagInventory``): free text on one resource; ``type`` is ``User``."""

    uuid: str
    resource_uuid: str
    resource_type: str | None = None
    tag: str
    type: str | None = None
    tag_pattern_uuid: str | None = None
    create_date: ZStackDate | None = None
    last_op_date: ZStackDate | None = None
