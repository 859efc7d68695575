"""The simulator's admin API (``/_sim``, no auth, never counted or faulted) and its client.

Routes: ``GET /_sim/counters``, ``POST /_sim/counters/reset``, ``GET|PUT /_sim/faults``,
``POST /_sim/sessions/expire``, ``GET /_sim/jobs``, ``POST /_sim/jobs/release``,
``POST /_sim/access-keys``, ``POST /_sim/model-centers``, ``POST /_sim/models`` and
``POST /_sim/reset``. ``SimAdmin`` is the typed async httpx client of those routes that tests
and benchmarks use. Mounted by ``app.build_app``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

from ..zstack.models import UUID32_PATTERN
from .faults import Faults
from .runtime import CONTEXT_KEY
from .state import new_uuid


def _ok(body: dict[str, Any]) -> web.Response:
    return web.json_response(body)


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _json(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    body = json.loads(text) if text.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("a JSON object is expected")
    return body


async def counters(request: web.Request) -> web.Response:
    """GET /_sim/counters."""
    ctx = request.app[CONTEXT_KEY]
    now = time.time()
    active = sum(1 for s in ctx.state.sessions.values() if s.expires_at > now)
    return _ok(ctx.counters.to_json(resources=len(ctx.state.services), sessions_active=active))


async def reset_counters(request: web.Request) -> web.Response:
    """POST /_sim/counters/reset: zero the counters; answers with the fresh counters."""
    request.app[CONTEXT_KEY].counters.reset()
    return await counters(request)


async def faults(request: web.Request) -> web.Response:
    """GET /_sim/faults; PUT merges the given knobs. Turning holdJobs off releases the jobs."""
    ctx = request.app[CONTEXT_KEY]
    if request.method == "PUT":
        was_holding = ctx.faults.hold_jobs
        try:
            ctx.faults.merge(await _json(request))
        except ValueError as exc:
            return _bad(str(exc))
        if was_holding and not ctx.faults.hold_jobs:
            ctx.jobs.release()
    return _ok(ctx.faults.to_json())


async def expire_sessions(request: web.Request) -> web.Response:
    """POST /_sim/sessions/expire: every session is expired from now on."""
    state = request.app[CONTEXT_KEY].state
    now = time.time()
    for session in list(state.sessions.values()):
        session.expires_at = min(session.expires_at, now)
        state.save_session(session)
    return _ok({"expired": len(state.sessions)})


async def jobs(request: web.Request) -> web.Response:
    """GET /_sim/jobs: every job not yet expired, with its state."""
    return _ok({"jobs": request.app[CONTEXT_KEY].jobs.listing()})


async def release_jobs(request: web.Request) -> web.Response:
    """POST /_sim/jobs/release: holding stops; every running job finishes now, due or not."""
    return _ok({"released": request.app[CONTEXT_KEY].jobs.release()})


async def access_keys(request: web.Request) -> web.Response:
    """POST /_sim/access-keys: a new AccessKey pair for ``ZStack <id>:<signature>`` auth."""
    key_id, secret = secrets.token_hex(10).upper(), secrets.token_urlsafe(30)
    request.app[CONTEXT_KEY].state.add_access_key(key_id, secret)
    return _ok({"accessKeyId": key_id, "accessKeySecret": secret})


async def _add_uuid(request: web.Request, kind: str) -> web.Response:
    try:
        body = await _json(request)
    except ValueError as exc:
        return _bad(str(exc))
    uuid = body.get("uuid") or new_uuid()
    if not isinstance(uuid, str) or not re.match(UUID32_PATTERN, uuid):
        return _bad(f"uuid must be 32 lowercase hex characters, got {uuid!r}")
    request.app[CONTEXT_KEY].state.add_uuid(kind, uuid)
    return _ok({"uuid": uuid})


async def model_centers(request: web.Request) -> web.Response:
    """POST /_sim/model-centers ``{"uuid"?}``: a model center AddModelService may name."""
    return await _add_uuid(request, "center")


async def models(request: web.Request) -> web.Response:
    """POST /_sim/models ``{"uuid"?}``: a model that can be bound to services."""
    return await _add_uuid(request, "model")


async def reset(request: web.Request) -> web.Response:
    """POST /_sim/reset: back to the seed; counters zeroed and faults as at start."""
    ctx = request.app[CONTEXT_KEY]
    await ctx.jobs.clear()
    ctx.state.reset()
    ctx.counters.reset()
    fresh = Faults.from_config(ctx.config)
    ctx.faults.merge(fresh.to_json())
    return _ok({})


def add_routes(app: web.Application) -> None:
    """Mount the admin routes (before the API catch-all)."""
    app.router.add_get("/_sim/counters", counters)
    app.router.add_post("/_sim/counters/reset", reset_counters)
    app.router.add_route("GET", "/_sim/faults", faults)
    app.router.add_route("PUT", "/_sim/faults", faults)
    app.router.add_post("/_sim/sessions/expire", expire_sessions)
    app.router.add_get("/_sim/jobs", jobs)
    app.router.add_post("/_sim/jobs/release", release_jobs)
    app.router.add_post("/_sim/access-keys", access_keys)
    app.router.add_post("/_sim/model-centers", model_centers)
    app.router.add_post("/_sim/models", models)
    app.router.add_post("/_sim/reset", reset)


@dataclass(frozen=True)
class SimCounters:
    """A ``GET /_sim/counters`` snapshot."""

    requests: dict[str, dict[str, int]]
    create_requests: dict[str, int]
    created: dict[str, int]
    in_flight: int
    peak_in_flight: int
    resources: int
    logins: int
    sessions_active: int

    def count(self, api: str, outcome: str | None = None) -> int:
        """Requests to ``api`` that ended with ``outcome`` (any outcome when None)."""
        outcomes = self.requests.get(api, {})
        return sum(outcomes.values()) if outcome is None else outcomes.get(outcome, 0)


@dataclass(frozen=True)
class SimJob:
    """One entry of ``GET /_sim/jobs``."""

    uuid: str
    api: str
    state: str  # running | held | succeeded | failed
    status: int | None = None


@dataclass(frozen=True)
class AccessKey:
    """An AccessKey pair; the secret stays out of ``repr``."""

    access_key_id: str
    access_key_secret: str

    def __repr__(self) -> str:
        return f"AccessKey(access_key_id={self.access_key_id!r})"


class SimAdmin:
    """Async client of a simulator's ``/_sim`` admin API."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=f"{base_url}/_sim", timeout=timeout, trust_env=False
        )

    async def __aenter__(self) -> SimAdmin:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    async def counters(self) -> SimCounters:
        """The counters now."""
        doc = await self._call("GET", "/counters")
        return SimCounters(
            requests=doc["requests"],
            create_requests=doc["createRequests"],
            created=doc["created"],
            in_flight=doc["inFlight"],
            peak_in_flight=doc["peakInFlight"],
            resources=doc["resources"],
            logins=doc["logins"],
            sessions_active=doc["sessionsActive"],
        )

    async def reset_counters(self) -> None:
        """Zero the counters."""
        await self._call("POST", "/counters/reset")

    async def faults(self) -> dict[str, Any]:
        """The fault knobs now (camelCase JSON)."""
        result: dict[str, Any] = await self._call("GET", "/faults")
        return result

    async def set_faults(
        self,
        *,
        latency_ms: float | None = None,
        error_rate: float | None = None,
        reset_rate: float | None = None,
        throttle_rate: float | None = None,
        retry_after: float | None = None,
        outage: bool | None = None,
        job_duration_ms: float | None = None,
        hold_jobs: bool | None = None,
    ) -> dict[str, Any]:
        """Change the given knobs only; returns every knob after the change."""
        given = {
            "latencyMs": latency_ms,
            "errorRate": error_rate,
            "resetRate": reset_rate,
            "throttleRate": throttle_rate,
            "retryAfter": retry_after,
            "outage": outage,
            "jobDurationMs": job_duration_ms,
            "holdJobs": hold_jobs,
        }
        result: dict[str, Any] = await self._call(
            "PUT", "/faults", {k: v for k, v in given.items() if v is not None}
        )
        return result

    async def expire_sessions(self) -> int:
        """Expire every session now; returns how many sessions there were."""
        return int((await self._call("POST", "/sessions/expire"))["expired"])

    async def release_jobs(self) -> int:
        """Stop holding jobs and finish every running one now; returns how many there were."""
        return int((await self._call("POST", "/jobs/release"))["released"])

    async def jobs(self) -> list[SimJob]:
        """Every job the simulator still remembers, oldest first."""
        doc = await self._call("GET", "/jobs")
        return [SimJob(j["uuid"], j["api"], j["state"], j.get("status")) for j in doc["jobs"]]

    async def create_access_key(self) -> AccessKey:
        """A new AccessKey pair."""
        doc = await self._call("POST", "/access-keys")
        return AccessKey(doc["accessKeyId"], doc["accessKeySecret"])

    async def add_model_center(self, uuid: str | None = None) -> str:
        """Make a model center known; returns its uuid."""
        return str(
            (await self._call("POST", "/model-centers", {"uuid": uuid} if uuid else {}))["uuid"]
        )

    async def add_model(self, uuid: str | None = None) -> str:
        """Make a model known; returns its uuid."""
        return str((await self._call("POST", "/models", {"uuid": uuid} if uuid else {}))["uuid"])

    async def reset(self) -> None:
        """Everything back to the seed."""
        await self._call("POST", "/reset")
