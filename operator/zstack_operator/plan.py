"""Pure planning: what must happen to make ZStack match a ModelService spec. No I/O.

``plan()`` compares the desired spec with the observed inventory (``None`` when ZStack has no
such service) and returns one action. Only fields the user set are managed: an unset field is
left to ZStack. Values are compared after normalising what ZStack normalises (None, "", [] and
{} are the same; text is trimmed at both ends as Java's ``String.trim`` does, which ZStack applies
to every string parameter; lists of uuids are sets), so a round trip through ZStack never reads
as drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .resources import CreatedWith, ModelServiceSpec, fields
from .zstack.models import (
    AddModelServiceParam,
    ModelServiceInventory,
    UpdateModelServiceParam,
)

#: Mutable fields compared one to one with the inventory field of the same name.
_MUTABLE_DIRECT = tuple(f for f in fields.MUTABLE if f != "architecture_images")


@dataclass(frozen=True)
class Create:
    """ZStack has no service with our uuid: add it."""

    param: AddModelServiceParam
    system_tags: list[str] | None = None
    user_tags: list[str] | None = None


@dataclass(frozen=True)
class Change:
    """The service exists but differs: update fields and/or bind and unbind models."""

    update: UpdateModelServiceParam | None
    fields: tuple[str, ...] = ()
    bind: tuple[str, ...] = ()
    unbind: tuple[str, ...] = ()


@dataclass(frozen=True)
class Noop:
    """ZStack already matches the spec."""


@dataclass(frozen=True)
class Refuse:
    """The spec asks for something ZStack cannot do in place; nothing is sent."""

    fields: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class Report:
    """Observe mode: describe the difference (or absence) without acting."""

    missing: bool
    fields: tuple[str, ...] = field(default=())


Action = Create | Change | Noop | Refuse | Report


def java_trim(text: str) -> str:
    """``String.trim()``: drop every character up to U+0020 at both ends (not Unicode spaces).

    ZStack's API pipeline trims every string parameter this way before it validates and stores
    it (ZSTACK-API.md section 10, row 2), so a yaml sent with a leading newline comes back
    without it.
    """
    start, end = 0, len(text)
    while start < end and ord(text[start]) <= 0x20:
        start += 1
    while end > start and ord(text[end - 1]) <= 0x20:
        end -= 1
    return text[start:end]


def normalise(value: Any) -> Any:
    """ZStack's view of a value: empties are None, text trimmed, uuid lists as sets."""
    if value is None or value in ("", [], {}):
        return None
    if isinstance(value, str):
        return java_trim(value) or None
    if isinstance(value, list | tuple | set | frozenset):
        items = [normalise(v) for v in value]
        return frozenset(items) if all(isinstance(v, str) for v in items) else tuple(items)
    if isinstance(value, Mapping):
        return frozenset((k, normalise(v)) for k, v in value.items() if normalise(v) is not None)
    return value


def _images(specs: Iterable[Any]) -> frozenset[tuple[Any, ...]]:
    return frozenset(
        (normalise(i.cpu_architecture), normalise(i.vm_image_uuid), normalise(i.docker_image))
        for i in specs
    )


def camel(name: str) -> str:
    """The API's name of a snake_case field, for messages people read."""
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def desired_name(spec: ModelServiceSpec, default_name: str) -> str:
    """``spec.name``, else the resource's ``metadata.name``."""
    return spec.name or default_name


def drifted_fields(
    spec: ModelServiceSpec,
    inventory: ModelServiceInventory,
    *,
    default_name: str,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """Mutable fields (snake_case) whose desired value differs from ZStack's (but ``skip``)."""
    out: list[str] = []
    for name in _MUTABLE_DIRECT:
        want = desired_name(spec, default_name) if name == "name" else getattr(spec, name)
        if want is None or name in skip:
            continue
        if normalise(want) != normalise(getattr(inventory, name)):
            out.append(name)
    images = spec.architecture_images is not None and "architecture_images" not in skip
    if images and inventory.model_service_images is not None:
        assert spec.architecture_images is not None
        have = _images(inventory.model_service_images)
        if _images(spec.architecture_images) != have:
            out.append("architecture_images")
    return out


def immutable_changes(
    spec: ModelServiceSpec,
    inventory: ModelServiceInventory | None,
    created_with: CreatedWith | None,
    *,
    uuid: str,
) -> list[str]:
    """Fields whose change ZStack cannot apply in place (snake_case)."""
    out: list[str] = []
    if spec.resource_uuid and spec.resource_uuid != uuid:
        out.append("resource_uuid")
    if inventory is not None:
        for name in fields.IMMUTABLE_REPORTED:
            want, have = getattr(spec, name), getattr(inventory, name)
            if want is not None and have is not None and normalise(want) != normalise(have):
                out.append(name)
    if created_with is not None:
        for name in fields.CREATE_ONLY:
            if normalise(getattr(spec, name)) != normalise(getattr(created_with, name)):
                out.append(name)
    return out


def plan(
    spec: ModelServiceSpec,
    inventory: ModelServiceInventory | None,
    *,
    uuid: str,
    default_name: str,
    created_with: CreatedWith | None = None,
    observe_only: bool = False,
    unsupported: frozenset[str] = frozenset(),
) -> Action:
    """The one action that moves ZStack toward the spec (or reports, in Observe mode).

    ``unsupported``: fields this ZStack release does not know; never sent, never drift.
    """
    frozen = immutable_changes(spec, inventory, created_with, uuid=uuid)
    if frozen and not observe_only:
        names = ", ".join(camel(f) for f in frozen)
        return Refuse(
            tuple(frozen),
            f"{names} cannot be changed after the model service is created; "
            "restore the previous value, or create a new ModelService for the new value",
        )
    if inventory is None:
        if observe_only:
            return Report(missing=True)
        return Create(
            spec.to_add_param(default_name=default_name, resource_uuid=uuid, skip=unsupported),
            system_tags=spec.system_tags,
            user_tags=spec.user_tags,
        )
    changed = drifted_fields(spec, inventory, default_name=default_name, skip=unsupported)
    bind: tuple[str, ...] = ()
    unbind: tuple[str, ...] = ()
    if spec.model_uuids is not None:
        want, have = set(spec.model_uuids), inventory.model_uuids
        bind, unbind = tuple(sorted(want - have)), tuple(sorted(have - want))
    if observe_only:
        diff = changed + (["model_uuids"] if bind or unbind else []) + frozen
        return Report(missing=False, fields=tuple(diff)) if diff else Noop()
    if not changed and not bind and not unbind:
        return Noop()
    update = spec.to_update_param(changed, default_name=default_name) if changed else None
    return Change(update, tuple(changed), bind, unbind)


def created_with(spec: ModelServiceSpec) -> CreatedWith:
    """The create-only values a service is created with (``fields.CREATE_ONLY``)."""
    return CreatedWith.model_validate({name: getattr(spec, name) for name in fields.CREATE_ONLY})


def changed_fields(action: Change) -> tuple[str, ...]:
    """Every field a change touches, bindings included (snake_case)."""
    return action.fields + (("model_uuids",) if action.bind or action.unbind else ())
