"""Reconcile one ModelService with ZStack, delete it, and schedule its drift checks.

Submodules: ``model`` (the seam: Resource, Protocols, results), ``jobs`` (derived job uuids,
settlement), ``passes`` (one status write per pass), ``act`` (create and change), ``core``
(observe -> plan -> act), ``finalize`` (deletion), ``schedule`` (pure drift schedule) and
``drift`` (the loop that runs it). Nothing here imports kopf: ``handlers`` maps results to it.
"""

from .core import reconcile, service_uuid
from .finalize import finalize
from .model import (
    Connections,
    Deps,
    Done,
    Outcome,
    Requeue,
    Resource,
    Result,
    Retry,
    ServiceAPI,
    StatusWriteError,
    StatusWriter,
    Terminal,
)
from .passes import handled_key

__all__ = [
    "Connections",
    "Deps",
    "Done",
    "Outcome",
    "Requeue",
    "Resource",
    "Result",
    "Retry",
    "ServiceAPI",
    "StatusWriteError",
    "StatusWriter",
    "Terminal",
    "finalize",
    "handled_key",
    "reconcile",
    "service_uuid",
]
