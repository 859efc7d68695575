"""User tags: CreateUserTag, QueryUserTag, DeleteTag, and the tags AddModelService stores.

ZStack's rules as ZSTACK-AI-LIFECYCLE.md section 6 and ``TagApiInterceptor`` have them:
``resourceUuid`` must name a known resource (``SYS.1003``, type ``ResourceVO``); a normal
account may tag only what it owns (``SYS.1006`` ``permission denied, ...``); ``resourceType``
must be an entity the simulator has (``SYS.1007``), and nothing checks that it matches the
uuid's real type; the same text on the same resource and type twice is ``SYS.1006``
``Duplicated Tag[...]``. Tag text is trimmed. Queries show a normal account only the tags of
its own resources. DeleteTag of an unknown uuid succeeds; a caller that is not of type
``SystemAdmin`` may delete only tags of its own resources (``ID.1002``). Tags go with their
resource (``State.delete_service``). Also the tag lookup behind ``q=__userTag__=...``, and
the check of a create's ``tagUuids`` against the tag patterns (``check_tag_uuids``; patterns
come from ``POST /_sim/tag-patterns``). Routed by ``app``; jobs registered by ``register``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from . import accounts
from .auth import authenticate, credential
from .config import ADMIN_ACCOUNT_UUID
from .errorcodes import (
    ApiError,
    failure,
    not_found,
    not_owner,
)
from .inventory import USER_TAG_FIELDS, tag_inventory
from .query import InventorySchema, TagLookup, flat_schema, run_query, spec_for
from .records import SERVICE_VO, TagPatternRecord, TagRecord
from .request import ApiRequest
from .runtime import Prepared, SimContext, submit, sync_call
from .state import new_uuid
from .validate import FieldSpec, check, coerce

USER_TAG_CLASS = "org.zstack.header.tag.UserTagInventory"
USER_TAGS = InventorySchema(USER_TAG_CLASS, USER_TAG_FIELDS)
#: The entities the simulator has, by their JPA names (the AI ones are presumed, 6.2 rule 1).
RESOURCE_TYPES = frozenset(
    {SERVICE_VO, "ModelServiceInstanceGroupVO", "ModelVO", "ModelCenterVO", "AccountVO", "ZoneVO"}
)
_FIELDS = tuple(FieldSpec(name, "str", True) for name in ("resourceType", "resourceUuid", "tag"))


def add_tag_pattern(ctx: SimContext, owner: str, name: str | None = None) -> TagPatternRecord:
    """Store a new tag pattern owned by ``owner`` (``POST /_sim/tag-patterns``)."""
    uuid = new_uuid()
    rec = TagPatternRecord(uuid, name or f"tag-{uuid[:8]}", owner, time.time())
    ctx.state.save_tag_pattern(rec)
    return rec


def check_tag_uuids(ctx: SimContext, tag_uuids: Iterable[str] | None, caller: str | None) -> None:
    """``tagUuids`` on a create (``@APIParam(checkAccount=true, resourceType=TagPatternVO)``).

    Each must name a tag pattern, and one the caller owns unless it is the admin: otherwise
    ``SYS.1003``, the same text either way (which account owns it is not the caller's to
    learn). ``caller`` is None when the credential will fail anyway; then only existence is
    checked, as this runs before the credential is evaluated (ZSTACK-API.md section 10 rows 3,
    5).
    """
    for uuid in tag_uuids or ():
        rec = ctx.state.tag_patterns.get(uuid)
        foreign = rec is not None and caller is not None and not accounts.visible(caller, rec.owner)
        if rec is None or foreign:
            raise not_found("tagUuids", uuid, "TagPatternVO")


def _duplicate(ctx: SimContext, resource_uuid: str, resource_type: str, tag: str) -> None:
    for rec in ctx.state.tags_on(resource_uuid):
        if rec.tag == tag and rec.resource_type == resource_type:
            raise failure(
                "SYS.1006",
                f"Duplicated Tag[tag:{tag}, type:User, resourceType:{resource_type}, "
                f"resourceUuid:{resource_uuid}]",
            )


def _store(ctx: SimContext, resource_uuid: str, resource_type: str, tag: str) -> TagRecord:
    now = time.time()
    rec = TagRecord(new_uuid(), ctx.state.next_seq(), resource_uuid, resource_type, tag, now, now)
    ctx.state.save_tag(rec)
    return rec


def add_user_tags(
    ctx: SimContext, resource_uuid: str, tags: Iterable[str], resource_type: str = SERVICE_VO
) -> None:
    """Store a create message's ``userTags`` on the new resource (a model service by default).

    What ``TagManager.createTagsFromAPICreateMessage`` does; whether the closed AI module calls
    it is unknown (6.3), the simulator does. Blank entries are skipped and repeats stored once,
    where ZStack would fail the create half-way with ``SYS.1006``.
    """
    for tag in dict.fromkeys(t.strip() for t in tags):
        if tag and not any(r.tag == tag for r in ctx.state.tags_on(resource_uuid)):
            _store(ctx, resource_uuid, resource_type, tag)


def tag_lookup(ctx: SimContext) -> TagLookup:
    """What ``__userTag__`` and ``__systemTag__`` conditions are evaluated against.

    User tags are the stored ones; system tags are what AddModelService or AddModel was sent.
    """

    def lookup(name: str, uuid: str) -> Iterable[str]:
        if name == "__userTag__":
            return [rec.tag for rec in ctx.state.tags_on(uuid)]
        created = ctx.state.services.get(uuid) or ctx.state.ai.models.get(uuid)
        return created.extra.get("systemTags", []) if created is not None else []

    return lookup


async def create_user_tag(ctx: SimContext, req: ApiRequest) -> web.Response:
    """POST /v1/user-tags with ``params`` (CreateUserTag, asynchronous)."""
    body = req.json_body()
    cred = credential(ctx, req)
    values = coerce(req.param(body, "params"), _FIELDS)

    def prepare() -> Prepared:
        # Every String param is trimmed before validation (ZSTACK-API.md section 10 row 2).
        params = check(values, _FIELDS)
        resource_type, uuid, tag = (params[s.name] for s in _FIELDS)
        if not tag:
            raise failure("SYS.1007", "field[tag] cannot be an empty string")
        owner = accounts.resource_owner(ctx, uuid, "resourceUuid")
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        if not accounts.visible(caller, owner):
            raise not_owner(caller, uuid, "ResourceVO")
        if resource_type not in RESOURCE_TYPES:
            raise failure("SYS.1007", f"no resource type[{resource_type}] found in tag system")
        _duplicate(ctx, uuid, resource_type, tag)
        return Prepared({"resourceUuid": uuid, "resourceType": resource_type, "tag": tag})

    return await submit(ctx, req, "CreateUserTag", prepare)


def _create(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    # The resource may have gone, or the same tag arrived, while the job ran.
    uuid, resource_type, tag = payload["resourceUuid"], payload["resourceType"], payload["tag"]
    accounts.resource_owner(ctx, uuid, "resourceUuid")
    _duplicate(ctx, uuid, resource_type, tag)
    return 200, {"inventory": tag_inventory(_store(ctx, uuid, resource_type, tag), ctx.clock)}


async def query_user_tags(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/user-tags[/{uuid}] (QueryUserTag, synchronous)."""
    cred = credential(ctx, req)
    spec = spec_for(req.vars.get("uuid"), req.query.items())

    def reply() -> dict[str, Any]:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        records = (
            r for r in ctx.state.tags.values() if accounts.visible(caller, _tag_owner(ctx, r))
        )
        inventories = (tag_inventory(r, ctx.clock) for r in records)
        result = run_query(spec, inventories, USER_TAGS, tag_lookup(ctx), ctx.clock.zone)
        flat_schema(result, USER_TAG_CLASS)
        return result

    return sync_call(reply)


