"""Authentication of API calls: session (``OAuth``) and AccessKey (``ZStack``) credentials.

Split like ZStack (ZSTACK-API.md 1.2, 1.4): ``read_credential`` is the REST layer and refuses
malformed headers with plain text (400 for a missing or unknown Authorization, a missing or
unparsable Date; 403 ``requestTimeTooSkewed`` beyond 15 minutes of skew). ``authenticate`` is
the API pipeline: an unknown or expired session is ``ID.1001``; an unknown access key or a wrong
signature is ``ID.1000`` (the real signature check is closed source; this choice is
documented in docs/simulator.md). A valid session is extended by the session timeout on every
call (sliding expiry). Both kinds of credential name an account: ``authenticate`` answers with
its uuid, which the API modules use for ownership and the query identity filter. Used by every
API module that needs a credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from .errorcodes import RestError, failure, session_expired
from .state import State

#: ``RestConstants.REQUEST_DURATION_MINUTES``: allowed clock skew of AccessKey requests.
MAX_SKEW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Credential:
    """What the Authorization header carried; secrets stay out of ``repr``."""

    session_uuid: str | None = field(default=None, repr=False)
    access_key_id: str | None = None
    signature: str | None = field(default=None, repr=False)
    #: ``METHOD\\nDate\\n/v1/path``, what the signature must cover.
    string_to_sign: str = field(default="", repr=False)


def read_credential(method: str, path: str, headers: dict[str, str], now: float) -> Credential:
    """REST-layer parsing of ``Authorization`` (and ``Date`` for access keys)."""
    auth = headers.get("authorization")
    if auth is None:
        raise RestError(400, "missing header 'Authorization'")
    auth = auth.strip()
    if auth.startswith("OAuth"):
        return Credential(session_uuid=auth.removeprefix("OAuth").strip())
    if not auth.startswith("ZStack "):
        raise RestError(400, "Authorization type must be 'OAuth' or 'ZStack'")
    key_and_signature = auth.removeprefix("ZStack ").strip()
    if key_and_signature.count(":") != 1:
        raise RestError(
            400, "Invalid header[Authorization], it must be 'ZStack AccessKeyId:Signature'"
        )
    key_id, signature = key_and_signature.split(":")
    date = headers.get("date")
    if date is None:
        raise RestError(400, "missing header 'Date'")
    try:
        sent = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        raise RestError(400, f"Invalid header[Date]: {date}") from None
    if abs(now - sent) > MAX_SKEW_SECONDS:
        raise RestError(403, "requestTimeTooSkewed")
    return Credential(
        access_key_id=key_id, signature=signature, string_to_sign=f"{method}\n{date}\n{path}"
    )


def sign(secret: str, string_to_sign: str) -> str:
    """ZStack's AccessKey signature: Base64(HMAC-SHA1(secret, StringToSign))."""
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def authenticate(state: State, cred: Credential, session_timeout: float) -> str:
    """API-pipeline check of a credential; returns the caller's account uuid.

    A valid session is extended (sliding expiry).
    """
    now = time.time()
    if cred.access_key_id is not None:
        secret = state.access_keys.get(cred.access_key_id)
        if secret is None:
            raise failure("ID.1000", f"access key[{cred.access_key_id}] is not found")
        if not hmac.compare_digest(sign(secret, cred.string_to_sign), cred.signature or ""):
            raise failure("ID.1000", "the signature of the request does not match the access key")
        return state.access_key_accounts[cred.access_key_id]
    session = state.sessions.get(cred.session_uuid or "")
    if session is None or session.expires_at <= now:
        raise session_expired()
    session.expires_at = now + session_timeout
    state.save_session(session)
    return session.account_uuid
