"""Checks of API parameters in the two places ZStack makes them.

1. The REST layer (``coerce``), before a message exists: Integer/Long fields must be whole
   numbers and Boolean fields true/false, else a plain-text 400 (``RestError``) with
   ``TypeVerifier``'s wording; values are read the way Gson would (``"4"`` is 4, a number in a
   String field is its text). What Gson itself cannot read (an Integer beyond int32, an object
   where a String belongs, a non-list for a List) throws, and ``RestServer.handle`` answers
   any exception with a 500 (ZSTACK-API.md section 10 row 6). Unknown keys are ignored, as
   Gson ignores them.
2. The API pipeline (``check``), inside the job for asynchronous APIs: every String trimmed at
   both ends as Java's ``String.trim`` does (row 2), then required fields, ``validValues``,
   architecture images, minimums, the ``resourceUuid`` pattern, giving ``SYS.1007``
   (``ApiError``) in ``ApiMessageParamValidator``'s words (row 13).

The field lists are the simulated release's (``profiles``); the newest one's come from
``zstack.models.AddModelServiceParam`` and ``UpdateModelServiceParam``, and checked values are
finally validated by those models too, so the simulator and the client share one definition.
Called by ``services_api``, ``identity_api``, ``accounts_api`` and ``tags_api``.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from ..zstack.models import (
    ZSTACK_UUID_PATTERN,
    AddModelServiceParam,
    ArchitectureImage,
    CpuArchitecture,
    UpdateModelServiceParam,
)
from .errorcodes import (
    VALIDATOR,
    RestError,
    failure,
    invalid_resource_uuid,
    invalid_value,
    mandatory,
    too_long,
)
from .errorcodes import out_of_range as range_error

_INT_LIMITS = {32: 2**31 - 1, 64: 2**63 - 1}
#: Java ``Long`` fields; every other integer field is an ``Integer``.
_LONG_FIELDS = frozenset(
    {"requestMemory", "duration", "size", "memorySize", "requestMemorySize", "rootDiskSize"}
)
#: Business minimums the simulator enforces (the real checks are closed source), and
#: DeployModelService's declared ``gpuCount`` range (newer releases).
MINIMUMS: Mapping[str, int] = {"requestCpu": 1, "requestMemory": 1, "gpuCount": 1}
_ARCH_VALUES = tuple(a.value for a in CpuArchitecture)
#: What ``String.trim`` removes: every character up to U+0020, not Unicode spaces.
_JAVA_WHITESPACE = "".join(chr(c) for c in range(0x21))


def java_trim(text: str) -> str:
    """``String.trim()``: both ends, every character up to U+0020."""
    return text.strip(_JAVA_WHITESPACE)


def gson_failure(cause: str, path: str) -> RestError:
    """Gson could not read the body into the message: ``RestServer.handle``'s 500.

    The text follows Gson's ``JsonSyntaxException`` without its line and column (which the
    simulator does not track).
    """
    return RestError(500, f"com.google.gson.JsonSyntaxException: {cause} at path $.{path}")


@dataclass(frozen=True)
class FieldSpec:
    """How one param field is typed and checked."""

    name: str
    kind: str  # "str", "int", "bool", "enum", "str_list", "arch_images", "spec_map"
    required: bool = False
    valid: tuple[str, ...] = ()


def _kind(annotation: Any) -> tuple[str, tuple[str, ...]]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = args[0]
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return ("arch_images" if item is ArchitectureImage else "str_list"), ()
    if origin is dict:
        return "spec_map", ()
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return "enum", tuple(m.value for m in annotation)
    kinds = {bool: "bool", int: "int", str: "str"}
    return kinds[annotation], ()


def field_specs(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    """The checks of every field of ``model``, in declaration order (ZStack's check order)."""
    specs = []
    for name, info in model.model_fields.items():
        kind, valid = _kind(info.annotation)
        specs.append(FieldSpec(info.alias or name, kind, info.is_required(), valid))
    return tuple(specs)


ADD_FIELDS = field_specs(AddModelServiceParam)
UPDATE_FIELDS = field_specs(UpdateModelServiceParam)


def _java(value: Any) -> str:
    """How Java prints a JSON value that Gson read into an Object."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{float(value)}"
    return str(value)


def coerce_int(name: str, value: Any) -> int:
    """An Integer/Long field as Gson reads it; 400 (``TypeVerifier``) when it is not whole."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    limit = _INT_LIMITS[64 if name in _LONG_FIELDS else 32]
    if number is None or not math.isfinite(number) or number != math.floor(number):
        raise RestError(
            400, f"[{name}] field is excepted an int or long, but was [{_java(value)}]."
        )
    if not -limit - 1 <= number <= limit:
        kind = "a long" if name in _LONG_FIELDS else "an int"
        cause = f"java.lang.NumberFormatException: Expected {kind} but was {value}"
        raise gson_failure(cause, name)
    return int(number)


def coerce_bool(name: str, value: Any) -> bool:
    """A Boolean field: JSON true/false or their text in any case, else 400."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RestError(
        400,
        f"Invalid value for boolean field [{name}], [{_java(value)}] is not a valid boolean "
        "string[true, false].",
    )


def _coerce_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    found = "BEGIN_ARRAY" if isinstance(value, list) else "BEGIN_OBJECT"
    raise gson_failure(f"java.lang.IllegalStateException: Expected a string but was {found}", name)


def _coerce_list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        found = "BEGIN_OBJECT" if isinstance(value, dict) else "STRING"
        raise gson_failure(
            f"java.lang.IllegalStateException: Expected BEGIN_ARRAY but was {found}", name
        )
    return value


def _coerce_images(value: Any) -> list[dict[str, Any]]:
    images = []
    for i, item in enumerate(_coerce_list("architectureImages", value)):
        if not isinstance(item, dict):
            raise gson_failure(
                "java.lang.IllegalStateException: Expected BEGIN_OBJECT but was STRING",
                f"architectureImages[{i}]",
            )
        images.append(
            {
                key: _coerce_str(f"architectureImages[{i}].{key}", item[key])
                for key in ("cpuArchitecture", "vmImageUuid", "dockerImage")
                if item.get(key) is not None
            }
        )
    return images


def _coerce_spec_map(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise gson_failure(
            "java.lang.IllegalStateException: Expected BEGIN_OBJECT but was STRING",
            "vendorToSpecUuidsMap",
        )
    return {
        str(vendor): [_coerce_str("vendorToSpecUuidsMap", v) for v in _coerce_list(vendor, uuids)]
        for vendor, uuids in value.items()
    }


def coerce(raw: Mapping[str, Any], specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """REST-layer reading of a param object: known fields, Gson-converted, nulls dropped."""
    out: dict[str, Any] = {}
    for spec in specs:
        value = raw.get(spec.name)
        if value is None:
            continue
        if spec.kind == "int":
            out[spec.name] = coerce_int(spec.name, value)
        elif spec.kind == "bool":
            out[spec.name] = coerce_bool(spec.name, value)
        elif spec.kind in ("str", "enum"):
            out[spec.name] = _coerce_str(spec.name, value)
        elif spec.kind == "str_list":
            out[spec.name] = [_coerce_str(spec.name, v) for v in _coerce_list(spec.name, value)]
        elif spec.kind == "arch_images":
            out[spec.name] = _coerce_images(value)
        else:
            out[spec.name] = _coerce_spec_map(value)
    return out


def check(
    values: dict[str, Any], specs: tuple[FieldSpec, ...], model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """Pipeline validation (``SYS.1007``); returns the values trimmed as ZStack keeps them.

    ``model``, when given, validates the fields it knows as a last safety net.
    """
    # Trimmed before anything is checked: "Endpoint " is a valid type, "  " a non-null name.
    trimmed: dict[str, Any] = {
        k: java_trim(v) if isinstance(v, str) else v for k, v in values.items()
    }
    for spec in specs:
        value = trimmed.get(spec.name)
        if value is None:
            if spec.required:
                raise mandatory(spec.name)
            continue
        if spec.kind == "enum" and value not in spec.valid:
            raise invalid_value(spec.name, spec.valid, value)
    _check_images(trimmed.get("architectureImages") or [])
    for name, low in MINIMUMS.items():
        if name in trimmed and trimmed[name] < low:
            raise range_error(name, low, _INT_LIMITS[64 if name in _LONG_FIELDS else 32])
    resource_uuid = trimmed.get("resourceUuid")
    if resource_uuid is not None and not re.match(ZSTACK_UUID_PATTERN, resource_uuid):
        raise invalid_resource_uuid(resource_uuid)
    if model is not None:
        known = {info.alias or name for name, info in model.model_fields.items()}
        try:
            model.model_validate({k: v for k, v in trimmed.items() if k in known})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise failure(
                "SYS.1007", f"field[{where}] of message[{VALIDATOR}]: {first['msg']}"
            ) from None
    return trimmed


def _check_images(images: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for i, image in enumerate(images):
        field = f"architectureImages[{i}].cpuArchitecture"
        arch = image.get("cpuArchitecture")
        if arch is None:
            raise mandatory(field)
        if arch not in _ARCH_VALUES:
            raise invalid_value(field, _ARCH_VALUES, arch)
        if arch in seen:
            raise failure(
                "SYS.1007",
                f"duplicate cpuArchitecture[{arch}] in architectureImages of message[{VALIDATOR}]",
            )
        seen.add(arch)


def check_lengths(values: Mapping[str, Any], limits: Mapping[str, int]) -> None:
    """``maxLength`` of String fields (``SYS.1007``), on the trimmed values ``check`` returns."""
    for name, limit in limits.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise too_long(name, limit, value)
