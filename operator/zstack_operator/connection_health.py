"""What a connection resource's status says: can it log in, to which ZStack, as whom.

Owned here: ``probe`` (build the connection, ask ZStack's version — no session needed — and the
account the credentials reach, which needs a login) and ``status_patch``, the merge patch of a
ZStackConnection's or ClusterZStackConnection's status: the Ready condition (with kstatus'
Reconciling/Stalled beside it), observedGeneration, zstackVersion, account, accountUuid,
lastChecked and usedBy. Used by ``connection_status`` on every change and on a slow timer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .connections import ConnectionPool, CredentialsError
from .resources.common import format_rfc3339
from .resources.connection import CONNECTION_TERMINAL_REASONS, ConnectionReason
from .status import describe
from .zstack.errors import ErrorKind, ZStackError

#: How the pool's reasons read on the connection itself.
_REASONS = {
    "SecretUnreadable": ConnectionReason.SECRET_NOT_FOUND,
    "SecretForbidden": ConnectionReason.SECRET_NOT_FOUND,
}


@dataclass(frozen=True)
class Health:
    """The outcome of one probe."""

    ready: bool
    reason: str
    message: str
    version: str | None = None
    account: str | None = None
    account_uuid: str | None = None


async def probe(pool: ConnectionPool, key: str) -> Health:
    """Log in through ``key`` and say what it reached (or why it could not)."""
    try:
        conn = await pool.get(key)
    except CredentialsError as exc:
        return Health(False, _REASONS.get(exc.reason, exc.reason), str(exc))
    try:
        version = await conn.client.get_version()
        conn.zstack_version = version  # what ModelServices on it then need not ask
        account = await conn.client.current_account()
    except ZStackError as exc:
        reason = ConnectionReason.UNREACHABLE
        if exc.kind is ErrorKind.AUTH:
            reason = ConnectionReason.LOGIN_FAILED
        elif "CERTIFICATE" in str(exc).upper():
            reason = ConnectionReason.TLS_VERIFY_FAILED
        return Health(False, reason, describe(exc))
    return Health(
        True,
        ConnectionReason.CONNECTED,
        f"logged in to ZStack {version} as account {account.name}",
        version=version,
        account=account.name,
        account_uuid=account.uuid,
    )


def _condition(
    old: list[Mapping[str, Any]],
    type_: str,
    ok: bool,
    reason: str,
    message: str,
    gen: int,
    now: str,
) -> dict[str, Any]:
    value = "True" if ok else "False"
    before = next((c for c in old if c.get("type") == type_), None)
    since = before.get("lastTransitionTime") if before and before.get("status") == value else now
    return {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": since or now,
        "observedGeneration": gen,
    }


def status_patch(
    health: Health,
    *,
    generation: int,
    used_by: int,
    old: Mapping[str, Any],
    in_use_message: str | None = None,
) -> dict[str, Any]:
    """The status a probe leaves; ``in_use_message`` while a deletion waits for its users."""
    now = format_rfc3339(datetime.now(UTC))
    conditions = list(old.get("conditions") or [])
    ready, reason, message = health.ready, health.reason, health.message
    if in_use_message is not None:
        ready, reason, message = False, ConnectionReason.IN_USE, in_use_message
    stalled = not ready and reason in CONNECTION_TERMINAL_REASONS
    busy = not ready and not stalled
    new = [
        _condition(conditions, "Ready", ready, reason, message, generation, now),
        _condition(
            conditions, "Reconciling", busy, reason, message if busy else "", generation, now
        ),
        _condition(
            conditions, "Stalled", stalled, reason, message if stalled else "", generation, now
        ),
    ]
    patch: dict[str, Any] = {
        "conditions": new,
        "observedGeneration": generation,
        "lastChecked": now,
        "usedBy": used_by,
    }
    if health.ready:
        patch.update(
            zstackVersion=health.version, account=health.account, accountUuid=health.account_uuid
        )
    return patch
