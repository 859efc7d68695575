"""Authentication of API calls: session (``OAuth``) and AccessKey (``ZStack``) credentials.

Split like ZStack (ZSTACK-API.md 1.2, 1.4): ``read_credential`` is the REST layer and refuses
malformed headers with plain text (400 for a missing or unknown Authorization, a missing or
unparsable Date; 403 ``requestTimeTooSkewed`` beyond 15 minutes of skew, measured as the node
does: against its local wall clock, ``clock.NodeClock``). ``authenticate`` is
the API pipeline: an unknown or expired session is ``ID.1001``; an unknown access key or a wrong
signature is ``ID.1000`` (the real signature check is closed source; this choice is
documented in docs/simulator.md). A valid session is extended by the session timeout on every
call (sliding expiry). Both kinds of credential name an account: ``authenticate`` answers with
its uuid, which the API modules use for ownership and the query identity filter;
``peek_account`` tells it without the side effects, for the parameter checks that run before
the credential is evaluated (``checkAccount``). Used by every API module that needs a
credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .clock import NodeClock
from .errorcodes import RestError, failure, session_expired
from .state import State

if TYPE_CHECKING:
    from .request import ApiRequest
    from .runtime import SimContext


@dataclass(frozen=True)
class Credential:
    """What the Authorization header carried; secrets stay out of ``repr``."""

    session_uuid: str | None = field(default=None, repr=False)
    access_key_id: str | None = None
    signature: str | None = field(default=None, repr=False)
    #: ``METHOD\\nDate\\n/v1/path``, what the signature must cover.
    string_to_sign: str = field(default="", repr=False)


def credential(ctx: SimContext, req: ApiRequest) -> Credential:
    """The credential of an API request, read by the REST layer of this simulator's node."""
    return read_credential(req.method, req.path, req.headers, time.time(), ctx.clock)


def read_credential(
    method: str, path: str, headers: dict[str, str], now: float, clock: NodeClock
) -> Credential:
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
    clock.check_date(date, now)
    return Credential(
        access_key_id=key_id, signature=signature, string_to_sign=f"{method}\n{date}\n{path}"
    )


def sign(secret: str, string_to_sign: str) -> str:
    """ZStack's AccessKey signature: Base64(HMAC-SHA1(secret, StringToSign))."""
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def peek_account(state: State, cred: Credential) -> str | None:
    """The account the credential would act as, or None if it would fail; changes nothing."""
    if cred.access_key_id is not None:
        secret = state.access_keys.get(cred.access_key_id)
        if secret is None or not hmac.compare_digest(
            sign(secret, cred.string_to_sign), cred.signature or ""
        ):
            return None
        return state.access_key_accounts[cred.access_key_id]
    session = state.sessions.get(cred.session_uuid or "")
    if session is None or session.expires_at <= time.time():
        return None
    return session.account_uuid


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
