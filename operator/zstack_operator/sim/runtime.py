"""The running simulator's shared parts, and how an API call becomes an answer.

``SimContext`` bundles configuration (with the release ``profile`` and the node ``clock`` it
selects), state, faults, counters and jobs for the handlers. ``submit`` is the path of every
asynchronous API: the REST layer's header checks (``X-API-Timeout`` must be a number, else 500
as ``Long.parseLong`` fails; a reused ``X-Job-UUID`` is 400 ``Duplicate job uuid[<uuid>]``), the
API pipeline (``prepare``), then 202 with the job location in the body, or in synchronous mode
the job's own result. ``X-Web-Hook`` and ``X-JSON-Schema`` are recorded on the job.
``sync_call`` is the path of synchronous APIs (queries, login, ...): 200 with the reply or 503
with the ErrorCode. Used by ``services_api``, ``identity_api``, ``app`` and ``admin``; built by
``server``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .clock import NodeClock
from .config import CONTEXT_PATH, SimConfig, SimMode
from .errorcodes import ApiError, RestError, error_body
from .faults import Counters, Faults
from .jobs import JobManager
from .profiles import Profile, profile_for
from .request import ApiRequest, json_response
from .state import State, new_uuid


@dataclass
class SimContext:
    """Everything request handlers share."""

    config: SimConfig
    state: State
    faults: Faults
    counters: Counters
    jobs: JobManager
    rng: random.Random
    #: The port actually bound (the config may say 0).
    port: int = 0
    #: When this simulator started (the built-in admin's createDate).
    started_at: float = field(default_factory=time.time)
    #: The release simulated (``--zstack-version``).
    profile: Profile = field(init=False)
    #: The node's zone (``--time-zone``, ``--check-time-zone``).
    clock: NodeClock = field(init=False)

    def __post_init__(self) -> None:
        self.profile = profile_for(self.config.zstack_version)
        self.clock = NodeClock(self.config.time_zone, check_time_zone=self.config.check_time_zone)

    @property
    def url(self) -> str:
        """The endpoint root clients are configured with (they append ``/zstack/v1``)."""
        return f"http://{_url_host(self.config.host)}:{self.port}"

    def job_location(self, job_uuid: str) -> str:
        """Where ZStack says a job can be polled: its own address, not the client's."""
        host = _url_host(self.config.location_host or self.config.host)
        return f"http://{host}:{self.port}{CONTEXT_PATH}/v1/api-jobs/{job_uuid}"


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - a wildcard bind is reached through loopback
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Prepared:
    """What the API pipeline accepted: the job payload and the resource uuid it reserves."""

    payload: dict[str, Any]
    claim: str | None = None


def _api_timeout_ms(ctx: SimContext, req: ApiRequest) -> int:
    value = req.headers.get("x-api-timeout")
    if value is None:
        return ctx.config.api_timeout_ms
    try:
        return int(value) * 1000
    except ValueError:
        # Long.parseLong's NumberFormatException, answered by RestServer.handle as a 500.
        raise RestError(500, f'For input string: "{value}"') from None


async def submit(
    ctx: SimContext, req: ApiRequest, api: str, prepare: Callable[[], Prepared]
) -> web.Response:
    """Run an asynchronous API: refuse a reused job uuid, run the pipeline, start the job."""
    job_uuid = req.job_uuid() or new_uuid()
    timeout = _api_timeout_ms(ctx, req)
    if ctx.jobs.get(job_uuid) is not None:
        raise RestError(400, f"Duplicate job uuid[{job_uuid}]")
    hook = req.headers.get("x-web-hook")
    schema = req.headers.get("x-json-schema", "").strip().lower() == "true"
    try:
        prepared = prepare()
    except ApiError as exc:
        ctx.jobs.submit_failed(job_uuid, api, exc.error, web_hook=hook, json_schema=schema)
    else:
        ctx.jobs.submit(
            job_uuid, api, prepared.payload, claim=prepared.claim, web_hook=hook, json_schema=schema
        )
    if ctx.config.mode is SimMode.SYNC:
        await ctx.jobs.wait(job_uuid)
        status, body = ctx.jobs.answer(job_uuid)
        return json_response(status, body)
    return json_response(202, {"location": ctx.job_location(job_uuid), "apiTimeout": timeout})


def sync_call(reply: Callable[[], dict[str, Any]]) -> web.Response:
    """Run a synchronous API: 200 with its reply, or 503 with its ErrorCode."""
    try:
        return json_response(200, reply())
    except ApiError as exc:
        return json_response(503, error_body(exc.error))


#: Where the aiohttp application keeps its simulator context.
CONTEXT_KEY = web.AppKey("zstack_sim", SimContext)
