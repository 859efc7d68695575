"""The operator process's life: serve the probes, stand by, lead, hand over, exit.

``handlers.run`` passes in ``operate`` (kopf's operator, stopped by the event it is given);
this module decides when it may run. With leader election on (the default), the process:

1. serves /healthz, /readyz and /metrics at once: a standby is ready (it can take over), so a
   rolling update goes on while the old pod still leads;
2. stands by until it holds the Lease (``leader.py``), watching nothing and calling nobody;
3. runs kopf while renewing; on SIGTERM kopf stops, and the Lease is released after its last
   handler, so the next replica starts at its next look and never overlaps;
4. when the Lease is lost (the API server unreachable past the renew deadline, or another
   holder), stops kopf and stands by again, a new term starting with a fresh ``Runtime``. kopf
   must have stopped within ``lease_duration - renew_deadline - retry_period`` seconds, before
   any standby may act; if it has not, the process exits with status 1 at once, mid-handler,
   and the kubelet restarts it. Anything interrupted is what a SIGKILL interrupts, which the
   reconcile is built to survive (docs/high-availability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable

from .health import Health, serve
from .kubeapi import KubeAPI, load_kubeconfig
from .leader import ElectionConfig, LeaderElector
from .runtime import Runtime
from .settings import Settings

log = logging.getLogger(__name__)

#: Runs kopf for one term of leadership with that term's Runtime, until the event is set.
Operate = Callable[[Runtime, asyncio.Event], Awaitable[None]]


def election_config(s: Settings) -> ElectionConfig:
    """The Lease this process competes for, from its settings."""
    # Outside a pod, a name of its own per process: two on one host must never share one.
    identity = s.identity or f"{socket.gethostname()}-{secrets.token_hex(4)}"
    return ElectionConfig(s.lease_namespace, s.lease_name, identity, s.lease_duration)


async def _stand_by(elector: LeaderElector, stop: asyncio.Event) -> bool:
    """Wait for the Lease; False when told to stop first."""
    acquiring = asyncio.create_task(elector.acquire(), name="leader-acquire")
    stopping = asyncio.create_task(stop.wait(), name="stop-wait")
    done, _ = await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (acquiring, stopping):
        task.cancel()
    await asyncio.gather(acquiring, stopping, return_exceptions=True)
    return acquiring in done and not acquiring.cancelled() and acquiring.exception() is None


async def run(settings: Settings, operate: Operate) -> int:
    """Run the operator process to its end; returns the exit code."""
    kube = KubeAPI(load_kubeconfig())
    health = Health()
    health.api_check = kube.version
    loop = asyncio.get_running_loop()
    runner = await serve(health, settings.health_address) if settings.health_address else None
    elector = None
    if settings.leader_elect:
        elector = LeaderElector(kube, election_config(settings))
        health.role = _role(elector)
        health.started = True
    try:
        while True:
            stop = asyncio.Event()
            # kopf installs its own handlers for these while it runs; between terms they end
            # a standby.
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            if elector is not None and not await _stand_by(elector, stop):
                return 0
            # A fresh Runtime a term: nothing a previous term knew (schedules, waiters, the
            # condition census) outlives its watches.
            rt = Runtime(settings, health=health, kube=kube, stop=stop)
            if elector is None:
                await operate(rt, stop)
                return 0
            lost = await _lead(elector, rt, operate, stop)
            rt.census.clear()
            if lost is None:
                return 0
            log.error("lost the leadership (%s): standing by again", lost)
    finally:
        if elector is not None and elector.leading:
            await elector.release()
        if runner is not None:
            await runner.cleanup()
        await kube.aclose()


async def _lead(
    elector: LeaderElector, rt: Runtime, operate: Operate, stop: asyncio.Event
) -> str | None:
    """One term: kopf runs while the Lease is renewed; why it was lost, None if it was not."""
    cfg = elector.config
    holding = asyncio.create_task(elector.hold(), name="leader-renew")
    cutoff: asyncio.TimerHandle | None = None

    def lost(task: asyncio.Task[str]) -> None:
        nonlocal cutoff
        if task.cancelled():
            return
        stop.set()
        # The rest of the lease is all the time there is: past it a standby may act. A kopf
        # that has not stopped by then is cut off, as a SIGKILL would.
        grace = max(1.0, cfg.lease_duration - cfg.renew_deadline - cfg.retry_period)
        cutoff = asyncio.get_running_loop().call_later(grace, _cut_off, _why(task))

    holding.add_done_callback(lost)
    try:
        await operate(rt, stop)
    finally:
        if cutoff is not None:
            cutoff.cancel()
        if not holding.done():
            holding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await holding
    return None if holding.cancelled() else _why(holding)


def _why(holding: asyncio.Task[str]) -> str:
    failure = holding.exception()
    return f"{type(failure).__name__}: {failure}" if failure else holding.result()


def _cut_off(why: str) -> None:
    log.error("kopf did not stop within the rest of the lease (%s): exiting", why)
    os._exit(1)


def _role(elector: LeaderElector) -> Callable[[], str]:
    def role() -> str:
        if elector.leading:
            return f"leader ({elector.config.identity})"
        return f"standby ({elector.config.identity}; leader: {elector.holder or 'none'})"

    return role
