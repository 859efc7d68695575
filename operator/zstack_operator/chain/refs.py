"""References between the chain's objects: resolving them, and who still uses whom.

Owned here: ``Objects`` (how they are read), ``resolve`` (the ZStack uuid of a ModelService or
Model named by a reference, once that object is Ready, or the reason to wait) and ``users``
(the objects of a namespace that reference a ModelService or Model, which its deletion waits
for). Everything is read from the
API server at the moment of asking, so a folder applied in any order converges, and the
deletion order of a folder deleted at once follows from the references alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..resources import KIND, PLURAL, ConditionType
from ..resources.deployment import DEPLOYMENT_KIND, DEPLOYMENT_PLURAL
from ..resources.model import MODEL_KIND, MODEL_PLURAL


class Objects(Protocol):
    """Reads the operator's objects (and Secrets) of a namespace from Kubernetes."""

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One object of ``plural`` (None: it does not exist)."""
        ...

    async def list(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        """Every object of ``plural`` in ``namespace``."""
        ...

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """One decoded key of a Secret (None: no such Secret or key)."""
        ...


PLURALS = {KIND: PLURAL, MODEL_KIND: MODEL_PLURAL, DEPLOYMENT_KIND: DEPLOYMENT_PLURAL}


@dataclass(frozen=True)
class Resolved:
    """A usable dependency: its ZStack uuid and the connection it lives in."""

    uuid: str
    connection: str | None


def _ready(obj: dict[str, Any]) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == ConditionType.READY), None)


async def resolve(objects: Objects, kind: str, namespace: str, name: str) -> Resolved | str:
    """The dependency ``kind``/``name`` once Ready; else ``"<Kind> <name>: <why not yet>"``."""
    obj = await objects.get(PLURALS[kind], namespace, name)
    what = f"{kind} {name}"
    if obj is None:
        return f"{what}: it does not exist in namespace {namespace}"
    if obj.get("metadata", {}).get("deletionTimestamp"):
        return f"{what}: it is being deleted"
    status = obj.get("status") or {}
    ready = _ready(obj)
    uuid = status.get("uuid")
    if not uuid or ready is None or ready.get("status") != "True":
        said = f" ({ready.get('reason')}: {ready.get('message')})" if ready else ""
        return f"{what}: it is not Ready yet{said}"
    return Resolved(str(uuid), status.get("connection"))


def _named(ref: Any, name: str) -> bool:
    return isinstance(ref, dict) and ref.get("name") == name


async def users(
    objects: Objects, kind: str, namespace: str, name: str, uuid: str | None
) -> list[str]:
    """``Kind/name`` of every object in ``namespace`` that references this ModelService or Model."""
    found: list[str] = []
    for obj in await objects.list(DEPLOYMENT_PLURAL, namespace):
        spec = obj.get("spec") or {}
        if kind == KIND:
            uses = _named(spec.get("modelServiceRef"), name) or (
                uuid is not None and spec.get("modelServiceUuid") == uuid
            )
        else:
            uses = _named(spec.get("modelRef"), name) or (
                uuid is not None and spec.get("modelUuid") == uuid
            )
        if uses:
            found.append(f"{DEPLOYMENT_KIND}/{obj['metadata']['name']}")
    if kind == MODEL_KIND:
        for obj in await objects.list(PLURAL, namespace):
            spec = obj.get("spec") or {}
            refs = spec.get("modelRefs") or []
            if any(_named(r, name) for r in refs) or (uuid in (spec.get("modelUuids") or [])):
                found.append(f"{KIND}/{obj['metadata']['name']}")
    return sorted(found)
