"""One logical ZStack request: auth headers, transient retries, one re-login, job uuids.

Owned here: ``Dispatcher.send``, the loop every client request goes through, and the
``X-Job-UUID`` helpers. The rules (DESIGN.md section 3, ZSTACK-API.md 2.1 and 8):

- a TRANSIENT error (network, timeout, 429, 5xx, SYS.1000/1001) is retried with the
  ``RetryPolicy``'s jittered backoff, honouring ``Retry-After``;
- ``ID.1001`` (session expired) logs in again, but only if the failed session is still the
  current one, and repeats the request once;
- with ``time_zone="auto"`` the node's zone is learned (``autozone``) before the first
  authenticated request; a 403 ``requestTimeTooSkewed`` becomes ``ZStackTimeSkewError``,
  whose text names the fix (the connection's time zone);
- a retried mutation reuses its ``X-Job-UUID``, so the server runs it at most once. If the
  retry meets HTTP 400 "Duplicate job uuid", an earlier try was accepted, and the reply is
  handed back flagged ``duplicate`` for the caller to poll that job. The same 400 on the very
  first try means the caller reused a job uuid: ``DuplicateJobError``.

Used by ``zstack.jobs`` (polls, mutations) and ``zstack.client`` (queries).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import autozone
from .auth import Authenticator
from .errors import TIME_SKEW_TEXT, DuplicateJobError, ErrorKind, ZStackError, ZStackTimeSkewError
from .nodetime import NodeTime
from .retry import RetryPolicy
from .transport import Params, Reply, Transport, error_from_reply

log = logging.getLogger(__name__)

#: The REST layer's text for a reused ``X-Job-UUID`` (RestServer.handleApi). There is no code
#: or header to tell it apart from other 400s, so the text is the only signal.
_DUPLICATE_JOB_TEXT = "duplicate job uuid"


def new_job_uuid() -> str:
    """Make a fresh ``X-Job-UUID``: 32 lowercase hex characters, like ZStack's own ids."""
    return uuid.uuid4().hex


def successor_job_uuid(job_uuid: str) -> str:
    """Derive the job uuid a request gets after a re-login: the old one is spent.

    Not random, so the same failure always leads to the same successor.
    """
    return hashlib.sha256(f"{job_uuid}/relogin".encode()).hexdigest()[:32]


def is_success(reply: Reply) -> bool:
    """200 (result) and 202 (job accepted) are the replies callers handle themselves."""
    return reply.status in (200, 202)


def is_duplicate_job(reply: Reply) -> bool:
    """Tell whether a reply is the REST layer's 400 "Duplicate job uuid"."""
    return reply.status == 400 and _DUPLICATE_JOB_TEXT in reply.text.lower()


def is_time_skew(reply: Reply) -> bool:
    """Tell whether a reply is the REST layer's 403 ``requestTimeTooSkewed`` (its whole body)."""
    return reply.status == 403 and reply.text.strip() == TIME_SKEW_TEXT


@dataclass
class Call:
    """One logical request; ``job_uuid`` may change (after a re-login) while it is sent."""

    method: str
    path: str
    api: str
    params: Params | None = None
    body: dict[str, Any] | None = None
    job_uuid: str | None = None
    authed: bool = True
    #: Replies returned as they are; any other reply becomes a typed error.
    accept: Callable[[Reply], bool] = is_success
    #: Set once the call has spent its single re-login.
    relogged: bool = False
    #: True while ``job_uuid`` has not been sent yet.
    fresh_job: bool = field(default=True, repr=False)


@dataclass(frozen=True)
class Sent:
    """The accepted reply, the session it was sent with, and whether it was a duplicate."""

    reply: Reply
    session: str | None
    duplicate: bool = False


class Dispatcher:
    """Sends ``Call``s with the client's auth, retry policy and transport."""

    def __init__(
        self,
        transport: Transport,
        auth: Authenticator,
        retry: RetryPolicy,
        node_time: NodeTime | None = None,
    ) -> None:
        self.transport = transport
        self.auth = auth
        self.retry = retry
        self.node_time = node_time or NodeTime(None)

    async def ensure_zone(self) -> None:
        """Learn the node's zone first if ``time_zone="auto"`` has not yet (else nothing)."""
        if self.node_time.pending:
            await self.node_time.ensure(lambda: autozone.detect(self.transport, self.auth))

    async def send(self, call: Call) -> Sent:
        """Send until accepted, retrying what is transient; raise the typed error otherwise."""
        failed_tries = 0
        while True:
            session: str | None = None
            try:
                headers: dict[str, str] = {}
                if call.authed:
                    await self.ensure_zone()
                    headers, session = await self.auth.authorize(call.method, call.path)
                if call.job_uuid is not None:
                    headers["X-Job-UUID"] = call.job_uuid
                return await self._send_once(call, headers, session)
            except DuplicateJobError:
                raise
            except ZStackError as exc:
                error = exc
            if await self.spend_relogin(call, error, session):
                continue
            failed_tries += 1
            delay = None
            if error.kind is ErrorKind.TRANSIENT:
                delay = self.retry.delay(failed_tries, error.retry_after)
            if delay is None:
                raise error
            log.info(
                "ZStack %s: %s; retry %d of %d in %.2fs",
                call.api,
                error,
                failed_tries,
                self.retry.attempts - 1,
                delay,
            )
            await asyncio.sleep(delay)

    async def _send_once(self, call: Call, headers: dict[str, str], session: str | None) -> Sent:
        first_try_of_job = call.fresh_job
        call.fresh_job = False
        reply = await self.transport.request(
            call.method, call.path, api=call.api, params=call.params, body=call.body,
            headers=headers,
        )  # fmt: skip
        if call.accept(reply):
            return Sent(reply, session)
        if call.job_uuid is not None and is_duplicate_job(reply):
            if first_try_of_job:
                raise DuplicateJobError(call.job_uuid, reply.text, api=call.api)
            return Sent(reply, session, duplicate=True)
        if is_time_skew(reply):
            raise ZStackTimeSkewError(reply.text, api=call.api, time_zone=self.node_time.describe())
        raise error_from_reply(reply, call.api)

    async def spend_relogin(self, call: Call, error: ZStackError, session: str | None) -> bool:
        """Spend the call's one re-login on a session error; True when it should be resent."""
        if error.kind is not ErrorKind.SESSION or not call.authed or call.relogged:
            return False
        if not await self.auth.renew(session):
            return False
        call.relogged = True
        if call.job_uuid is not None:
            call.job_uuid = successor_job_uuid(call.job_uuid)
            call.fresh_job = True
        return True
