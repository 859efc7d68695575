"""A fake of reconcile's seam (``ServiceAPI``, ``Connections``, ``StatusWriter``) for unit tests.

``FakeZStack`` behaves like the real client over a management node where it matters to
reconcile: a mutation is a job keyed by its X-Job-UUID; sending a known job uuid again follows
that job (the client's "Duplicate job uuid" handling); a job can be held running, fail, or be
forgotten (expired); a create of a taken uuid fails as ZStack's internal error. Every call is
logged in order with the status writes, so a test can assert what happened before what.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from zstack_operator.connections.keys import resolve
from zstack_operator.reconcile import Resource, StatusWriteError
from zstack_operator.resources.spec import OWNER_TAG_PREFIX
from zstack_operator.zstack.errors import (
    JobExpiredError,
    JobTimeoutError,
    ZStackAPIError,
    ZStackTransportError,
)
from zstack_operator.zstack.models import (
    AddModelServiceParam,
    ErrorCode,
    ModelServiceInventory,
    UpdateModelServiceParam,
)

UID = "5176ccc4-efb8-4a05-9c73-2779e22f9969"
OWN_UUID = UID.replace("-", "")
CENTER = "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"
ZONE = "8f14e45fceea467a9b0c7d1e2f3a4b5c"
MODELS = ("c4ca4238a0b94382b0c8d1e2f3a4b5c6", "c81e728d9d4c4f0a8b1c2d3e4f5a6b7c")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def api_error(code: str, details: str = "refused") -> ZStackAPIError:
    return ZStackAPIError(ErrorCode(code=code, details=details), api="Fake")


@dataclass
class Job:
    """One job: running until done; ``effect`` makes its change and returns its inventory."""

    api: str
    effect: Callable[[], ModelServiceInventory | None]
    state: str = "running"  # running | done | failed
    result: ModelServiceInventory | None = None
    error: ZStackAPIError | None = None

    def finish(self) -> None:
        try:
            self.result = self.effect()
            self.state = "done"
        except ZStackAPIError as exc:
            self.error, self.state = exc, "failed"


@dataclass
class FakeZStack:
    """The ServiceAPI of one connection, and its Connections source."""

    services: dict[str, ModelServiceInventory] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    #: What happens to the next mutations, in order: "ok", "hold", "transport", or an error.
    script: list[Any] = field(default_factory=list)
    log: list[tuple[str, Any]] = field(default_factory=list)
    credentials_error: Exception | None = None
    clock: int = 0
    #: User tags by service uuid (the owner markers among them).
    tags: dict[str, list[str]] = field(default_factory=dict)
    allow_adoption: bool = False
    zstack_version: str | None = "5.5.22"
    label: str = "the operator's default connection"

    # -- Connections -------------------------------------------------------------------------

    async def zstack_release(self) -> str | None:
        self.log.append(("release", self.zstack_version))
        return self.zstack_version

    def resolve(self, namespace: str, ref: Any, pinned: str | None) -> str:
        return resolve(namespace, ref, pinned, lambda _key: False)

    async def get(self, key: str, namespace: str | None = None) -> FakeZStack:
        if self.credentials_error is not None:
            raise self.credentials_error
        return self

    # -- helpers for tests -------------------------------------------------------------------

    def calls(self, *names: str) -> list[tuple[str, Any]]:
        """Logged calls (optionally only those named), in order."""
        return [c for c in self.log if not names or c[0] in names]

    def mutations(self) -> list[tuple[str, Any]]:
        return self.calls("add", "update", "delete", "bind", "unbind")

    def release(self) -> None:
        """Let every held job finish."""
        for job in self.jobs.values():
            if job.state == "running":
                job.finish()

    def expire(self) -> None:
        """ZStack forgets every finished job (hours later)."""
        self.jobs = {k: j for k, j in self.jobs.items() if j.state == "running"}

    def existing(self, uuid: str = OWN_UUID, **values: Any) -> ModelServiceInventory:
        """Put a service into ZStack (created earlier, or outside Kubernetes)."""
        inv = inventory(uuid, **values)
        self.services[uuid] = inv
        return inv

    def _stamp(self) -> datetime:
        self.clock += 1
        return _EPOCH + timedelta(minutes=self.clock)

    # -- ServiceAPI --------------------------------------------------------------------------

    async def _mutate(
        self, name: str, api: str, job_uuid: str, effect: Callable[[], ModelServiceInventory | None]
    ) -> ModelServiceInventory | None:
        self.log.append((name, job_uuid))
        if job_uuid in self.jobs:  # the client follows a duplicate job uuid to its job
            return await self.wait_job(job_uuid, api=api, timeout=0)
        step = self.script.pop(0) if self.script else "ok"
        if step == "transport":
            raise ZStackTransportError("connection refused", api=api)
        job = Job(api, effect)
        self.jobs[job_uuid] = job
        if isinstance(step, ZStackAPIError):
            job.state, job.error = "failed", step
        elif step == "ok":
            job.finish()
        return await self.wait_job(job_uuid, api=api, timeout=0)

    async def add_model_service(
        self,
        param: AddModelServiceParam,
        *,
        system_tags: Sequence[str] | None,
        user_tags: Sequence[str] | None,
        job_uuid: str,
        wait: float,
    ) -> ModelServiceInventory:
        def effect() -> ModelServiceInventory:
            uuid = str(param.resource_uuid)
            if uuid in self.services:
                raise api_error("SYS.1000", f"resource uuid {uuid} already exists")
            values = param.model_dump(
                by_alias=False, exclude_none=True, exclude={"resource_uuid", "model_uuids"}
            )
            models = param.model_uuids or ()
            self.tags[uuid] = list(user_tags or ())
            return self.existing(uuid, **values, models=models, last_op_date=self._stamp())

        self.log.append(("add-param", param))
        result = await self._mutate("add", "AddModelService", job_uuid, effect)
        assert result is not None
        return result

    async def update_model_service(
        self, uuid: str, param: UpdateModelServiceParam, *, job_uuid: str, wait: float
    ) -> ModelServiceInventory:
        def effect() -> ModelServiceInventory:
            old = self.services[uuid]
            new = old.model_copy(update={**param.model_dump(by_alias=False, exclude_none=True),
                                         "last_op_date": self._stamp()})  # fmt: skip
            self.services[uuid] = new
            return new

        self.log.append(("update-param", param))
        result = await self._mutate("update", "UpdateModelService", job_uuid, effect)
        assert result is not None
        return result

    async def delete_model_service(self, uuid: str, *, job_uuid: str, wait: float) -> None:
        def effect() -> None:
            self.services.pop(uuid, None)  # ZStack deletes a missing uuid successfully

        await self._mutate("delete", "DeleteModelService", job_uuid, effect)

    async def bind_model(
        self, model_uuid: str, service_uuid: str, *, job_uuid: str, wait: float
    ) -> None:
        def effect() -> None:
            inv = self.services[service_uuid]
            self.services[service_uuid] = inventory(
                service_uuid, **_values(inv), models=sorted(inv.model_uuids | {model_uuid})
            )

        await self._mutate("bind", "BindModelToService", job_uuid, effect)

    async def unbind_model(
        self, model_uuid: str, service_uuid: str, *, job_uuid: str, wait: float
    ) -> None:
        def effect() -> None:
            inv = self.services[service_uuid]
            self.services[service_uuid] = inventory(
                service_uuid, **_values(inv), models=sorted(inv.model_uuids - {model_uuid})
            )

        await self._mutate("unbind", "UnbindModelFromService", job_uuid, effect)

    async def wait_job(
        self,
        job_uuid: str,
        *,
        api: str,
        timeout: float,  # noqa: ASYNC109
    ) -> ModelServiceInventory | None:
        self.log.append(("wait", job_uuid))
        job = self.jobs.get(job_uuid)
        if job is None:
            raise JobExpiredError(job_uuid, api=api)
        if job.state == "running":
            raise JobTimeoutError(job_uuid, api=api)
        if job.state == "failed":
            assert job.error is not None
            raise job.error
        return job.result

    async def read(self, uuid: str, *, max_age: float) -> ModelServiceInventory | None:
        self.log.append(("read", (uuid, max_age)))
        return self.services.get(uuid)

    def remember(self, uuid: str, inventory: ModelServiceInventory | None) -> None:
        self.log.append(("remember", uuid))

    async def owner_tags(self, uuid: str) -> list[str]:
        self.log.append(("owner-tags", uuid))
        return [t for t in self.tags.get(uuid, []) if t.startswith(OWNER_TAG_PREFIX)]

    async def mark_owner(self, uuid: str, tag: str, *, job_uuid: str, wait: float) -> None:
        self.log.append(("mark-owner", (uuid, tag)))
        if tag in self.tags.setdefault(uuid, []):
            raise api_error("SYS.1006", f"Duplicated Tag[tag:{tag}, type:User]")
        self.tags[uuid].append(tag)


def _values(inv: ModelServiceInventory) -> dict[str, Any]:
    return inv.model_dump(by_alias=False, exclude_none=True, exclude={"uuid", "model_service_refs"})


def inventory(uuid: str, *, models: Sequence[str] = (), **values: Any) -> ModelServiceInventory:
    base: dict[str, Any] = {
        "name": "text-to-text",
        "yaml": "services:\n- name: api",
        "request_cpu": 4,
        "request_memory": 1024,
        "model_center_uuid": CENTER,
        "install_path": "/opt/svc",
        "start_command": "python serve.py",
        "version": "1",
        "create_date": _EPOCH,
        "last_op_date": _EPOCH,
    }
    base.update(values)
    refs = [{"model_uuid": m} for m in models]
    return ModelServiceInventory.model_validate({"uuid": uuid, **base, "model_service_refs": refs})


@dataclass
class FakeStatus:
    """The StatusWriter: applies each merge patch to the stored status; logs it with the calls."""

    zstack: FakeZStack
    stored: dict[str, Any] = field(default_factory=dict)
    patches: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, resource: Resource, patch: dict[str, Any]) -> None:
        self.zstack.log.append(("status", patch))
        if self.fail:
            raise StatusWriteError("PATCH status: HTTP 403: forbidden")
        self.patches.append(patch)
        self.stored = _apply(self.stored, patch)


def _apply(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _apply(out[key], value)
        else:
            out[key] = value
    return out
