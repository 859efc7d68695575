"""The AI lifecycle part of the simulator's world: model centers, models, instance groups.

Owned here: ``AiWorld``, which ``state.State`` holds as ``state.ai``: the three record tables
of ``ai_records``, written through to the state file like the rest of the state (kinds
``model_center``, ``model``, ``group``), and the default records the seed, ``add_uuid`` and the
admin API create (a center or model that only needs to exist). The cascades that reach into
model services (refs, ``modelServiceUuid``) are the job executors' (``models_ops``,
``deploy_ops``); deleting a record here drops its user tags, as ``UserTagVO``'s foreign key
cascades.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from .ai_records import GroupRecord, ModelCenterRecord, ModelRecord
from .config import ADMIN_ACCOUNT_UUID, DEFAULT_MODEL_CENTER_UUID
from .persist import SqliteStore

#: What a center made by the seed or ``POST /_sim/model-centers`` reports.
DEFAULT_CENTER_FIELDS = {
    "url": "http://127.0.0.1/model-center",
    "managementIp": "127.0.0.1",
    "managementPort": 8989,
}


class AiWorld:
    """Model centers, models and instance groups by uuid, in creation order."""

    def __init__(
        self,
        db: SqliteStore | None,
        next_seq: Callable[[], int],
        drop_tags: Callable[[str], None],
    ) -> None:
        self._db = db
        self._next_seq = next_seq
        self._drop_tags = drop_tags
        self.centers: dict[str, ModelCenterRecord] = {}
        self.models: dict[str, ModelRecord] = {}
        self.groups: dict[str, GroupRecord] = {}

    def load(self) -> None:
        """Read every record back from the state file."""
        if self._db is None:
            return
        for _, doc in self._db.load("model_center"):
            self.centers[doc["uuid"]] = ModelCenterRecord(**doc)
        for _, doc in self._db.load("model"):
            self.models[doc["uuid"]] = ModelRecord(**doc)
        for _, doc in self._db.load("group"):
            self.groups[doc["uuid"]] = GroupRecord(**doc)
        # SQLite hands rows back by key; queries list them in creation order.
        self.centers = dict(sorted(self.centers.items(), key=lambda kv: kv[1].seq))
        self.models = dict(sorted(self.models.items(), key=lambda kv: kv[1].seq))
        self.groups = dict(sorted(self.groups.items(), key=lambda kv: kv[1].seq))

    def max_seq(self) -> int:
        """The highest creation number of any AI record (0 without any)."""
        seqs = [c.seq for c in self.centers.values()] + [m.seq for m in self.models.values()]
        return max([0, *seqs, *(g.seq for g in self.groups.values())])

    def clear(self) -> None:
        """Forget every record (the state file is cleared by ``State.reset``)."""
        self.centers.clear()
        self.models.clear()
        self.groups.clear()

    def _put(self, kind: str, key: str, doc: dict[str, object]) -> None:
        if self._db is not None:
            self._db.put(kind, key, doc)

    def _gone(self, kind: str, uuid: str) -> None:
        if self._db is not None:
            self._db.delete(kind, uuid)
        self._drop_tags(uuid)

    def add_default_center(self, uuid: str) -> ModelCenterRecord:
        """A center that only needs to exist (seed, ``POST /_sim/model-centers``)."""
        existing = self.centers.get(uuid)
        if existing is not None:
            return existing
        now = time.time()
        name = "default" if uuid == DEFAULT_MODEL_CENTER_UUID else f"center-{uuid[:8]}"
        rec = ModelCenterRecord(
            uuid, self._next_seq(), {"name": name, **DEFAULT_CENTER_FIELDS}, now, now
        )
        self.save_center(rec)
        return rec

    def add_default_model(self, uuid: str) -> ModelRecord:
        """A model of the admin's in the default center (seed, ``POST /_sim/models``)."""
        existing = self.models.get(uuid)
        if existing is not None:
            return existing
        now = time.time()
        fields = {
            "name": f"model-{uuid[:8]}",
            "installPath": f"/models/{uuid[:8]}",
            "modelCenterUuid": DEFAULT_MODEL_CENTER_UUID,
            "size": 0,
        }
        rec = ModelRecord(uuid, self._next_seq(), fields, now, now, owner=ADMIN_ACCOUNT_UUID)
        self.save_model(rec)
        return rec

    def save_center(self, rec: ModelCenterRecord) -> None:
        """Store a new or changed model center."""
        self.centers[rec.uuid] = rec
        self._put("model_center", rec.uuid, dataclasses.asdict(rec))

    def delete_center(self, uuid: str) -> bool:
        """Remove a model center (its models are the caller's to cascade); False if unknown."""
        if self.centers.pop(uuid, None) is None:
            return False
        self._gone("model_center", uuid)
        return True

    def save_model(self, rec: ModelRecord) -> None:
        """Store a new or changed model."""
        self.models[rec.uuid] = rec
        self._put("model", rec.uuid, dataclasses.asdict(rec))

    def delete_model(self, uuid: str) -> bool:
        """Remove a model and its tags; False if it did not exist."""
        if self.models.pop(uuid, None) is None:
            return False
        self._gone("model", uuid)
        return True

    def save_group(self, rec: GroupRecord) -> None:
        """Store a new or changed instance group."""
        self.groups[rec.uuid] = rec
        self._put("group", rec.uuid, dataclasses.asdict(rec))

    def delete_group(self, uuid: str) -> bool:
        """Remove an instance group with its instances and tags; False if it did not exist."""
        if self.groups.pop(uuid, None) is None:
            return False
        self._gone("group", uuid)
        return True

    def groups_of_service(self, service_uuid: str) -> list[GroupRecord]:
        """The instance groups deployed from one model service, oldest first."""
        return [g for g in self.groups.values() if g.model_service_uuid == service_uuid]
