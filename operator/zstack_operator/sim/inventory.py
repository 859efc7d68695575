"""Renders stored records as the inventories ZStack returns.

Owned here: the JSON shape of ``ModelServiceInventory`` (fields and order of the simulated
release, ``profiles``), ``SessionInventory``, ``AccountInventory`` and ``UserTagInventory`` on
the wire: null fields omitted (CloudBusGson never serialises nulls) and dates in Gson's default
format, as wall-clock times in the node's zone with no zone named (``clock``). Used by
``services_ops`` (job results), ``services_api`` (queries), ``identity_api`` (login and renew),
``accounts_api`` and ``tags_api``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..zstack.models import AccountInventory, UserTagInventory, format_zstack_date
from .clock import NodeClock
from .profiles import Profile
from .records import AccountRecord, ServiceRecord, SessionRecord, TagRecord

#: Wire names of the AccountInventory and UserTagInventory fields.
ACCOUNT_FIELDS = frozenset(i.alias or n for n, i in AccountInventory.model_fields.items())
USER_TAG_FIELDS = frozenset(i.alias or n for n, i in UserTagInventory.model_fields.items())
#: Inventory fields holding dates (compared as dates by queries).
DATE_FIELDS = frozenset({"createDate", "lastOpDate"})
#: Sub-fields of the list-of-object inventory fields a query may name as ``list.field``.
NESTED_FIELDS: dict[str, frozenset[str]] = {
    "modelServiceRefs": frozenset({"uuid", "modelUuid", "modelServiceUuid"}),
    "modelServiceImages": frozenset(
        {"uuid", "modelServiceUuid", "cpuArchitecture", "vmImageUuid", "dockerImage"} | DATE_FIELDS
    ),
}


def gson_date(epoch: float) -> str:
    """A time as the admin API prints it (Gson's format, in UTC: ``/_sim`` is no ZStack API)."""
    return format_zstack_date(datetime.fromtimestamp(epoch, tz=UTC))


def service_inventory(rec: ServiceRecord, profile: Profile, clock: NodeClock) -> dict[str, Any]:
    """The ModelServiceInventory of ``rec``, exactly as the release's wire carries it."""
    gson_date = clock.gson
    computed: dict[str, Any] = {
        "uuid": rec.uuid,
        "version": str(rec.version),
        "cpuArchitectures": [img["cpuArchitecture"] for img in rec.images],
        "modelServiceRefs": [
            {"uuid": ref["uuid"], "modelUuid": ref["modelUuid"], "modelServiceUuid": rec.uuid}
            for ref in rec.refs
        ],
        "modelServiceImages": [_image(rec.uuid, img, clock) for img in rec.images],
        "createDate": gson_date(rec.create_date),
        "lastOpDate": gson_date(rec.last_op_date),
    }
    out: dict[str, Any] = {}
    for name in profile.inventory_fields:
        value = computed[name] if name in computed else rec.fields.get(name)
        if value is not None:
            out[name] = value
    return out


def _image(service_uuid: str, img: dict[str, Any], clock: NodeClock) -> dict[str, Any]:
    out: dict[str, Any] = {"uuid": img["uuid"], "modelServiceUuid": service_uuid}
    for key in ("cpuArchitecture", "vmImageUuid", "dockerImage"):
        if img.get(key) is not None:
            out[key] = img[key]
    out["createDate"] = clock.gson(img["createDate"])
    out["lastOpDate"] = clock.gson(img["lastOpDate"])
    return out


def session_inventory(rec: SessionRecord, clock: NodeClock) -> dict[str, Any]:
    """The SessionInventory of an account login (the user is the account itself)."""
    return {
        "uuid": rec.uuid,
        "accountUuid": rec.account_uuid,
        "userUuid": rec.account_uuid,
        "userType": "AccountVO",
        "expiredDate": clock.gson(rec.expires_at),
        "createDate": clock.gson(rec.created_at),
        "noSessionEvaluation": False,
    }


def account_inventory(rec: AccountRecord, clock: NodeClock) -> dict[str, Any]:
    """The AccountInventory of ``rec`` (never its password)."""
    out: dict[str, Any] = {"uuid": rec.uuid, "name": rec.name}
    if rec.description is not None:
        out["description"] = rec.description
    out["type"] = rec.type
    out["createDate"] = clock.gson(rec.create_date)
    out["lastOpDate"] = clock.gson(rec.last_op_date)
    return out


def tag_inventory(rec: TagRecord, clock: NodeClock) -> dict[str, Any]:
    """The UserTagInventory of ``rec`` (no tag pattern: user tags here are free text)."""
    return {
        "uuid": rec.uuid,
        "resourceUuid": rec.resource_uuid,
        "resourceType": rec.resource_type,
        "tag": rec.tag,
        "type": "User",
        "createDate": clock.gson(rec.create_date),
        "lastOpDate": clock.gson(rec.last_op_date),
    }