def _tag_owner(ctx: SimContext, rec: TagRecord) -> str:
    """The owner of a tag's resource (a tag never outlives it; if it did, the admin's)."""
    try:
        return accounts.resource_owner(ctx, rec.resource_uuid, "resourceUuid")
    except ApiError:
        return ADMIN_ACCOUNT_UUID


async def delete_tag(ctx: SimContext, req: ApiRequest) -> web.Response:
    """DELETE /v1/tags/{uuid}?deleteMode= (DeleteTag, asynchronous)."""
    cred = credential(ctx, req)
    uuid = req.vars["uuid"]

    def prepare() -> Prepared:
        caller = authenticate(ctx.state, cred, ctx.config.session_timeout)
        rec = ctx.state.tags.get(uuid)
        account = accounts.by_uuid(ctx, caller)
        system_admin = account is not None and account.type == accounts.SYSTEM_ADMIN
        if rec is not None and not system_admin and _tag_owner(ctx, rec) != caller:
            raise failure(
                "ID.1002",
                f"permission denied. The user tag[uuid: {uuid}] refer to a resource not "
                f"belonging to the account[uuid: {caller}]",
            )
        return Prepared({"uuid": uuid})

    return await submit(ctx, req, "DeleteTag", prepare)


def _delete(ctx: SimContext, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ctx.state.delete_tag(payload["uuid"])
    return 200, {}


def register(ctx: SimContext) -> None:
    """Make the job manager carry out tag jobs."""
    ctx.jobs.register("CreateUserTag", functools.partial(_create, ctx))
    ctx.jobs.register("DeleteTag", functools.partial(_delete, ctx))
