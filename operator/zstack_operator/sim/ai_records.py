"""The record types of the simulator's AI lifecycle world: model centers, models, deployments.

Owned here: one dataclass per kind the AI APIs store, kept and persisted by ``ai_state``
(``dataclasses.asdict`` is what the state file holds; fields added later need defaults so
older files still load). A deployment (instance group) keeps its instances as plain documents
and the times its status is computed from (``ai_inventory``), so a restarted simulator carries
on where it stopped. Built by ``models_ops`` and ``deploy_ops``; the admin API seeds centers and
models through ``ai_state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import ADMIN_ACCOUNT_UUID


@dataclass
class ModelCenterRecord:
    """One model center; ``fields`` holds the inventory fields taken from the params."""

    uuid: str
    seq: int
    fields: dict[str, Any]
    create_date: float
    last_op_date: float


@dataclass
class ModelRecord:
    """One model. ``fields`` holds the inventory fields; ``token`` stays out of it and ``repr``."""

    uuid: str
    seq: int
    fields: dict[str, Any]
    create_date: float
    last_op_date: float
    #: The account that called AddModel (the admin for seeded and ``/_sim/models`` models).
    owner: str = ADMIN_ACCOUNT_UUID
    #: Write-only in ZStack: never reported.
    token: str | None = field(default=None, repr=False)
    #: Create-only inputs ZStack does not report back (tagUuids, systemTags).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class GroupRecord:
    """One model service instance group (a deployment of a model service) and its instances."""

    uuid: str
    seq: int
    #: ``name``, ``description``, ``modelUuid``, ``type`` (VirtualMachine|Container|...),
    #: ``modelServiceType`` and the Deploy params kept as given.
    fields: dict[str, Any]
    #: None once the service is deleted (``ModelServiceVO`` FK ON DELETE SET NULL).
    model_service_uuid: str | None
    #: ``{"uuid", "name", "yaml", "k8sResourceYaml"?, "vmInstanceUuid"?}`` per instance.
    instances: list[dict[str, Any]]
    #: ``{"uuid", "datasetUuid"}`` per dataset.
    datasets: list[dict[str, str]]
    create_date: float
    last_op_date: float
    #: When the deployment started and how long it takes to reach Running (or Failed).
    deploy_started_at: float
    deploy_seconds: float
    #: Whether the deployment ends Failed (``deployFailRate`` decided it at deploy time).
    fails: bool = False
    owner: str = ADMIN_ACCOUNT_UUID
    extra: dict[str, Any] = field(default_factory=dict)
