"""What a connection resource's status says: can it log in, to which ZStack, as whom.

Owned here: ``probe`` (build the connection, ask ZStack's version — no session needed — the
account the credentials reach, which needs a login, and the model centers that account sees),
``center_entries`` (QueryModelCenter's inventories as bounded status entries) and
``status_patch``, the merge patch of a ZStackConnection's or ClusterZStackConnection's status:
the Ready condition (with kstatus' Reconciling/Stalled beside it), observedGeneration,
zstackVersion, account, accountUuid, lastChecked, usedBy, modelCenters and
modelCentersMessage. Used by ``connection_status`` on every change and on a slow timer.

The model centers are a convenience, not part of Ready: an account that may not query them, or
a ZStack without the AI module, leaves the connection Ready with the last list read and a
message saying why it is stale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .connections import ConnectionPool, CredentialsError
from .resources.common import format_rfc3339
from .resources.connection import CONNECTION_TERMINAL_REASONS, ConnectionReason
from .resources.connectionstatus import MAX_MODEL_CENTERS, ModelCenterEntry
from .status import describe
from .zstack.ai_models import ModelCenterInventory
from .zstack.client import ZStackClient
from .zstack.errors import ErrorKind, ZStackError
from .zstack.models import UUID32_PATTERN

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
    #: The model centers as status entries; None when they could not be read (keep the old).
    centers: tuple[dict[str, Any], ...] | None = None
    #: Why ``centers`` is None or incomplete (modelCentersMessage), else None.
    centers_message: str | None = None

    @property
    def centers_failed(self) -> bool:
        """The login worked but QueryModelCenter did not."""
        return self.ready and self.centers is None


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


def center_entries(found: Iterable[ModelCenterInventory]) -> list[dict[str, Any]]:
    """QueryModelCenter's inventories as status entries, by name then uuid.

    Strings are clipped to the CRD's limits, so one long URL never makes the API server refuse
    the whole status, and an entry without a ZStack uuid (the CRD's pattern) is left out.
    """
    entries = [
        ModelCenterEntry(
            uuid=c.uuid,
            name=_clip(c.name, 255),
            status=_clip(c.status, 64),
            url=_clip(c.url, 2048),
            management_ip=_clip(c.management_ip, 255),
        )
        for c in found
        if re.fullmatch(UUID32_PATTERN, c.uuid)
    ]
    # Case-insensitively, as ZStack's database sorts them.
    entries.sort(key=lambda e: ((e.name or "").casefold(), e.name or "", e.uuid))
    return [e.model_dump(exclude_none=True) for e in entries]


async def read_centers(
    client: ZStackClient,
) -> tuple[tuple[dict[str, Any], ...] | None, str | None]:
    """The model centers ``client``'s account sees, in one request, and a message if stale."""
    try:
        # One more than listed, sorted by ZStack, so a longer list is noticed and the first
        # ones by name are the ones shown.
        found = await client.ai.query_model_centers(limit=MAX_MODEL_CENTERS + 1, sort="+name")
    except ZStackError as exc:
        # The explanation first, so clipping to the CRD's limit cuts only ZStack's detail.
        stale = "QueryModelCenter failed; modelCenters, if any, is from an earlier check"
        message = f"{stale}: {describe(exc)}"
        return None, message[:512]
    entries = center_entries(found)
    more = None
    if len(found) > MAX_MODEL_CENTERS:
        more = f"more than {MAX_MODEL_CENTERS} model centers: the first ones by name are listed"
    return tuple(entries[:MAX_MODEL_CENTERS]), more


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
    centers, centers_message = await read_centers(conn.client)
    return Health(
        True,
        ConnectionReason.CONNECTED,
        f"logged in to ZStack {version} as account {account.name}",
        version=version,
        account=account.name,
        account_uuid=account.uuid,
        centers=centers,
        centers_message=centers_message,
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
        if health.centers is not None:  # else the last list read stays
            patch["modelCenters"] = list(health.centers)
        # None removes the field: a merge patch's null deletes.
        patch["modelCentersMessage"] = health.centers_message
    return patch
