"""The ZStack API simulator: a real HTTP server speaking ZStack's model-service REST API.

``zstack-operator sim`` runs it; tests and benchmarks start it in-process with
``running_simulator(SimConfig(...))`` and drive its admin API with ``SimAdmin``. It follows
ZSTACK-API.md (section 8, "Simulator must reproduce") and the AddModelService seed page; the
choices made where ZStack's behaviour is unknown are listed in docs/simulator.md. It imports
``zstack.models`` for the wire shapes and never imports kopf or any operator layer.

The server parts (aiohttp, httpx) load on first use, so importing the seed constants or the
CLI registration stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import (
    ADMIN_ACCOUNT_UUID,
    DEFAULT_MODEL_CENTER_UUID,
    DEFAULT_MODEL_UUIDS,
    DEFAULT_TAG_PATTERN_UUID,
    DEFAULT_ZONE_UUID,
    SimConfig,
    SimMode,
)

if TYPE_CHECKING:
    from .admin_client import (
        AccessKey,
        SimAccount,
        SimAdmin,
        SimCounters,
        SimGroup,
        SimJob,
        SimService,
    )
    from .server import Simulator, running_simulator

_LAZY = {
    "AccessKey": "admin_client",
    "SimAccount": "admin_client",
    "SimAdmin": "admin_client",
    "SimCounters": "admin_client",
    "SimGroup": "admin_client",
    "SimJob": "admin_client",
    "SimService": "admin_client",
    "Simulator": "server",
    "running_simulator": "server",
}

__all__ = [
    "ADMIN_ACCOUNT_UUID",
    "DEFAULT_MODEL_CENTER_UUID",
    "DEFAULT_MODEL_UUIDS",
    "DEFAULT_TAG_PATTERN_UUID",
    "DEFAULT_ZONE_UUID",
    "AccessKey",
    "SimAccount",
    "SimAdmin",
    "SimConfig",
    "SimCounters",
    "SimGroup",
    "SimJob",
    "SimMode",
    "SimService",
    "Simulator",
    "running_simulator",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
