"""The operator's HTTP endpoint: /healthz (liveness), /readyz (readiness) and /metrics.

Started by ``lifecycle.run`` before leader election, so a standby answers too. The probes tell
a stuck operator from a ZStack outage:

- **Liveness** fails only when restarting would help: when the event loop does not answer (a
  blocked loop cannot serve /healthz, so the kubelet's probe times out). The other way to be
  stuck, a watch kopf gave up on (say after a minute of 403s), needs no probe: kopf then stops
  the operator and the process exits non-zero, so Kubernetes restarts it anyway. ZStack's state
  never enters liveness, so a ZStack outage cannot make Kubernetes restart the operator in a
  loop.
- **Readiness** means "started (leading, or standing by ready to take over), and the
  Kubernetes API answered within the last few seconds".
  The answer is cached for ``READY_CACHE_SECONDS`` and refreshed by one check at a time, so
  whoever can reach the port (the kubelet, a scraper, a curl loop) costs the API server at
  most one request per period, however often or concurrently they ask.
- ZStack's health is what /metrics and each resource's status report, not a probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .metrics import REGISTRY

log = logging.getLogger(__name__)

#: Longest wait for the Kubernetes API in /readyz, below the kubelet's probe timeout (5 s).
API_CHECK_TIMEOUT = 3.0
#: How long one answer of the Kubernetes API check is reused; below the chart's probe period
#: (10 s), so each kubelet probe still sees a fresh check.
READY_CACHE_SECONDS = 5.0

ApiCheck = Callable[[], Awaitable[object]]


async def _check_api(check: ApiCheck) -> tuple[bool, str]:
    try:
        async with asyncio.timeout(API_CHECK_TIMEOUT):
            await check()
    except TimeoutError:
        return False, f"Kubernetes API: no answer within {API_CHECK_TIMEOUT:g}s"
    except Exception as exc:  # whatever failed, the answer is "not ready, because ..."
        return False, f"Kubernetes API: {exc}"
    return True, "ok"


class Health:
    """What /readyz needs: whether start-up finished, and a cached Kubernetes API check."""

    def __init__(
        self,
        *,
        cache_seconds: float = READY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.started = False
        #: Raises when the Kubernetes API does not answer; None skips the check.
        self.api_check: ApiCheck | None = None
        #: "leader (...)" or "standby (...)" under leader election, appended to a ready answer.
        self.role: Callable[[], str] | None = None
        self._cache_seconds = cache_seconds
        self._clock = clock
        #: (when the check started, its answer, the check it came from)
        self._answer: tuple[float, tuple[bool, str], ApiCheck] | None = None
        self._running: asyncio.Task[tuple[bool, str]] | None = None

    async def ready(self) -> tuple[bool, str]:
        """(ready?, why) for /readyz."""
        if not self.started:
            return False, "starting"
        check = self.api_check
        if check is None:
            return True, "ok"
        cached = self._answer
        if (
            cached is not None
            and cached[2] is check
            and self._clock() - cached[0] < self._cache_seconds
        ):
            return cached[1]
        if self._running is None:
            self._running = asyncio.create_task(self._refresh(check), name="readyz-check")
        # Shielded: a probe that gives up (client gone, handler cancelled) must not cancel the
        # check the other waiting probes share.
        return await asyncio.shield(self._running)

    async def _refresh(self, check: ApiCheck) -> tuple[bool, str]:
        # Stamped with the start, so checks start at least one period apart even when one is
        # slow; failures are cached too, or a refusing API would be asked on every hit.
        started = self._clock()
        try:
            answer = await _check_api(check)
            self._answer = (started, answer, check)
            return answer
        finally:
            self._running = None


def build_app(health: Health) -> web.Application:
    """The aiohttp application serving the three endpoints."""

    async def healthz(_: web.Request) -> web.Response:
        # Answering at all is the check: a blocked loop cannot, and the kubelet's probe times out.
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        ok, why = await health.ready()
        if ok and health.role is not None:
            why = f"{why}: {health.role()}"
        return web.Response(text=why, status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(health: Health, address: str) -> web.AppRunner:
    """Start serving on ``HOST:PORT`` (port 0 picks a free one, logged); the caller cleans up."""
    host, _, port = address.rpartition(":")
    runner = web.AppRunner(build_app(health), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or "0.0.0.0", int(port)).start()  # noqa: S104
    for bound in runner.addresses:
        where = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        log.info("serving /healthz, /readyz and /metrics on http://%s:%s", where, bound[1])
    return runner
