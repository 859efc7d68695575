"""Checks of API parameters in the two places ZStack makes them.

1. The REST layer (``coerce``), before a message exists: Integer/Long fields must be whole
   numbers and Boolean fields true/false, else a plain-text 400 (``RestError``) with
   ``TypeVerifier``'s wording; values are read the way Gson would (``"4"`` is 4, a number in a
   String field is its text). Unknown keys are ignored, as Gson ignores them.
2. The API pipeline (``check``), inside the job for asynchronous APIs: required fields,
   ``validValues``, architecture images, minimums, the ``resourceUuid`` pattern, giving
   ``SYS.1007`` (``ApiError``) whose details name the field.

The field list, types and required flags come from ``zstack.models.AddModelServiceParam`` and
``UpdateModelServiceParam``; the checked values are finally validated by those models too, so
the simulator and the client share one definition. Called by ``services_api``.
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
from .errorcodes import RestError, failure, invalid_resource_uuid, invalid_value, mandatory
from .errorcodes import out_of_range as range_error

_INT_LIMITS = {32: 2**31 - 1, 64: 2**63 - 1}
#: Java ``Long`` fields; every other integer field is an ``Integer``.
_LONG_FIELDS = frozenset({"requestMemory", "duration"})
#: Business minimums the simulator enforces (the real checks are closed source).
MINIMUMS: Mapping[str, int] = {"requestCpu": 1, "requestMemory": 1}
_ARCH_VALUES = tuple(a.value for a in CpuArchitecture)


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
        raise RestError(
            400, f"[{name}] field is excepted an int or long, but was [{_java(value)}]."
        )
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
    raise RestError(
        400, f"Invalid value for field [{name}], a string is expected but was [{value}]."
    )


def _coerce_list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise RestError(
            400, f"Invalid value for field [{name}], a list is expected but was [{value}]."
        )
    return value


def _coerce_images(value: Any) -> list[dict[str, Any]]:
    images = []
    for i, item in enumerate(_coerce_list("architectureImages", value)):
        if not isinstance(item, dict):
            raise RestError(
                400,
                f"Invalid value for field [architectureImages[{i}]], an object is expected "
                f"but was [{item}].",
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
        raise RestError(
            400,
            "Invalid value for field [vendorToSpecUuidsMap], an object is expected but was "
            f"[{value}].",
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
    values: dict[str, Any], specs: tuple[FieldSpec, ...], message: str, model: type[BaseModel]
) -> dict[str, Any]:
    """Pipeline validation (``SYS.1007``); returns the values right-trimmed as ZStack keeps them."""
    for spec in specs:
        value = values.get(spec.name)
        if value is None:
            if spec.required:
                raise mandatory(spec.name, message)
            continue
        if spec.kind == "enum" and value not in spec.valid:
            raise invalid_value(spec.name, message, spec.valid, value)
    _check_images(values.get("architectureImages") or [], message)
    for name, low in MINIMUMS.items():
        if name in values and values[name] < low:
            high = _INT_LIMITS[64 if name in _LONG_FIELDS else 32]
            raise range_error(name, message, low, high, values[name])
    resource_uuid = values.get("resourceUuid")
    if resource_uuid is not None and not re.match(ZSTACK_UUID_PATTERN, resource_uuid):
        raise invalid_resource_uuid(resource_uuid)
    # Trailing whitespace does not survive a round trip through ZStack (TF BUG-072/077).
    trimmed = {
        k: v.rstrip() if isinstance(v, str) and k != "resourceUuid" else v
        for k, v in values.items()
    }
    try:
        model.model_validate(trimmed)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise failure("SYS.1007", f"field[{where}] of message[{message}]: {first['msg']}") from None
    return trimmed


def _check_images(images: list[dict[str, Any]], message: str) -> None:
    seen: set[str] = set()
    for i, image in enumerate(images):
        field = f"architectureImages[{i}].cpuArchitecture"
        arch = image.get("cpuArchitecture")
        if arch is None:
            raise mandatory(field, message)
        if arch not in _ARCH_VALUES:
            raise invalid_value(field, message, _ARCH_VALUES, arch)
        if arch in seen:
            raise failure(
                "SYS.1007",
                f"duplicate cpuArchitecture[{arch}] in architectureImages of message[{message}]",
            )
        seen.add(arch)
