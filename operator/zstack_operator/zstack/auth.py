"""Who the client is to ZStack: one shared session, or AccessKey signatures (ZSTACK-API.md 1).

Owned here: ``SessionAuth`` (account login with the SHA-512 password, ONE session shared by
every concurrent caller, a single-flight login, re-login only when the session that failed is
still current, logout) and ``AccessKeyAuth`` (stateless HMAC-SHA1 signing, with the ``Date``
in the node's zone, ``zstack.nodetime``). Both produce the headers of one request. Used by
``zstack.dispatch`` (every authenticated request) and by ``ZStackClient.aclose`` (logout).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from .credentials import AccessKeyCredentials, AccountCredentials, access_key_headers
from .errors import ZStackError, ZStackRESTError
from .models import SessionInventory
from .nodetime import NodeTime
from .transport import Transport, error_from_reply

log = logging.getLogger(__name__)

LOGIN_API = "LogInByAccount"
LOGOUT_API = "LogOut"


class Authenticator(Protocol):
    """What ``dispatch`` needs from an auth mode."""

    async def authorize(self, method: str, path: str) -> tuple[dict[str, str], str | None]:
        """Headers for one request and the session they carry (None when not session-based)."""

    async def renew(self, failed: str | None) -> bool:
        """React to ``ID.1001`` seen with session ``failed``; False when renewal cannot help."""

    async def close(self) -> None:
        """Give up the identity (logout); never raises."""


class AccessKeyAuth:
    """Signs each request; there is no session to renew or close."""

    def __init__(self, credentials: AccessKeyCredentials, node_time: NodeTime) -> None:
        self.credentials = credentials
        self._node_time = node_time

    async def authorize(self, method: str, path: str) -> tuple[dict[str, str], str | None]:
        """Fresh ``Date`` (node's zone) and signature per request; +-15 min of skew pass."""
        headers = access_key_headers(self.credentials, method, path, zone=self._node_time.zone)
        return headers, None

    async def renew(self, failed: str | None) -> bool:
        """AccessKeys do not expire like sessions: an ``ID.1001`` here is final."""
        return False

    async def close(self) -> None:
        """Nothing to give up."""

    def __repr__(self) -> str:
        return f"AccessKeyAuth(access_key_id={self.credentials.access_key_id!r})"


class SessionAuth:
    """One ZStack session per client, logged in lazily and at most once at a time."""

    def __init__(
        self, credentials: AccountCredentials, transport: Transport, node_time: NodeTime
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._node_time = node_time
        self._session: str | None = None
        self._login_task: asyncio.Task[str] | None = None
        self.logins = 0
        #: The account the last login opened a session for (``SessionInventory.accountUuid``).
        self.account_uuid: str | None = None

    async def authorize(self, method: str, path: str) -> tuple[dict[str, str], str | None]:
        """Return ``Authorization: OAuth <session>``, logging in first if there is no session."""
        session = await self.session()
        return {"Authorization": f"OAuth {session}"}, session

    async def session(self) -> str:
        """Return the current session id; concurrent callers without one share a single login."""
        if self._session is not None:
            return self._session
        task = self._login_task
        if task is None or task.done():
            task = asyncio.create_task(self._login(), name="zstack-login")
            # A login whose waiters were all cancelled must not log "exception never retrieved".
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._login_task = task
        # shield: one cancelled waiter must not cancel the login the others wait for.
        return await asyncio.shield(task)

    async def renew(self, failed: str | None) -> bool:
        """Drop ``failed`` if it is still current, so the next ``session()`` logs in again."""
        if failed is not None and self._session == failed:
            log.info("ZStack session expired; logging in again")
            self._session = None
        return True

    async def _login(self) -> str:
        body = {
            "logInByAccount": {
                "accountName": self._credentials.account_name,
                "password": self._credentials.password_hash(),
            }
        }
        self.logins += 1
        reply = await self._transport.request("PUT", "/accounts/login", api=LOGIN_API, body=body)
        if reply.status != 200:
            raise error_from_reply(reply, LOGIN_API)
        inventory = reply.obj().get("inventory")
        if not isinstance(inventory, dict) or not inventory.get("uuid"):
            raise ZStackRESTError(reply.status, "login reply has no session", api=LOGIN_API)
        parsed = SessionInventory.model_validate(inventory, context=self._node_time.context())
        session = parsed.uuid
        self._transport.redact.add_session(session)
        self._session = session
        self.account_uuid = parsed.account_uuid
        return session

    async def close(self) -> None:
        """Log out (``DELETE /accounts/sessions/{uuid}``) so sessions do not pile up."""
        task, self._login_task = self._login_task, None
        if task is not None and not task.done():
            task.cancel()
        session, self._session = self._session, None
        if session is None or self._transport.closed:
            return
        try:
            reply = await self._transport.request(
                "DELETE", f"/accounts/sessions/{session}", api=LOGOUT_API
            )
        except ZStackError as exc:
            log.warning("ZStack logout failed: %s", exc)
            return
        if reply.status != 200:
            log.warning("ZStack logout failed: %s", error_from_reply(reply, LOGOUT_API))

    def __repr__(self) -> str:
        state = "logged in" if self._session else "logged out"
        return f"SessionAuth(account_name={self._credentials.account_name!r}, {state})"
