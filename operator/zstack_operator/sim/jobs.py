"""ZStack's asynchronous API jobs: scheduling, holding, completion, results and expiry.

An accepted mutation becomes a ``JobRecord`` that runs for the configured job duration; then
its executor (``services_ops``, ``identity_api``) applies the change and the result is stored
for ``GET /v1/api-jobs/{uuid}`` until ``job_ttl`` after completion, like
``rest.completedApi.expiredPeriod``. While ``holdJobs`` is on, jobs do not finish; a release
turns holding off and finishes every running job at once.
Requests the API pipeline refuses become jobs that are finished from the start. A finished
job with an ``X-Web-Hook`` has its result POSTed there (``webhooks``); ``answer`` adds the
``"schema"`` when the request asked with ``X-JSON-Schema``. Running jobs are persisted with
their wall-clock due time, so a restarted simulator resumes them. Used by
``services_api``/``identity_api`` (submit, wait), ``app`` (poll) and ``admin`` (release, list).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ..zstack.models import ErrorCode
from .errorcodes import ApiError, error_body, error_code
from .faults import Faults
from .inventory import gson_date
from .schema import result_schema
from .state import JobRecord, State
from .webhooks import WebHooks

log = logging.getLogger(__name__)

#: Applies a job's payload to the state; returns (HTTP status, body) or raises ApiError.
Executor = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class JobManager:
    """Runs, holds, completes and expires jobs."""

    def __init__(self, state: State, faults: Faults, job_ttl: float) -> None:
        self._state = state
        self._faults = faults
        self._ttl = job_ttl
        self._executors: dict[str, Executor] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._held: set[str] = set()
        self._release = asyncio.Event()
        self._janitor: asyncio.Task[None] | None = None
        self.web_hooks = WebHooks()

    def register(self, api: str, executor: Executor) -> None:
        """Say how jobs of ``api`` are carried out."""
        self._executors[api] = executor

    def start(self) -> None:
        """Resume the running jobs of a loaded state and start expiring old results."""
        for job in self._state.jobs.values():
            if job.running:
                self._schedule(job)
        self._janitor = asyncio.create_task(self._expire_forever())

    async def close(self) -> None:
        """Stop every task; running jobs stay running in the state (and its file)."""
        tasks = [*self._tasks.values(), *([self._janitor] if self._janitor else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._janitor = None
        await self.web_hooks.close()

    async def clear(self) -> None:
        """Stop every job (``POST /_sim/reset``); synchronous callers still waiting get 503."""
        await self.close()
        for job in self._state.jobs.values():
            if job.running:
                error = error_code("SYS.1000", "the simulator was reset while the job ran")
                job.status, job.body = 503, error_body(error)
        for event in self._done.values():
            event.set()
        self._done.clear()
        self._held.clear()
        self._janitor = asyncio.create_task(self._expire_forever())

    def get(self, uuid: str) -> JobRecord | None:
        """A job that has not expired."""
        job = self._state.jobs.get(uuid)
        if job is not None and self._expired(job, time.time()):
            self._state.delete_job(uuid)
            return None
        return job

    def submit(
        self,
        uuid: str,
        api: str,
        payload: dict[str, Any],
        *,
        claim: str | None = None,
        web_hook: str | None = None,
        json_schema: bool = False,
    ) -> JobRecord:
        """Accept a job; it completes after the current job duration (or when released)."""
        now = time.time()
        job = JobRecord(
            uuid=uuid,
            api=api,
            seq=self._state.next_seq(),
            created_at=now,
            payload=payload,
            due_at=now + self._faults.job_duration_ms / 1000,
            claim=claim,
            web_hook=web_hook,
            json_schema=json_schema,
        )
        self._state.save_job(job)
        self._schedule(job)
        return job

    def submit_failed(
        self,
        uuid: str,
        api: str,
        error: ErrorCode,
        *,
        web_hook: str | None = None,
        json_schema: bool = False,
    ) -> JobRecord:
        """Record a job the API pipeline refused: it is finished with 503 from the start."""
        now = time.time()
        job = JobRecord(
            uuid=uuid,
            api=api,
            seq=self._state.next_seq(),
            created_at=now,
            payload=None,
            due_at=now,
            status=503,
            body=error_body(error),
            completed_at=now,
            web_hook=web_hook,
            json_schema=json_schema,
        )
        self._state.save_job(job)
        self._notify(job)
        return job

    def answer(self, uuid: str) -> tuple[int, dict[str, Any]]:
        """What a poll of a finished job answers: its result, with a schema if it was asked."""
        job = self._state.jobs[uuid]
        assert job.status is not None
        assert job.body is not None
        if job.json_schema and job.status == 200:
            return job.status, {**job.body, "schema": result_schema(job.api, job.body)}
        return job.status, job.body

    def _notify(self, job: JobRecord) -> None:
        if job.web_hook and job.status is not None and job.body is not None:
            self.web_hooks.notify(job.web_hook, job.uuid, job.status == 200, job.body)

    async def wait(self, uuid: str) -> None:
        """Wait for a job to finish (synchronous mode); ``answer`` then tells its result."""
        job = self._state.jobs[uuid]
        if job.running:
            await self._done.setdefault(uuid, asyncio.Event()).wait()

    def release(self) -> int:
        """Stop holding and finish every running job now, due or not; returns how many."""
        self._faults.hold_jobs = False
        count = len(self._tasks)
        event, self._release = self._release, asyncio.Event()
        event.set()
        return count

    def listing(self) -> list[dict[str, Any]]:
        """Every known job with its state, oldest first (``GET /_sim/jobs``)."""
        out = []
        for job in list(self._state.jobs.values()):
            if self.get(job.uuid) is None:
                continue
            if job.running:
                held = job.uuid in self._held or self._faults.hold_jobs
                state = "held" if held else "running"
            else:
                state = "succeeded" if job.status == 200 else "failed"
            entry: dict[str, Any] = {
                "uuid": job.uuid,
                "api": job.api,
                "state": state,
                "createDate": gson_date(job.created_at),
            }
            if job.status is not None:
                entry["status"] = job.status
            out.append(entry)
        return out

    def _schedule(self, job: JobRecord) -> None:
        self._tasks[job.uuid] = asyncio.create_task(self._run(job))

    async def _run(self, job: JobRecord) -> None:
        # A release finishes every job started before it, due or not.
        release = self._release
        delay = job.due_at - time.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), delay)
        if self._faults.hold_jobs and not release.is_set():
            self._held.add(job.uuid)
            try:
                await release.wait()
            finally:
                self._held.discard(job.uuid)
        self._complete(job)
        self._tasks.pop(job.uuid, None)

    def _complete(self, job: JobRecord) -> None:
        executor = self._executors[job.api]
        try:
            job.status, job.body = executor(job.payload or {})
        except ApiError as exc:
            job.status, job.body = 503, error_body(exc.error)
        except Exception as exc:  # a simulator bug must still finish the job, as ZStack would
            log.exception("job %s (%s) crashed", job.uuid, job.api)
            job.status, job.body = 503, error_body(error_code("SYS.1000", repr(exc)))
        job.payload = None
        job.completed_at = time.time()
        self._state.save_job(job)
        log.debug("job %s (%s) finished with %s", job.uuid, job.api, job.status)
        self._notify(job)
        if (event := self._done.pop(job.uuid, None)) is not None:
            event.set()

    def _expired(self, job: JobRecord, now: float) -> bool:
        return job.completed_at is not None and now - job.completed_at > self._ttl

    async def _expire_forever(self) -> None:
        # ZStack scans once an hour; a minute (or the TTL, if shorter) keeps memory bounded.
        period = max(0.05, min(60.0, self._ttl))
        while True:
            await asyncio.sleep(period)
            now = time.time()
            for job in list(self._state.jobs.values()):
                if self._expired(job, now):
                    self._state.delete_job(job.uuid)
