"""One HTTP exchange with ZStack: the connection pool, the in-flight cap and reply decoding.

Owned here: ``Transport`` (an ``httpx.AsyncClient`` rooted at ``<endpoint>/zstack/v1``, an
``asyncio.Semaphore`` around every request so one endpoint never sees more than
``max_in_flight`` concurrent requests, polls and logins included), ``Reply`` (status + decoded,
scrubbed body), ``error_from_reply`` (status and body -> the typed errors of ``errors.py``) and
the ``RequestObserver`` protocol that metrics hook into. Used by ``zstack.dispatch``,
``zstack.jobs`` and ``zstack.auth``. Nothing here retries; nothing here logs a URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from .errors import (
    ZStackAPIError,
    ZStackConfigError,
    ZStackError,
    ZStackRESTError,
    ZStackTransportError,
)
from .models import ErrorCode
from .redact import Redactor, install_httpx_log_filter

log = logging.getLogger(__name__)

#: Path of ZStack's REST API under the endpoint root (context path ``zstack`` + ``/v1``).
API_ROOT = "/zstack/v1"

Params = list[tuple[str, str]]


class RequestObserver(Protocol):
    """Hooks for metrics; every method must be cheap and must not raise."""

    def on_request(self, api: str, outcome: str, seconds: float) -> None:
        """One HTTP request finished: ``outcome`` is the status code or ``transport_error``."""

    def on_in_flight(self, delta: int) -> None:
        """Count a request that started (+1) or finished (-1)."""

    def on_job_poll(self, api: str) -> None:
        """One ``GET /api-jobs/{uuid}`` was sent for a job of ``api``."""


class _NoObserver:
    def on_request(self, api: str, outcome: str, seconds: float) -> None:
        return None

    def on_in_flight(self, delta: int) -> None:
        return None

    def on_job_poll(self, api: str) -> None:
        return None


@dataclass(frozen=True)
class Reply:
    """A decoded HTTP reply: ``body`` is the JSON value (None for plain text)."""

    status: int
    body: Any
    text: str
    retry_after: float | None = None

    def obj(self) -> dict[str, Any]:
        """Return the body when it is a JSON object, else an empty object."""
        return self.body if isinstance(self.body, dict) else {}


def api_base(endpoint: str) -> str:
    """``<endpoint>/zstack/v1`` from an endpoint root (an endpoint already ending so is kept)."""
    base = endpoint.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ZStackConfigError("the ZStack endpoint must be an http:// or https:// URL")
    if "@" in base.split("/", 3)[2]:
        # Credentials go in the credentials argument, where they are kept secret.
        raise ZStackConfigError("the ZStack endpoint must not contain user information")
    if base.endswith(API_ROOT):
        return base
    if base.endswith("/zstack"):
        return base + "/v1"
    return base + API_ROOT


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _scrub_value(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_scrub_value(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v, redact) for k, v in value.items()}
    return value


def decode(status: int, raw: str, retry_after: str | None, redact: Redactor) -> Reply:
    """Build a ``Reply``; the body and text of a failed reply are scrubbed of secrets.

    Only failures are scrubbed: their text ends up in exceptions and logs. Successful bodies
    are the caller's data (a yaml may well contain a word that happens to be the password)
    and are handed over untouched.
    """
    body: Any = None
    stripped = raw.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            body = json.loads(stripped)
        except ValueError:
            body = None
    if status < 300:
        return Reply(status, body, raw, parse_retry_after(retry_after))
    return Reply(status, _scrub_value(body, redact), redact(raw), parse_retry_after(retry_after))


def error_from_reply(reply: Reply, api: str) -> ZStackError:
    """Build the typed error of a failed reply: ErrorCode bodies vs plain REST-layer text."""
    error = reply.obj().get("error")
    if isinstance(error, dict):
        exc: ZStackError = ZStackAPIError(
            ErrorCode.model_validate(error), api=api, status=reply.status
        )
        exc.retry_after = reply.retry_after
        return exc
    return ZStackRESTError(reply.status, reply.text, api=api, retry_after=reply.retry_after)


def ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """Translate ``verify`` for httpx: a bool, or an SSL context trusting a CA bundle file."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    if not verify:
        log.warning("TLS certificate verification of the ZStack endpoint is disabled")
    return verify


class Transport:
    """The HTTP connection pool of one endpoint, capped at ``max_in_flight`` requests."""

    def __init__(
        self,
        endpoint: str,
        *,
        redact: Redactor,
        max_in_flight: int = 16,
        verify: bool | str = True,
        timeout: float = 30.0,
        observer: RequestObserver | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        install_httpx_log_filter()
        self.base_url = api_base(endpoint)
        self.redact = redact
        self.observer: RequestObserver = observer or _NoObserver()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            verify=ssl_verify(verify),
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_in_flight, max_keepalive_connections=max_in_flight
            ),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        api: str,
        params: Params | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send one request under the in-flight cap; transport failures become typed errors."""
        outcome = "transport_error"
        async with self._slots:
            self.observer.on_in_flight(1)
            started = time.monotonic()
            try:
                response = await self._http.request(
                    method,
                    path,
                    params=tuple(params or ()),
                    json=body,
                    headers=headers,
                )
                outcome = str(response.status_code)
            except httpx.HTTPError as exc:
                # str(exc) of httpx errors holds no URL; scrub anyway, it is cheap.
                reason = self.redact(str(exc)) or "no detail"
                raise ZStackTransportError(
                    f"{api} failed: {type(exc).__name__}: {reason}", api=api
                ) from exc
            finally:
                seconds = time.monotonic() - started
                self.observer.on_request(api, outcome, seconds)
                self.observer.on_in_flight(-1)
                log.debug("ZStack %s %s -> %s in %.3fs", api, method, outcome, seconds)
        return decode(
            response.status_code, response.text, response.headers.get("Retry-After"), self.redact
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        """True once ``aclose`` ran."""
        return self._http.is_closed
