"""The field table: every ModelService spec field's role, declared once.

Owned here: which spec fields ZStack can change in place (``MUTABLE``), which it reports but
cannot change (``IMMUTABLE``), which it only reads at creation and never reports
(``CREATE_ONLY``), which are applied by binding and unbinding (``BINDING``), and which only the
operator reads (``OPERATOR``); plus where a field travels in the AddModelService request
(inside ``param`` or beside it). Everything else derives from this table: the CRD's
descriptions and CEL rules (``spec``), ``status.createdWith`` (``status``), the drift and
immutability comparison in ``plan``, and the create and update parameter builders.

Sources: ZSTACK-API.md section 3.3 (what UpdateModelService accepts, what the inventory
reports) and the seed API page. ``zoneUuid`` is create-only, not immutable: ZStack takes it
at creation but the inventory does not report it, so the only thing to compare it with is the
value the service was created with.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What the operator may do with a spec field after the service exists."""

    #: UpdateModelService changes it; compared with the inventory field of the same name.
    MUTABLE = "mutable"
    #: Set at creation; ZStack reports it; a different value is refused, never sent.
    IMMUTABLE = "immutable"
    #: Sent at creation only and not reported back: compared with ``status.createdWith``.
    CREATE_ONLY = "create-only"
    #: Changed by BindModelToService / UnbindModelFromService, read from the inventory's refs.
    BINDING = "binding"
    #: Read by the operator only; never sent to ZStack.
    OPERATOR = "operator"


class Carrier(StrEnum):
    """Where a field travels in the AddModelService request."""

    PARAM = "param"
    #: Beside ``param`` (``systemTags``, ``userTags``).
    REQUEST = "request"
    #: Not sent at all.
    NONE = "none"


@dataclass(frozen=True)
class FieldRole:
    """One row of the table."""

    role: Role
    carrier: Carrier = Carrier.PARAM


_M, _I, _C = FieldRole(Role.MUTABLE), FieldRole(Role.IMMUTABLE), FieldRole(Role.CREATE_ONLY)

#: Every spec field (snake_case) and its role, in the spec's order.
FIELDS: dict[str, FieldRole] = {
    "name": _M,
    "description": _M,
    "yaml": _M,
    "request_cpu": _M,
    "request_memory": _M,
    "zone_uuid": _C,
    "model_center_uuid": _I,
    "gpu_compute_capability": _M,
    "install_path": _I,
    "system": _I,
    "start_command": _M,
    "python_version": _M,
    "conda_version": _I,
    "type": _M,
    "framework": _M,
    "resource_uuid": _I,
    "tag_uuids": _C,
    "source": _M,
    "model_uuids": FieldRole(Role.BINDING),
    # Resolved to uuids through each Model's status, then bound like model_uuids.
    "model_refs": FieldRole(Role.OPERATOR, Carrier.NONE),
    "architecture_images": _M,
    "support_distributed": _M,
    "container_command": _M,
    "container_args": _M,
    "vendor_to_spec_uuids_map": _M,
    "system_tags": FieldRole(Role.CREATE_ONLY, Carrier.REQUEST),
    "user_tags": FieldRole(Role.CREATE_ONLY, Carrier.REQUEST),
    "connection_ref": FieldRole(Role.OPERATOR, Carrier.NONE),
    "adoption_policy": FieldRole(Role.OPERATOR, Carrier.NONE),
    "deletion_policy": FieldRole(Role.OPERATOR, Carrier.NONE),
    "management_policy": FieldRole(Role.OPERATOR, Carrier.NONE),
}


def having(role: Role) -> tuple[str, ...]:
    """The fields of one role, in spec order."""
    return tuple(name for name, row in FIELDS.items() if row.role is role)


MUTABLE: tuple[str, ...] = having(Role.MUTABLE)
IMMUTABLE: tuple[str, ...] = having(Role.IMMUTABLE)
CREATE_ONLY: tuple[str, ...] = having(Role.CREATE_ONLY)
#: Fields inside AddModelService's ``param``.
PARAM: tuple[str, ...] = tuple(n for n, row in FIELDS.items() if row.carrier is Carrier.PARAM)
#: Fields sent beside ``param``.
REQUEST: tuple[str, ...] = tuple(n for n, row in FIELDS.items() if row.carrier is Carrier.REQUEST)
#: Immutable fields the inventory reports (``resourceUuid`` is compared with the chosen uuid).
IMMUTABLE_REPORTED: tuple[str, ...] = tuple(n for n in IMMUTABLE if n != "resource_uuid")

IMMUTABLE_TEXT = "Immutable once set: ZStack cannot change it in place."
CREATE_ONLY_TEXT = (
    "Used only when the model service is created; ZStack does not report it back, so the "
    "operator records the value it created with and reports a later change instead of applying it."
)


def role_note(name: str) -> str:
    """The sentence a field's CRD description ends with for its role ("" for mutable ones)."""
    role = FIELDS[name].role
    return {Role.IMMUTABLE: IMMUTABLE_TEXT, Role.CREATE_ONLY: CREATE_ONLY_TEXT}.get(role, "")
