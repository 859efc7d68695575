"""The record types of the simulator's world, as ``state.State`` keeps and persists them.

Owned here: one dataclass per kind of thing the simulator stores (model services, accounts, user
tags, tag patterns, sessions, jobs). Each is a plain document: ``dataclasses.asdict`` is what
the state file holds, and a record loads back from it (fields added later have defaults, so an
older state file still loads). Credentials (passwords, session uuids, job payloads that may hold
one) stay out of ``repr``. Built by the API modules, stored only through ``state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import ADMIN_ACCOUNT_UUID

#: The JPA entity name of a model service (tags' ``resourceType``, ownership errors).
SERVICE_VO = "ModelServiceVO"


@dataclass
class ServiceRecord:
    """One model service. ``fields`` holds the inventory fields taken from the params."""

    uuid: str
    seq: int
    fields: dict[str, Any]
    #: ``{"uuid", "cpuArchitecture", "vmImageUuid"?, "dockerImage"?, "createDate", "lastOpDate"}``
    images: list[dict[str, Any]]
    #: ``{"uuid", "modelUuid"}`` per bound model.
    refs: list[dict[str, str]]
    version: int
    create_date: float
    last_op_date: float
    #: Create-only inputs ZStack does not report back (tagUuids, zoneUuid, systemTags).
    extra: dict[str, Any] = field(default_factory=dict)
    #: The account that called AddModelService (ZStack's AccountResourceRefVO owner). State
    #: files from before accounts existed load as the admin's, which they were.
    owner: str = ADMIN_ACCOUNT_UUID


@dataclass
class AccountRecord:
    """A normal account (the built-in admin is not stored: ``SimConfig`` describes it)."""

    uuid: str
    name: str
    #: As CreateAccount received it, i.e. the SHA-512 hex login sends; compared as-is.
    password: str = field(repr=False)
    #: ``Normal`` or ``SystemAdmin``; only the built-in admin's uuid bypasses tenancy.
    type: str
    create_date: float
    last_op_date: float
    description: str | None = None


@dataclass
class TagRecord:
    """A user tag (``UserTagVO``): free text on one resource."""

    uuid: str
    seq: int
    resource_uuid: str
    resource_type: str
    tag: str
    create_date: float
    last_op_date: float


@dataclass
class TagPatternRecord:
    """A tag pattern (``TagPatternVO``, "tag2"): what ``tagUuids`` on a create may name."""

    uuid: str
    name: str
    #: The account that owns it (``checkAccount=true``: only it, or the admin, may use it).
    owner: str
    create_date: float


@dataclass
class SessionRecord:
    """A login session; its uuid is a credential and stays out of ``repr``."""

    uuid: str = field(repr=False)
    account_uuid: str
    created_at: float
    expires_at: float


@dataclass
class JobRecord:
    """An asynchronous API call: running while ``status`` is None."""

    uuid: str
    api: str
    seq: int
    created_at: float
    #: What the job does when it completes (see ``services_ops``); None once done. May hold a
    #: session uuid (RenewSession) or a password hash (CreateAccount), so it stays out of
    #: ``repr`` like the result.
    payload: dict[str, Any] | None = field(repr=False)
    #: Wall-clock time the job's work is due; a restarted simulator resumes from it.
    due_at: float
    #: The resource uuid a running create job reserves.
    claim: str | None = None
    status: int | None = None
    body: dict[str, Any] | None = field(default=None, repr=False)
    completed_at: float | None = None
    #: ``X-Web-Hook``: where the result is POSTed when the job ends.
    web_hook: str | None = field(default=None, repr=False)
    #: ``X-JSON-Schema: true``: the polled result carries a ``"schema"``.
    json_schema: bool = False

    @property
    def running(self) -> bool:
        """True until the job has a result."""
        return self.status is None
