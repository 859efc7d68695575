"""The typed async client of the simulator's ``/_sim`` admin API, and what it returns.

Owned here: ``SimAdmin`` (httpx) and the snapshots it hands out (``SimCounters``, ``SimJob``,
``AccessKey``, ``SimAccount``, ``SimService``, ``SimGroup``). Tests, benchmarks and the demo
use it; the routes themselves are ``admin``. Secrets (AccessKey secrets, passwords) stay out
of every ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx


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


@dataclass(frozen=True)
class SimAccount:
    """An account of the simulator (``type`` is ``Normal`` or ``SystemAdmin``)."""

    uuid: str
    name: str
    type: str = "Normal"


@dataclass(frozen=True)
class SimService:
    """One entry of ``GET /_sim/services``: a model service and the account that owns it."""

    uuid: str
    name: str | None
    owner_account_uuid: str
    version: str


@dataclass(frozen=True)
class SimGroup:
    """One entry of ``GET /_sim/instance-groups``: a deployment, its owner and its status."""

    uuid: str
    name: str | None
    owner_account_uuid: str
    model_service_uuid: str | None
    status: str
    instance_uuids: tuple[str, ...]


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
        deploy_duration_ms: float | None = None,
        deploy_fail_rate: float | None = None,
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
            "deployDurationMs": deploy_duration_ms,
            "deployFailRate": deploy_fail_rate,
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

    async def create_access_key(self, account: str | None = None) -> AccessKey:
        """A new AccessKey pair acting as the account called ``account`` (None: the admin)."""
        doc = await self._call("POST", "/access-keys", {"account": account} if account else {})
        return AccessKey(doc["accessKeyId"], doc["accessKeySecret"])

    async def create_tag_pattern(
        self, account: str | None = None, *, name: str | None = None
    ) -> str:
        """A new tag pattern owned by the account called ``account`` (None: the admin).

        Returns its uuid, for ``tagUuids`` on a create of that account.
        """
        body: dict[str, Any] = {}
        if account is not None:
            body["account"] = account
        if name is not None:
            body["name"] = name
        return str((await self._call("POST", "/tag-patterns", body))["uuid"])

    async def create_account(self, name: str, password: str) -> SimAccount:
        """A new normal account; ``password`` is the plain text (login sends its SHA-512)."""
        doc = await self._call("POST", "/accounts", {"name": name, "password": password})
        return SimAccount(doc["uuid"], doc["name"])

    async def accounts(self) -> list[SimAccount]:
        """Every account, the built-in admin first."""
        doc = await self._call("GET", "/accounts")
        return [SimAccount(a["uuid"], a["name"], a["type"]) for a in doc["accounts"]]

    async def services(self) -> list[SimService]:
        """Every model service with its owner, whichever account owns it."""
        doc = await self._call("GET", "/services")
        return [
            SimService(s["uuid"], s.get("name"), s["ownerAccountUuid"], s["version"])
            for s in doc["services"]
        ]

    async def instance_groups(self) -> list[SimGroup]:
        """Every deployment (model service instance group), whichever account owns it."""
        doc = await self._call("GET", "/instance-groups")
        return [
            SimGroup(
                g["uuid"],
                g.get("name"),
                g["ownerAccountUuid"],
                g.get("modelServiceUuid"),
                g["status"],
                tuple(g["instanceUuids"]),
            )
            for g in doc["groups"]
        ]

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
