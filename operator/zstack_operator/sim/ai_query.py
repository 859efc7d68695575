"""The AI lifecycle Query APIs' common path: identity filter, ZStack query language, schema.

Owned here: ``query_reply``, what QueryModelCenter, QueryModel and
QueryModelServiceInstanceGroup share with QueryModelService: the credential is evaluated
(``ID.1001``), a ``uuid=``/``uuid?=`` condition becomes a lookup, a normal account sees only
what it owns when the resource has owners (the identity filter, applied before any condition,
ZSTACK-AI-LIFECYCLE.md 8.3), then ``query.run_query`` filters, sorts and pages, and the reply
carries its ``schema``. Used by ``centers_api``, ``models_api`` and ``deploy_api``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from aiohttp import web

from . import accounts
from .auth import authenticate, credential
from .query import InventorySchema, candidate_uuids, run_query, spec_for
from .request import ApiRequest
from .runtime import SimContext, sync_call
from .schema import NESTED_OF, inventories_schema
from .tags_api import tag_lookup


class _Stored(Protocol):
    uuid: str
    seq: int


R = TypeVar("R", bound=_Stored)


def query_reply(
    ctx: SimContext,
    req: ApiRequest,
    table: Mapping[str, R],
    render: Callable[[R], dict[str, Any]],
    schema: InventorySchema,
    owner: Callable[[R], str] | None,
) -> web.Response:
    """Answer a synchronous Query API over ``table``; ``owner`` None: every account sees all."""
    cred = credential(ctx, req)
    spec = spec_for(None, req.query.items())

    def reply() -> dict[str, Any]:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        wanted = candidate_uuids(spec)
        records: Iterable[R] = table.values()
        if wanted is not None:
            records = sorted((table[u] for u in wanted if u in table), key=lambda r: r.seq)
        if owner is not None and not accounts.is_admin(caller):
            records = [rec for rec in records if owner(rec) == caller]
        inventories = (render(rec) for rec in records)
        result = run_query(spec, inventories, schema, tag_lookup(ctx), ctx.clock.zone)
        result["schema"] = inventories_schema(
            result.get("inventories") or (),
            schema.class_name,
            NESTED_OF.get(schema.class_name, {}),
        )
        return result

    return sync_call(reply)
