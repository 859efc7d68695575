"""The operator's HTTP endpoint: /healthz (liveness), /readyz (readiness) and /metrics.

Liveness answers from the event loop itself and checks only that the operator's own machinery
is alive (the loop responds, kopf's watch stream delivered something recently or is idle by
design); a ZStack outage never fails it, so Kubernetes does not restart a healthy operator in a
loop while ZStack is down. Readiness adds "the operator has started and can reach the
Kubernetes API"; ZStack's state is reported by metrics and status, not by probes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .metrics import REGISTRY


class Health:
    """Mutable health facts the handlers update and the probes read."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = False
        self.last_api_ok: float | None = None
        self.api_error: str | None = None

    def api_ok(self) -> None:
        """The Kubernetes API just answered us."""
        self.last_api_ok = self._clock()
        self.api_error = None

    def api_failed(self, why: str) -> None:
        """The Kubernetes API failed us."""
        self.api_error = why

    def ready(self) -> tuple[bool, str]:
        """(ready?, why) for /readyz."""
        if not self.started:
            return False, "starting"
        if self.api_error:
            return False, f"Kubernetes API: {self.api_error}"
        return True, "ok"


def build_app(health: Health) -> web.Application:
    """The aiohttp application serving the three endpoints."""

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        ok, why = health.ready()
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
    """Start serving on ``HOST:PORT``; the caller cleans the runner up at shutdown."""
    host, _, port = address.rpartition(":")
    runner = web.AppRunner(build_app(health), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or "0.0.0.0", int(port)).start()  # noqa: S104
    return runner
