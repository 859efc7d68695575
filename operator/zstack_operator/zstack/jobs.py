"""ZStack's asynchronous jobs: submit a mutation, then poll ``/api-jobs/{uuid}`` to the end.

Owned here: ``JobRunner.mutate`` (send a mutation with its ``X-Job-UUID`` and accept either
reply style: 200 with the result, or 202 with ``{"location", "apiTimeout"}`` in the body) and
``JobRunner.wait`` (poll a job by uuid: 202 running, 200 done, 503 failed -> ZStackAPIError,
404 -> JobExpiredError, deadline -> JobTimeoutError). Polls go to the configured endpoint, never
to the host in ``location``: that is the management node's own address, which may not be
reachable from here (ZSTACK-API.md 2.2). ``JobRunner.resume`` polls a job by the uuid it was
first sent with, following the resend after a session expiry. Used by ``zstack.client``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .dispatch import Call, Dispatcher, new_job_uuid, successor_job_uuid
from .errors import (
    ErrorKind,
    JobExpiredError,
    JobTimeoutError,
    ZStackAPIError,
    classify_code,
)
from .retry import PollPolicy
from .transport import Reply, error_from_reply

log = logging.getLogger(__name__)

#: The API name polls are counted under (the sim's counters use the same name).
POLL_API = "QueryApiJob"


def _poll_reply(reply: Reply) -> bool:
    """Accept the replies a poll interprets itself; others (429, plain 5xx) retry or raise.

    A 503 whose code is transient (SYS.1000/1001) cannot be told apart from a failure of the
    poll itself, so it goes through the retry policy: a job that really failed that way
    answers the same on every poll, and its error reaches the caller after the last try.
    """
    if reply.status in (200, 202, 404):
        return True
    error = reply.obj().get("error")
    if reply.status != 503 or not isinstance(error, dict):
        return False
    return classify_code(error.get("code")) is not ErrorKind.TRANSIENT


class JobRunner:
    """Runs mutations to completion and resumes jobs by uuid."""

    def __init__(self, dispatcher: Dispatcher, poll: PollPolicy) -> None:
        self._dispatcher = dispatcher
        self._poll = poll

    def deadline(self, wait: float | None) -> float:
        """Seconds to poll for a caller's ``wait`` (None: the policy's default)."""
        return self._poll.timeout if wait is None else max(0.0, wait)

    async def mutate(self, call: Call, *, wait: float | None) -> dict[str, Any]:
        """Send a mutation and return its result object (``{}`` for deletes).

        The call always carries an ``X-Job-UUID`` so that transient retries cannot run it
        twice. With ``wait=0`` a 202 is polled once and then raises ``JobTimeoutError``: the
        caller records the job uuid and resumes it later with ``wait``.
        """
        if call.job_uuid is None:
            call.job_uuid = new_job_uuid()
        while True:
            sent = await self._dispatcher.send(call)
            if sent.reply.status == 200 and not sent.duplicate:
                return sent.reply.obj()
            if sent.duplicate:
                log.info("ZStack %s: job was accepted by an earlier try; polling it", call.api)
            try:
                return await self.wait(call.job_uuid, api=call.api, timeout=self.deadline(wait))
            except ZStackAPIError as exc:
                # The job ran under a session that expired meanwhile: log in, resend once.
                if exc.kind is ErrorKind.SESSION and await self._dispatcher.spend_relogin(
                    call, exc, sent.session
                ):
                    continue
                raise

    async def resume(
        self,
        job_uuid: str,
        *,
        api: str,
        timeout: float,  # noqa: ASYNC109 - a deadline that raises JobTimeoutError, not a cancel
    ) -> dict[str, Any]:
        """``wait`` for a job known by the uuid it was first sent with (e.g. after a restart).

        ``mutate`` resends a request whose job failed with an expired session (ID.1001) once,
        as ``successor_job_uuid``. The first job's failure is then not the request's outcome:
        the resent one may still be running, and will create or change what it was asked to.
        So a session failure is followed to the successor; only if that was never sent (404)
        does the session failure stand.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            return await self.wait(job_uuid, api=api, timeout=timeout)
        except ZStackAPIError as exc:
            if exc.kind is not ErrorKind.SESSION:
                raise
            failure = exc
        successor = successor_job_uuid(job_uuid)
        try:
            return await self.wait(successor, api=api, timeout=max(0.0, deadline - loop.time()))
        except JobExpiredError:
            raise failure from None

    async def wait(
        self,
        job_uuid: str,
        *,
        api: str,
        timeout: float,  # noqa: ASYNC109 - a deadline that raises JobTimeoutError, not a cancel
    ) -> dict[str, Any]:
        """Poll ``job_uuid`` until it ends or ``timeout`` seconds pass; at least one poll."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        intervals = self._poll.intervals()
        observer = self._dispatcher.transport.observer
        while True:
            observer.on_job_poll(api)
            call = Call("GET", f"/api-jobs/{job_uuid}", api=POLL_API, authed=False)
            call.accept = _poll_reply
            try:
                reply = (await self._dispatcher.send(call)).reply
            except ZStackAPIError as exc:
                # A job failure that kept looking transient is the job's error, not the poll's.
                raise ZStackAPIError(exc.error, api=api, status=exc.status) from exc
            if reply.status == 200:
                return reply.obj()
            if reply.status == 404:
                raise JobExpiredError(job_uuid, api=api)
            if reply.status == 503:
                raise error_from_reply(reply, api)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise JobTimeoutError(job_uuid, api=api)
            await asyncio.sleep(min(next(intervals), remaining))
