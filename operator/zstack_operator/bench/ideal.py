"""The floor: exactly the calls one create needs, with nothing of the operator around them.

Used by ``bench.cli``. The N objects are created first and not timed; then, timed: one login,
and for every object at once an AddModelService (``resourceUuid`` = the object's uid, as the
operator sends), polls of its job on the client's schedule (``PollPolicy``: 50 ms growing by
1.6x) until the job's result carries the inventory, and one merge patch of ``/status`` with the
uuid and Ready=True. Every ZStack request, polls and the login included, passes one shared
semaphore of 16: the operator's cap. Plain httpx, no retries: the simulator runs fault-free.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid as uuidlib
from typing import Any

import httpx

from ..sim.config import SimConfig
from ..zstack.retry import PollPolicy
from .context import CREATE_CONCURRENCY, MAX_IN_FLIGHT, Context, RunResult
from .manifests import generate, load_sample
from .track import read_counters, track_ready, wait_idle

#: Status patches the ideal program keeps in flight (well below the client's 64 connections).
KUBE_CONCURRENCY = 32


class IdealError(RuntimeError):
    """The simulator answered something the minimal program does not expect."""


def ready_status(uuid: str, generation: int) -> dict[str, Any]:
    """The status the ideal program writes: the uuid and Ready=True."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    condition = {"type": "Ready", "status": "True", "reason": "Available",
                 "message": "created by the ideal program", "lastTransitionTime": now}  # fmt: skip
    return {"uuid": uuid, "observedGeneration": generation, "conditions": [condition]}


async def _login(zs: httpx.AsyncClient, gate: asyncio.Semaphore) -> str:
    seed = SimConfig()
    digest = hashlib.sha512(seed.password.encode()).hexdigest()
    body = {"logInByAccount": {"accountName": seed.account, "password": digest}}
    async with gate:
        reply = await zs.put("/accounts/login", json=body)
    if reply.status_code != 200:
        raise IdealError(f"login: HTTP {reply.status_code}: {reply.text[:200]}")
    return str(reply.json()["inventory"]["uuid"])


async def _create(
    zs: httpx.AsyncClient, gate: asyncio.Semaphore, session: str, obj: dict[str, Any]
) -> dict[str, Any]:
    """AddModelService and its job, to the inventory."""
    uuid = obj["metadata"]["uid"].replace("-", "")
    body = {"param": {**obj["spec"], "resourceUuid": uuid}}
    headers = {"Authorization": f"OAuth {session}", "X-Job-UUID": uuidlib.uuid4().hex}
    async with gate:
        reply = await zs.post("/ai/model-services", json=body, headers=headers)
    if reply.status_code == 202:
        job = str(reply.json()["location"]).rsplit("/", 1)[-1]
        intervals = PollPolicy().intervals()
        while True:
            async with gate:
                reply = await zs.get(f"/api-jobs/{job}")
            if reply.status_code != 202:
                break
            await asyncio.sleep(next(intervals))
    if reply.status_code != 200:
        raise IdealError(f"AddModelService: HTTP {reply.status_code}: {reply.text[:200]}")
    inventory: dict[str, Any] = reply.json()["inventory"]
    return inventory


async def run_ideal(ctx: Context) -> RunResult:
    """Measure the floor for ``ctx.opts.count`` resources."""
    opts, kube = ctx.opts, ctx.kube
    ns = ctx.namespace("ideal")
    await kube.create_namespace(ns)
    ctx.say(f"ideal: creating {opts.count} ModelServices in {ns} (not timed)")
    created = await kube.create_all(ns, generate(load_sample(), opts.count), CREATE_CONCURRENCY)
    await ctx.admin.reset()
    before = await read_counters(kube, ctx.admin, ctx.pids)
    ctx.say("ideal: login, then AddModelService + job polls + one status patch per resource")
    started = time.monotonic()
    tracker = asyncio.create_task(
        track_ready(kube, ns, opts.count, started, label="ideal", say=ctx.say,
                    patience=opts.timeout)
    )  # fmt: skip
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)
    # A bounded number of status patches in flight: a thousand queued in httpx's pool at once
    # cost the bench more CPU than the patches themselves (its pool scans every waiter).
    patching = asyncio.Semaphore(KUBE_CONCURRENCY)
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    async with httpx.AsyncClient(
        base_url=f"{ctx.sim_url}/zstack/v1", timeout=60.0, limits=limits, trust_env=False
    ) as zs:
        session = await _login(zs, gate)

        async def one(obj: dict[str, Any]) -> float:
            inventory = await _create(zs, gate, session, obj)
            meta = obj["metadata"]
            async with patching:
                await kube.patch_status(
                    ns, meta["name"], ready_status(inventory["uuid"], int(meta["generation"]))
                )
            return time.monotonic() - started

        try:
            done = await asyncio.gather(*(one(obj) for obj in created))
        except BaseException:
            tracker.cancel()
            raise
    timeline = await tracker
    idle_after, after = await wait_idle(
        kube, ctx.admin, started, quiet=opts.idle_seconds, patience=opts.timeout, pids=ctx.pids
    )
    result = RunResult("ideal", timeline, idle_after=idle_after)
    result.count_between(before, after)
    result.extra["exact_seconds"] = round(max(done), 3) if done else 0.0
    result.extra["poll_policy"] = "50 ms x1.6 up to 1 s (the client's PollPolicy)"
    return result
