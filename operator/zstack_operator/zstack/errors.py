"""Typed errors of the ZStack client, classified once (DESIGN.md section 3, "Errors").

Every failure the client can meet becomes one of these:

- ``ZStackAPIError``: ZStack answered with an ``{"error": ErrorCode}`` body (HTTP 503 on a sync
  call, or a failed job). Its ``kind`` comes from the ErrorCode's ``code``.
- ``ZStackRESTError``: the REST layer answered with a plain-text 4xx/5xx body (bad type, duplicate
  job uuid, missing header, no API mapping, 429 rate limiting, ...).
- ``ZStackTransportError``: nothing usable came back (connection refused/reset, timeout).
- ``JobExpiredError``: ``GET /api-jobs/{uuid}`` answered 404: the job is unknown or expired.
- ``DuplicateJobError``: the caller's own ``X-Job-UUID`` was already used; wait for that job.
- ``ZStackTimeSkewError``: the node refused an AccessKey request's ``Date`` (403
  ``requestTimeTooSkewed``), almost always because the client has the node's time zone wrong.

``kind`` tells callers what to do: ``TRANSIENT`` (retry with backoff), ``SESSION`` (log in again and
retry once), ``TERMINAL`` (the request itself is wrong: wait for a spec change) and ``AUTH``
(credentials, permission or quota: wait for a Secret/quota change). Within ``AUTH``,
``permission_denied`` singles out ``ID.1002``: the credentials work, but their account may not
do this (another account's resource, an admin-only API), so the message can say so. Messages
never contain passwords, access-key secrets or session ids: only ZStack's own texts and the API
name go in.
"""

from __future__ import annotations

from enum import StrEnum

from .models import ErrorCode


class ErrorKind(StrEnum):
    """How a caller should react to an error."""

    TRANSIENT = "Transient"
    SESSION = "Session"
    TERMINAL = "Terminal"
    AUTH = "Auth"


_TRANSIENT_CODES = frozenset({"SYS.1000", "SYS.1001"})
_SESSION_CODES = frozenset({"ID.1001"})
_AUTH_CODES = frozenset({"ID.1000", "ID.1002", "ID.1003", "ID.1006"})
#: ``IdentityErrors.PERMISSION_DENIED``: ``AccountAPIRequestChecker`` (another account's
#: resource) and ``RBACAPIRequestChecker`` (an admin-only API) both answer with it. Its kind
#: stays AUTH: what fixes it is another account's credentials, as for a wrong password, and
#: every AUTH caller already waits for that; ``permission_denied`` tells it apart.
PERMISSION_DENIED_CODE = "ID.1002"


def classify_code(code: str | None) -> ErrorKind:
    """Kind of a ZStack ErrorCode ``code``; unknown codes are business refusals (terminal)."""
    if code in _TRANSIENT_CODES:
        return ErrorKind.TRANSIENT
    if code in _SESSION_CODES:
        return ErrorKind.SESSION
    if code in _AUTH_CODES:
        return ErrorKind.AUTH
    return ErrorKind.TERMINAL


class ZStackError(Exception):
    """Base of every error the ZStack client raises."""

    kind: ErrorKind = ErrorKind.TERMINAL
    #: Seconds the server asked us to wait (``Retry-After``), if it said.
    retry_after: float | None = None

    def __init__(self, message: str, *, api: str = "") -> None:
        super().__init__(message)
        self.api = api
        self.message = message

    @property
    def transient(self) -> bool:
        """True when repeating the same request later may succeed without any change."""
        return self.kind in (ErrorKind.TRANSIENT, ErrorKind.SESSION)

    @property
    def permission_denied(self) -> bool:
        """True when the account behind the credentials may not do this (``ID.1002``)."""
        return False


class ZStackAPIError(ZStackError):
    """ZStack refused or failed an API call and said why in an ErrorCode."""

    def __init__(self, error: ErrorCode, *, api: str = "", status: int = 503) -> None:
        self.error = error
        self.status = status
        self.kind = classify_code(error.code)
        text = error.details or error.description or "no details"
        super().__init__(f"{api or 'ZStack API'} failed: {error.code}: {text}", api=api)

    @property
    def code(self) -> str | None:
        """The ErrorCode's code, e.g. ``SYS.1007``."""
        return self.error.code

    @property
    def permission_denied(self) -> bool:
        """True for ``ID.1002``: e.g. a normal account acting on another account's service."""
        return self.error.code == PERMISSION_DENIED_CODE


class ZStackRESTError(ZStackError):
    """The REST layer answered with a status and a plain-text body."""

    def __init__(
        self, status: int, text: str, *, api: str = "", retry_after: float | None = None
    ) -> None:
        self.status = status
        self.text = text[:500]
        self.retry_after = retry_after
        # 429 (rate limited) and 5xx without an ErrorCode body are the server's trouble, not ours.
        self.kind = ErrorKind.TRANSIENT if status == 429 or status >= 500 else ErrorKind.TERMINAL
        super().__init__(f"{api or 'ZStack REST'} answered HTTP {status}: {self.text}", api=api)


class ZStackTransportError(ZStackError):
    """No usable answer: connection refused or reset, DNS failure, timeout, TLS failure."""

    kind = ErrorKind.TRANSIENT


class JobExpiredError(ZStackError):
    """The api-job is unknown or expired (404); the caller must fall back to a query."""

    kind = ErrorKind.TERMINAL

    def __init__(self, job_uuid: str, *, api: str = "") -> None:
        self.job_uuid = job_uuid
        super().__init__(f"ZStack job {job_uuid} is unknown or expired", api=api)


class JobTimeoutError(ZStackError):
    """A job was still running when the caller's polling deadline passed."""

    kind = ErrorKind.TRANSIENT

    def __init__(self, job_uuid: str, *, api: str = "") -> None:
        self.job_uuid = job_uuid
        super().__init__(f"ZStack job {job_uuid} is still running", api=api)


class ZStackConfigError(ZStackError):
    """The client was configured wrongly (no credentials, bad endpoint)."""

    kind = ErrorKind.AUTH


class DuplicateJobError(ZStackRESTError):
    """The caller's own ``X-Job-UUID`` was already used (HTTP 400 "Duplicate job uuid").

    The job it names exists: ``ZStackClient.wait_job(job_uuid)`` gets its outcome.
    """

    def __init__(self, job_uuid: str, text: str, *, api: str = "") -> None:
        super().__init__(400, text, api=api)
        self.job_uuid = job_uuid


#: The REST layer's whole body when an AccessKey ``Date`` is off by more than 15 minutes.
TIME_SKEW_TEXT = "requestTimeTooSkewed"


class ZStackTimeSkewError(ZStackRESTError):
    """An AccessKey request's ``Date`` was refused: 403 ``requestTimeTooSkewed``.

    The node compares the header's wall-clock time with its own local wall clock (by default
    ignoring the zone the header names), so a client with the wrong time zone is 15 minutes or
    more off on every request. Kind ``AUTH``: what fixes it is the connection's configuration,
    not a retry or a spec change.
    """

    def __init__(self, text: str, *, api: str = "", time_zone: str) -> None:
        super().__init__(403, text, api=api)
        self.kind = ErrorKind.AUTH
        self.time_zone = time_zone
        self.message = (
            f"{api or 'ZStack REST'} answered HTTP 403 {TIME_SKEW_TEXT}: the management node "
            "found the request's Date header more than 15 minutes off its own clock, which it "
            "reads as local time in its own zone. Set the connection's time zone to the node's "
            f"zone (it is {time_zone}) and check that both clocks are right"
        )
        self.args = (self.message,)
