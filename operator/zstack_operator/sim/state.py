"""The simulator's in-memory world: model services, sessions, access keys, jobs, known uuids.

Owned here: the record types and ``State``, the single place that changes them and writes each
change through to SQLite when a state file is configured (``persist``). Request handlers
(``services_api``, ``identity_api``), job execution (``jobs``, ``services_ops``) and the admin
routes (``admin``) read and change the world only through this module. Everything runs on one
event loop, so no locking is needed.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import DEFAULT_MODEL_CENTER_UUID, DEFAULT_MODEL_UUIDS, DEFAULT_ZONE_UUID
from .persist import SqliteStore

log = logging.getLogger(__name__)


def new_uuid() -> str:
    """A uuid the way ZStack makes them: random v4, dashes stripped."""
    return uuidlib.uuid4().hex


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
    #: Create-only inputs ZStack does not report back (tagUuids, zoneUuid, tags).
    extra: dict[str, Any] = field(default_factory=dict)


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
    #: session uuid (RenewSession), so it stays out of ``repr`` like the result.
    payload: dict[str, Any] | None = field(repr=False)
    #: Wall-clock time the job's work is due; a restarted simulator resumes from it.
    due_at: float
    #: The resource uuid a running create job reserves.
    claim: str | None = None
    status: int | None = None
    body: dict[str, Any] | None = field(default=None, repr=False)
    completed_at: float | None = None

    @property
    def running(self) -> bool:
        """True until the job has a result."""
        return self.status is None


_SEEDED = "seeded"


class State:
    """Every resource the simulator knows, with optional write-through persistence."""

    def __init__(self, state_file: Path | None = None) -> None:
        self._db = SqliteStore(state_file) if state_file else None
        self.services: dict[str, ServiceRecord] = {}
        self.model_centers: set[str] = set()
        self.models: set[str] = set()
        self.zones: set[str] = set()
        self.sessions: dict[str, SessionRecord] = {}
        self.access_keys: dict[str, str] = {}
        self.jobs: dict[str, JobRecord] = {}
        #: resource uuid -> uuid of the running create job that reserved it.
        self.claims: dict[str, str] = {}
        self._seq = 0
        self._load()

    def _load(self) -> None:
        if self._db is None or not any(True for _ in self._db.load(_SEEDED)):
            self._seed()
            return
        for _, doc in self._db.load("service"):
            self.services[doc["uuid"]] = ServiceRecord(**doc)
        for _, doc in self._db.load("session"):
            self.sessions[doc["uuid"]] = SessionRecord(**doc)
        for _, doc in self._db.load("job"):
            job = JobRecord(**doc)
            self.jobs[job.uuid] = job
            if job.running and job.claim:
                self.claims[job.claim] = job.uuid
        for key, doc in self._db.load("uuid"):
            {"zone": self.zones, "center": self.model_centers, "model": self.models}[
                doc["type"]
            ].add(key)
        self.access_keys = {key: doc["secret"] for key, doc in self._db.load("access_key")}
        self.services = dict(sorted(self.services.items(), key=lambda kv: kv[1].seq))
        self.jobs = dict(sorted(self.jobs.items(), key=lambda kv: kv[1].seq))
        self._seq = max([0, *(s.seq for s in self.services.values())])
        self._seq = max([self._seq, *(j.seq for j in self.jobs.values())])
        log.info("loaded %d model services and %d jobs", len(self.services), len(self.jobs))

    def _seed(self) -> None:
        self.add_uuid("zone", DEFAULT_ZONE_UUID)
        self.add_uuid("center", DEFAULT_MODEL_CENTER_UUID)
        for model in DEFAULT_MODEL_UUIDS:
            self.add_uuid("model", model)
        if self._db is not None:
            self._db.put(_SEEDED, _SEEDED, {})

    def reset(self) -> None:
        """Forget everything and start again from the seed."""
        self.services.clear()
        self.model_centers.clear()
        self.models.clear()
        self.zones.clear()
        self.sessions.clear()
        self.access_keys.clear()
        self.jobs.clear()
        self.claims.clear()
        self._seq = 0
        if self._db is not None:
            self._db.clear()
        self._seed()

    def close(self) -> None:
        """Release the state file."""
        if self._db is not None:
            self._db.close()

    def next_seq(self) -> int:
        """A number ordering records by creation (ZStack's default query order)."""
        self._seq += 1
        return self._seq

    def _put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        if self._db is not None:
            self._db.put(kind, key, doc)

    def _delete(self, kind: str, key: str) -> None:
        if self._db is not None:
            self._db.delete(kind, key)

    def add_uuid(self, kind: str, value: str) -> None:
        """Make a zone, model center or model uuid known."""
        {"zone": self.zones, "center": self.model_centers, "model": self.models}[kind].add(value)
        self._put("uuid", value, {"type": kind})

    def save_service(self, rec: ServiceRecord) -> None:
        """Store a new or changed model service."""
        self.services[rec.uuid] = rec
        self._put("service", rec.uuid, dataclasses.asdict(rec))

    def delete_service(self, uuid: str) -> bool:
        """Remove a model service (its model refs go with it); False if it did not exist."""
        if self.services.pop(uuid, None) is None:
            return False
        self._delete("service", uuid)
        return True

    def save_session(self, rec: SessionRecord) -> None:
        """Store a new or renewed session."""
        self.sessions[rec.uuid] = rec
        self._put("session", rec.uuid, dataclasses.asdict(rec))

    def delete_session(self, uuid: str) -> None:
        """Forget a session (logout)."""
        if self.sessions.pop(uuid, None) is not None:
            self._delete("session", uuid)

    def add_access_key(self, key_id: str, secret: str) -> None:
        """Make an AccessKey pair valid."""
        self.access_keys[key_id] = secret
        self._put("access_key", key_id, {"secret": secret})

    def save_job(self, job: JobRecord) -> None:
        """Store a new, resumed or finished job; keeps the resource claim in step."""
        self.jobs[job.uuid] = job
        if job.claim:
            if job.running:
                self.claims[job.claim] = job.uuid
            elif self.claims.get(job.claim) == job.uuid:
                del self.claims[job.claim]
        self._put("job", job.uuid, dataclasses.asdict(job))

    def delete_job(self, uuid: str) -> None:
        """Forget an expired job."""
        if self.jobs.pop(uuid, None) is not None:
            self._delete("job", uuid)
