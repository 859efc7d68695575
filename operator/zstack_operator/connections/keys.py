"""How a ModelService names its connection, and which connection that is.

Owned here: the connection keys (``ZStackConnection/<namespace>/<name>``,
``ClusterZStackConnection/<name>``, ``operator-default`` for the operator's own flags), the
shorter form status shows (``ZStackConnection/<name>``: the namespace is the object's), and
``resolve``: explicit ``spec.connectionRef``, else the connection the service was created
through (``status.connection``), else the namespace's ZStackConnection named ``default``, else
the operator's own. Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..resources.spec import ConnectionKind

#: The operator's own connection (``--zstack-endpoint`` and ``--credentials-secret``).
OPERATOR_DEFAULT = "operator-default"
#: A ZStackConnection of this name is its namespace's default.
NAMESPACE_DEFAULT_NAME = "default"


def key_of(kind: str, namespace: str, name: str) -> str:
    """The key of a connection resource (``namespace`` is ignored for the cluster kind)."""
    if kind == ConnectionKind.CLUSTER:
        return f"{ConnectionKind.CLUSTER}/{name}"
    return f"{ConnectionKind.NAMESPACED}/{namespace}/{name}"


def shown(key: str) -> str:
    """The form ``status.connection`` and messages use, relative to the object's namespace."""
    parts = key.split("/")
    if parts[0] == ConnectionKind.NAMESPACED and len(parts) == 3:
        return f"{parts[0]}/{parts[2]}"
    return key


def from_shown(namespace: str, text: str) -> str:
    """The key of what ``status.connection`` says, for an object in ``namespace``."""
    kind, _, name = text.partition("/")
    if kind == ConnectionKind.NAMESPACED and name and "/" not in name:
        return key_of(kind, namespace, name)
    return text


def explicit(namespace: str, ref: Mapping[str, Any] | None) -> str | None:
    """The key ``spec.connectionRef`` names; None when it is omitted.

    ``{name: default}`` without a kind is what earlier releases documented for the operator's
    own connection: it still means "the default", whichever that is.
    """
    if not ref or not ref.get("name"):
        return None
    kind = str(ref.get("kind") or "")
    if not kind and ref["name"] == NAMESPACE_DEFAULT_NAME:
        return None
    return key_of(kind or ConnectionKind.NAMESPACED, namespace, str(ref["name"]))


def resolve(
    namespace: str,
    ref: Mapping[str, Any] | None,
    pinned: str | None,
    exists: Callable[[str], bool],
) -> str:
    """The key of the connection an object uses (see the module docstring for the order).

    ``pinned`` is ``status.connection`` of an object whose service exists; an explicit ref that
    differs from it is the caller's to refuse (the service lives in the pinned one's account).
    """
    named = explicit(namespace, ref)
    if named is not None:
        return named
    if pinned:
        return from_shown(namespace, pinned)
    default = key_of(ConnectionKind.NAMESPACED, namespace, NAMESPACE_DEFAULT_NAME)
    return default if exists(default) else OPERATOR_DEFAULT
