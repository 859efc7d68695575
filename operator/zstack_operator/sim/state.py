"""The simulator's in-memory world: services, accounts, tags, tag patterns, sessions, keys, jobs.

Model centers, models and instance groups live in ``state.ai`` (``ai_state``), which shares
this state's file and creation numbers.

Owned here: ``State``, the single place that changes the records of ``records`` and writes each
change through to SQLite when a state file is configured (``persist``). Request handlers
(``services_api``, ``identity_api``, ``accounts_api``, ``tags_api``), job execution (``jobs``,
``services_ops``) and the admin routes (``admin``) read and change the world only through this
module. Tags go with the resource they are on (``UserTagVO``'s foreign key cascades). Everything
runs on one event loop, so no locking is needed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from .ai_records import ModelCenterRecord, ModelRecord
from .ai_state import AiWorld
from .config import (
    ADMIN_ACCOUNT_UUID,
    DEFAULT_MODEL_CENTER_UUID,
    DEFAULT_MODEL_UUIDS,
    DEFAULT_TAG_PATTERN_UUID,
    DEFAULT_ZONE_UUID,
)
from .persist import SqliteStore
from .records import (
    AccountRecord,
    JobRecord,
    ServiceRecord,
    SessionRecord,
    TagPatternRecord,
    TagRecord,
)

__all__ = [
    "AccountRecord",
    "JobRecord",
    "ServiceRecord",
    "SessionRecord",
    "State",
    "TagPatternRecord",
    "TagRecord",
    "new_uuid",
]

log = logging.getLogger(__name__)


def new_uuid() -> str:
    """A uuid the way ZStack makes them: random v4, dashes stripped."""
    return uuidlib.uuid4().hex


_SEEDED = "seeded"


class State:
    """Every resource the simulator knows, with optional write-through persistence."""

    def __init__(self, state_file: Path | None = None) -> None:
        self._db = SqliteStore(state_file) if state_file else None
        self.services: dict[str, ServiceRecord] = {}
        #: Model centers, models and instance groups (``ai_state``).
        self.ai = AiWorld(self._db, self.next_seq, self._drop_tags)
        self.zones: set[str] = set()
        #: Normal accounts by uuid (the built-in admin comes from ``SimConfig``).
        self.accounts: dict[str, AccountRecord] = {}
        #: User tags by uuid, in creation order.
        self.tags: dict[str, TagRecord] = {}
        #: resource uuid -> uuids of its tags: the cascade and duplicate checks are lookups.
        self._tags_by_resource: dict[str, dict[str, None]] = {}
        #: Tag patterns ("tag2") by uuid: what ``tagUuids`` may name.
        self.tag_patterns: dict[str, TagPatternRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        #: AccessKey id -> secret.
        self.access_keys: dict[str, str] = {}
        #: AccessKey id -> uuid of the account the key acts as.
        self.access_key_accounts: dict[str, str] = {}
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
        for _, doc in self._db.load("account"):
            self.accounts[doc["uuid"]] = AccountRecord(**doc)
        for _, doc in sorted(self._db.load("tag"), key=lambda kv: int(kv[1]["seq"])):
            self._index_tag(TagRecord(**doc))
        for _, doc in self._db.load("tag_pattern"):
            self.tag_patterns[doc["uuid"]] = TagPatternRecord(**doc)
        for _, doc in self._db.load("session"):
            self.sessions[doc["uuid"]] = SessionRecord(**doc)
        for _, doc in self._db.load("job"):
            job = JobRecord(**doc)
            self.jobs[job.uuid] = job
            if job.running and job.claim:
                self.claims[job.claim] = job.uuid
        self.ai.load()
        for key, doc in self._db.load("uuid"):
            # State files from before model centers and models were records name them here.
            self.add_uuid(doc["type"], key)
        for key, doc in self._db.load("access_key"):
            self.access_keys[key] = doc["secret"]
            # Keys from before accounts existed were the admin's.
            self.access_key_accounts[key] = doc.get("accountUuid", ADMIN_ACCOUNT_UUID)
        self.services = dict(sorted(self.services.items(), key=lambda kv: kv[1].seq))
        # SQLite hands rows back by key; queries list accounts in creation order.
        self.accounts = dict(sorted(self.accounts.items(), key=lambda kv: kv[1].create_date))
        self.jobs = dict(sorted(self.jobs.items(), key=lambda kv: kv[1].seq))
        seqs = [s.seq for s in self.services.values()] + [j.seq for j in self.jobs.values()]
        self._seq = max([0, *seqs, *(t.seq for t in self.tags.values()), self.ai.max_seq()])
        log.info(
            "loaded %d model services, %d accounts, %d tags and %d jobs",
            len(self.services),
            len(self.accounts),
            len(self.tags),
            len(self.jobs),
        )

    def _seed(self) -> None:
        self.add_uuid("zone", DEFAULT_ZONE_UUID)
        self.add_uuid("center", DEFAULT_MODEL_CENTER_UUID)
        for model in DEFAULT_MODEL_UUIDS:
            self.add_uuid("model", model)
        self.save_tag_pattern(
            TagPatternRecord(DEFAULT_TAG_PATTERN_UUID, "default", ADMIN_ACCOUNT_UUID, time.time())
        )
        if self._db is not None:
            self._db.put(_SEEDED, _SEEDED, {})

    def reset(self) -> None:
        """Forget everything and start again from the seed."""
        for table in (
            self.services,
            self.accounts,
            self.tags,
            self._tags_by_resource,
            self.tag_patterns,
            self.sessions,
            self.access_keys,
            self.access_key_accounts,
            self.jobs,
            self.claims,
        ):
            table.clear()
        self.ai.clear()
        self.zones.clear()
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

    @property
    def model_centers(self) -> dict[str, ModelCenterRecord]:
        """Model centers by uuid (``ai.centers``)."""
        return self.ai.centers

    @property
    def models(self) -> dict[str, ModelRecord]:
        """Models by uuid (``ai.models``)."""
        return self.ai.models

    def add_uuid(self, kind: str, value: str) -> None:
        """Make a zone, model center or model uuid known (centers and models get defaults)."""
        if kind == "center":
            self.ai.add_default_center(value)
        elif kind == "model":
            self.ai.add_default_model(value)
        else:
            self.zones.add(value)
            self._put("uuid", value, {"type": kind})

    def save_service(self, rec: ServiceRecord) -> None:
        """Store a new or changed model service."""
        self.services[rec.uuid] = rec
        self._put("service", rec.uuid, dataclasses.asdict(rec))

    def delete_service(self, uuid: str) -> bool:
        """Remove a model service with its model refs and its tags; False if it did not exist."""
        if self.services.pop(uuid, None) is None:
            return False
        self._delete("service", uuid)
        self._drop_tags(uuid)
        return True

    def _drop_tags(self, resource_uuid: str) -> None:
        for tag_uuid in list(self._tags_by_resource.get(resource_uuid, ())):
            self.delete_tag(tag_uuid)

    def save_account(self, rec: AccountRecord) -> None:
        """Store a new or changed normal account."""
        self.accounts[rec.uuid] = rec
        self._put("account", rec.uuid, dataclasses.asdict(rec))

    def _index_tag(self, rec: TagRecord) -> None:
        self.tags[rec.uuid] = rec
        self._tags_by_resource.setdefault(rec.resource_uuid, {})[rec.uuid] = None

    def save_tag(self, rec: TagRecord) -> None:
        """Store a new user tag."""
        self._index_tag(rec)
        self._put("tag", rec.uuid, dataclasses.asdict(rec))

    def delete_tag(self, uuid: str) -> bool:
        """Remove a user tag; False if it did not exist."""
        rec = self.tags.pop(uuid, None)
        if rec is None:
            return False
        on_resource = self._tags_by_resource.get(rec.resource_uuid, {})
        on_resource.pop(uuid, None)
        if not on_resource:
            self._tags_by_resource.pop(rec.resource_uuid, None)
        self._delete("tag", uuid)
        return True

    def tags_on(self, resource_uuid: str) -> list[TagRecord]:
        """The user tags of one resource, oldest first."""
        return [self.tags[t] for t in self._tags_by_resource.get(resource_uuid, ())]

    def save_tag_pattern(self, rec: TagPatternRecord) -> None:
        """Store a new tag pattern."""
        self.tag_patterns[rec.uuid] = rec
        self._put("tag_pattern", rec.uuid, dataclasses.asdict(rec))

    def save_session(self, rec: SessionRecord) -> None:
        """Store a new or renewed session."""
        self.sessions[rec.uuid] = rec
        self._put("session", rec.uuid, dataclasses.asdict(rec))

    def delete_session(self, uuid: str) -> None:
        """Forget a session (logout)."""
        if self.sessions.pop(uuid, None) is not None:
            self._delete("session", uuid)

    def add_access_key(
        self, key_id: str, secret: str, account_uuid: str = ADMIN_ACCOUNT_UUID
    ) -> None:
        """Make an AccessKey pair valid; requests signed with it act as ``account_uuid``."""
        self.access_keys[key_id] = secret
        self.access_key_accounts[key_id] = account_uuid
        self._put("access_key", key_id, {"secret": secret, "accountUuid": account_uuid})

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
