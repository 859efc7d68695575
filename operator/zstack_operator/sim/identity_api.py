"""The identity APIs: login, logout, session renewal and validation.

``LogInByAccount`` finds the account by name (the built-in admin or a normal account, see
``accounts``), compares the password as ZStack stores it (the SHA-512 hex) and opens a session
for that account that expires after the session timeout (extended by every authenticated call,
see ``auth``); an account holding ``max_sessions`` live sessions gets ``ID.1006``
(``identity.session.maxConcurrent``). ``RenewSession`` is asynchronous like every non-query API
(``APIRenewSessionEvent``); its ``sessionUuid`` is an ``@APIParam`` of ``SessionVO``, so an
unknown one is ``SYS.1003`` before the credential is looked at (ZSTACK-API.md section 10 rows
11, 15). Logout and validation are synchronous and need no credential.
Session uuids are credentials: nothing here logs them. Routed by ``app``.
"""

from __future__ import annotations

import functools
import hmac
import time
from typing import Any

from aiohttp import web

from . import accounts
from .auth import authenticate, credential
from .errorcodes import failure, mandatory, not_found, out_of_range, session_expired
from .inventory import session_inventory
from .request import ApiRequest, json_response
from .runtime import Prepared, SimContext, submit, sync_call
from .state import SessionRecord, new_uuid
from .validate import coerce_int

#: ``APIRenewSessionMsg.duration`` range, in seconds.
RENEW_RANGE = (60, 31536000)


def _text(param: dict[str, Any], key: str) -> str | None:
    value = param.get(key)
    return None if value is None else str(value)


async def login(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/accounts/login with ``logInByAccount`` (synchronous, no credential needed)."""
    param = req.param(req.json_body(), "logInByAccount")
    req.job_uuid()

    def reply() -> dict[str, Any]:
        account, password = _text(param, "accountName"), _text(param, "password")
        if account is None:
            raise mandatory("accountName")
        if password is None:
            raise mandatory("password")
        found = accounts.by_name(ctx, account)
        # compare_digest also for an unknown name: the answer must not time which it was.
        stored = found.password if found is not None else ""
        if not hmac.compare_digest(password.encode(), stored.encode()) or found is None:
            raise failure("ID.1000", "wrong account name or password")
        now = time.time()
        live = sum(
            1
            for s in ctx.state.sessions.values()
            if s.account_uuid == found.uuid and s.expires_at > now
        )
        if live >= ctx.config.max_sessions:
            raise failure(
                "ID.1006",
                "Login sessions hit limit of max allowed concurrent login sessions, max "
                f"allowed: {ctx.config.max_sessions}",
            )
        expires = now + ctx.config.session_timeout
        session = SessionRecord(new_uuid(), found.uuid, now, expires)
        ctx.state.save_session(session)
        ctx.counters.logins += 1
        return {"inventory": session_inventory(session, ctx.clock)}

    return sync_call(reply)


async def logout(ctx: SimContext, req: ApiRequest) -> web.Response:
    """DELETE /v1/accounts/sessions/{uuid}: always ``{}``, even for an unknown session."""
    req.job_uuid()
    ctx.state.delete_session(req.vars["uuid"])
    return json_response(200, {})


async def validate_session(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/accounts/sessions/{uuid}/valid: ``{"valid": bool}``; does not extend it."""
    req.job_uuid()
    session = ctx.state.sessions.get(req.vars["uuid"])
    return json_response(200, {"valid": session is not None and session.expires_at > time.time()})


async def renew_session(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/accounts/sessions/{uuid}/renew with ``renewSession`` (asynchronous)."""
    body = req.json_body()
    cred = credential(ctx, req)
    param = req.param(body, "renewSession")
    duration = None if param.get("duration") is None else coerce_int("duration", param["duration"])
    target = req.vars["uuid"]

    def prepare() -> Prepared:
        if duration is not None and not RENEW_RANGE[0] <= duration <= RENEW_RANGE[1]:
            raise out_of_range("duration", *RENEW_RANGE)
        if target not in ctx.state.sessions:
            raise not_found("sessionUuid", target, "SessionVO")
        authenticate(ctx.state, cred, ctx.config.session_timeout)
        _live_session(ctx, target)
        return Prepared({"sessionUuid": target, "duration": duration or ctx.config.session_timeout})

    return await submit(ctx, req, "RenewSession", prepare)


def _live_session(ctx: SimContext, uuid: str) -> SessionRecord:
    session = ctx.state.sessions.get(uuid)
    if session is None or session.expires_at <= time.time():
        raise session_expired()
    return session


def _renew(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    session = _live_session(ctx, payload["sessionUuid"])
    session.expires_at = time.time() + payload["duration"]
    ctx.state.save_session(session)
    return 200, {"inventory": session_inventory(session, ctx.clock)}


def register(ctx: SimContext) -> None:
    """Make the job manager carry out RenewSession jobs."""
    ctx.jobs.register("RenewSession", functools.partial(_renew, ctx))
