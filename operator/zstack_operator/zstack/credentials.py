"""ZStack credentials and the pure cryptography around them (DESIGN.md section 4).

Owned here: the two credential types the client accepts (an account name + password, or an
AccessKey id + secret), the SHA-512 password hashing ZStack's login expects, and the
HMAC-SHA1 AccessKey signature (ZSTACK-API.md 1.1 and 1.4). Used by ``zstack.auth`` and by
callers that build a client from a Kubernetes Secret. Secrets are ``SecretStr``, so neither
``repr`` nor ``str`` of a credential shows them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr

#: ZStack prefixes every API path with this after the context path; AccessKey signs from here.
API_PREFIX = "/v1"


class AccountCredentials(BaseModel):
    """Log in as an account (``LogInByAccount``); the client keeps one shared session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_name: str = Field(min_length=1)
    password: SecretStr

    def password_hash(self) -> str:
        """Return the lowercase SHA-512 hex ZStack's login API wants instead of the password."""
        return hashlib.sha512(self.password.get_secret_value().encode()).hexdigest()


class AccessKeyCredentials(BaseModel):
    """Sign every request with an AccessKey (stateless; no session, nothing to log out)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    access_key_id: str = Field(min_length=1)
    access_key_secret: SecretStr


Credentials = AccountCredentials | AccessKeyCredentials


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(now: datetime | None = None, zone: tzinfo = UTC) -> str:
    """The AccessKey ``Date`` header: ``EEE, dd MMM yyyy HH:mm:ss z`` in the node's zone.

    In UTC it is the RFC 1123 date, e.g. ``Mon, 02 Jan 2006 15:04:05 GMT``. Elsewhere it is the
    node's local wall clock labelled with its offset, e.g. ``Mon, 02 Jan 2006 23:04:05
    GMT+08:00``: a node with ``rest.checkTimeZone=false`` (the default) compares only the wall
    clock and ignores the label, and one with ``true`` reads the label, which Java's ``z``
    pattern parses as an offset without the ambiguity of abbreviations like ``CST``.
    """
    local = (now or datetime.now(UTC)).astimezone(zone)
    offset = local.utcoffset() or timedelta(0)
    label = "GMT"
    if offset:
        minutes = int(abs(offset).total_seconds()) // 60
        label = f"GMT{'-' if offset < timedelta(0) else '+'}{minutes // 60:02}:{minutes % 60:02}"
    return (
        f"{_DAYS[local.weekday()]}, {local.day:02} {_MONTHS[local.month - 1]} {local.year} "
        f"{local:%H:%M:%S} {label}"
    )


def sign_access_key(secret: str, method: str, date: str, path: str) -> str:
    """Sign ``METHOD, Date, /v1<path>`` (newline-joined) with HMAC-SHA1 and base64 it.

    The query string is not signed.

    ``path`` is relative to ``/zstack/v1`` (e.g. ``/ai/model-services``), as ZStack's Java SDK
    signs ``"/v1" + path``.
    """
    uri = API_PREFIX + path.split("?", 1)[0]
    to_sign = f"{method.upper()}\n{date}\n{uri}"
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def access_key_headers(
    credentials: AccessKeyCredentials,
    method: str,
    path: str,
    now: datetime | None = None,
    zone: tzinfo = UTC,
) -> dict[str, str]:
    """Build the ``Authorization`` and ``Date`` headers of one AccessKey-signed request.

    The signature covers the very ``Date`` text sent, in the node's ``zone``.
    """
    date = http_date(now, zone)
    signature = sign_access_key(
        credentials.access_key_secret.get_secret_value(), method, date, path
    )
    return {
        "Authorization": f"ZStack {credentials.access_key_id}:{signature}",
        "Date": date,
    }
