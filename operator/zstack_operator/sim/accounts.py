"""Who is who in the simulator: the built-in admin, normal accounts, and who owns what.

Owned here: the account directory (the built-in admin, described by ``SimConfig``, plus the
normal accounts ``State`` keeps), creating accounts (CreateAccount, ``POST /_sim/accounts`` and
``--tenant``), and the tenancy rules of ZSTACK-AI-LIFECYCLE.md section 8. The rules as ZStack's
open code has them: only the built-in admin's *uuid* bypasses them (an account created with
``type=SystemAdmin`` is filtered like any other, ``IdentityZQLExtension``); a model service
belongs to the account that created it, and so do models and instance groups; a resource
without an owner record (zones, model centers, accounts) counts as the admin's. Used by the
API modules and ``admin``.
"""

from __future__ import annotations

import hashlib
import time

from .config import ADMIN_ACCOUNT_UUID
from .errorcodes import ApiError, failure, not_found, operation_denied
from .records import SERVICE_VO, AccountRecord, ServiceRecord
from .runtime import SimContext
from .state import new_uuid

NORMAL = "Normal"
SYSTEM_ADMIN = "SystemAdmin"
ACCOUNT_TYPES = (SYSTEM_ADMIN, NORMAL)


def hash_password(plain: str) -> str:
    """What ZStack stores and login sends: the lowercase SHA-512 hex of the password."""
    return hashlib.sha512(plain.encode()).hexdigest()


def is_admin(account_uuid: str) -> bool:
    """True for the built-in admin only (``AccountConstant.isAdminPermission``)."""
    return account_uuid == ADMIN_ACCOUNT_UUID


def admin_account(ctx: SimContext) -> AccountRecord:
    """The built-in admin as an account record (its login comes from ``SimConfig``)."""
    return AccountRecord(
        uuid=ADMIN_ACCOUNT_UUID,
        name=ctx.config.account,
        password=hash_password(ctx.config.password),
        type=SYSTEM_ADMIN,
        create_date=ctx.started_at,
        last_op_date=ctx.started_at,
    )


def all_accounts(ctx: SimContext) -> list[AccountRecord]:
    """The admin first, then every normal account in creation order."""
    return [admin_account(ctx), *ctx.state.accounts.values()]


def by_name(ctx: SimContext, name: str) -> AccountRecord | None:
    """The account called ``name`` (names are unique, as CreateAccount enforces)."""
    return next((a for a in all_accounts(ctx) if a.name == name), None)


def by_uuid(ctx: SimContext, uuid: str) -> AccountRecord | None:
    """The account with this uuid, the admin included."""
    if is_admin(uuid):
        return admin_account(ctx)
    return ctx.state.accounts.get(uuid)


def name_taken(name: str) -> ApiError:
    """CreateAccount's refusal of a name in use (``AccountManagerImpl#validate``)."""
    return failure("SYS.1007", f"unable to create an account. An account already called {name}")


def create(
    ctx: SimContext,
    name: str,
    password_hash: str,
    *,
    account_type: str = NORMAL,
    uuid: str | None = None,
    description: str | None = None,
) -> AccountRecord:
    """Store a new account; ``SYS.1007`` if the name is taken (the admin's too)."""
    if by_name(ctx, name) is not None:
        raise name_taken(name)
    now = time.time()
    rec = AccountRecord(
        uuid=uuid or new_uuid(),
        name=name,
        password=password_hash,
        type=account_type,
        create_date=now,
        last_op_date=now,
        description=description,
    )
    ctx.state.save_account(rec)
    return rec


def ensure_tenants(ctx: SimContext) -> None:
    """Create the ``--tenant`` accounts that do not exist yet.

    One that exists gets the configured password: the command line is the truth on every start.
    """
    for name, password in ctx.config.tenants:
        if name == ctx.config.account:
            raise ValueError(f"tenant {name!r} has the built-in admin's name")
        existing = by_name(ctx, name)
        if existing is None:
            create(ctx, name, hash_password(password))
        elif existing.password != hash_password(password):
            existing.password = hash_password(password)
            existing.last_op_date = time.time()
            ctx.state.save_account(existing)


def visible(caller: str, owner: str) -> bool:
    """Whether a query by ``caller`` shows a resource owned by ``owner`` (identity filter)."""
    return is_admin(caller) or caller == owner


def check_service_owner(ctx: SimContext, caller: str, rec: ServiceRecord) -> None:
    """``ID.1002`` when a normal account acts on another account's model service."""
    check_owner(ctx, caller, rec.uuid, rec.owner, SERVICE_VO)


def check_owner(ctx: SimContext, caller: str, uuid: str, owner_uuid: str, vo_type: str) -> None:
    """``ID.1002`` when a normal account acts on another account's resource."""
    if visible(caller, owner_uuid):
        return
    owner = by_uuid(ctx, owner_uuid)
    raise operation_denied(uuid, vo_type, owner.name if owner else "", owner_uuid, caller)


def resource_owner(ctx: SimContext, uuid: str, field: str) -> str:
    """The owner of any resource a tag may name; ``SYS.1003`` (``ResourceVO``) if unknown.

    Model services, models and instance groups have owner records; every other known
    resource counts as the admin's, as ZStack treats a resource without an
    ``AccountResourceRefVO`` row.
    """
    state = ctx.state
    owned = state.services.get(uuid) or state.ai.models.get(uuid) or state.ai.groups.get(uuid)
    if owned is not None:
        return owned.owner
    if uuid in state.zones or uuid in state.ai.centers or by_uuid(ctx, uuid) is not None:
        return ADMIN_ACCOUNT_UUID
    raise not_found(field, uuid, "ResourceVO")
