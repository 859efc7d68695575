"""``X-Web-Hook``: the node POSTs an asynchronous API's result to a URL the caller named.

What ``RestServer.callWebHook`` does (ZSTACK-API.md section 10 row 9): when the job ends, the
poll's answer body (``{"inventory": ...}``, ``{}`` or ``{"error": ...}``) is POSTed as JSON to
the URL with headers ``X-Job-UUID`` and ``X-Job-Success`` (``true``/``false``); a connection
error or a status outside 2xx is tried again, 15 times 2 seconds apart, then given up (logged).
Owned here: ``WebHooks``, the delivery tasks; ``jobs.JobManager`` hands it every finished job
that had a hook. URLs are the caller's; nothing here logs a body.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)

#: ``@RetryCondition(times = 15, interval = 2)`` on the delivery.
TRIES = 15
INTERVAL_SECONDS = 2.0


class WebHooks:
    """Delivers job results to web hooks in the background."""

    def __init__(self, *, tries: int = TRIES, interval: float = INTERVAL_SECONDS) -> None:
        self._tries = tries
        self._interval = interval
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    def notify(self, url: str, job_uuid: str, success: bool, body: dict[str, Any]) -> None:
        """Start delivering one result (the caller does not wait)."""
        task = asyncio.get_running_loop().create_task(self._deliver(url, job_uuid, success, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, job_uuid: str, success: bool, body: dict[str, Any]) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0, trust_env=False)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Job-UUID": job_uuid,
            "X-Job-Success": str(success).lower(),
        }
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        for attempt in range(1, self._tries + 1):
            try:
                response = await self._http.post(url, content=content, headers=headers)
                if 200 <= response.status_code < 300:
                    return
                reason = f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError) as exc:  # ValueError: not a URL at all
                reason = type(exc).__name__
            log.warning("web hook of job %s: try %d failed (%s)", job_uuid, attempt, reason)
            if attempt < self._tries:
                await asyncio.sleep(self._interval)
        log.warning("web hook of job %s given up after %d tries", job_uuid, self._tries)

    async def close(self) -> None:
        """Stop every delivery."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
