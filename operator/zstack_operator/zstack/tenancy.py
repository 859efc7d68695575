"""The tenancy calls of the client: GetVersion, the current account, and user tags.

Owned here: the request envelopes and reply handling of GetVersion (``PUT
/management-nodes/actions`` ``{"getVersion": {}}``, no credential, ZSTACK-AI-LIFECYCLE.md 7),
QueryAccount (``GET /accounts``), CreateUserTag (``POST /user-tags`` ``{"params": ...}``),
QueryUserTag (``GET /user-tags?q=resourceUuid=...``) and DeleteTag (``DELETE /tags/{uuid}``),
and how the account behind the credentials is found (section 8: a normal account's QueryAccount
answers only itself; the admin's answers every account, so a session's ``accountUuid`` or, for
an AccessKey, the built-in admin's uuid picks one). ``ZStackClient`` exposes them as methods;
mutations go through the same job runner as the model-service ones.
"""

from __future__ import annotations

from typing import Any

from .dispatch import Call, Dispatcher
from .errors import ZStackRESTError
from .jobs import JobRunner
from .models import ADMIN_ACCOUNT_UUID, AccountInventory, UserTagInventory

GET_VERSION_API = "GetVersion"
QUERY_ACCOUNT_API = "QueryAccount"


async def get_version(dispatcher: Dispatcher) -> str:
    """GetVersion: the management node's version string (``@SuppressCredentialCheck``)."""
    call = Call(
        "PUT",
        "/management-nodes/actions",
        api=GET_VERSION_API,
        body={"getVersion": {}},
        authed=False,
    )
    version = (await dispatcher.send(call)).reply.obj().get("version")
    if not isinstance(version, str):
        raise ZStackRESTError(200, "the reply has no version", api=GET_VERSION_API)
    return version


async def current_account(dispatcher: Dispatcher, session_account: str | None) -> AccountInventory:
    """The account the credentials act as.

    ``session_account`` is the ``accountUuid`` of the session (None for AccessKeys): the query
    then names it. Without it, one answer is the account itself (a normal account sees only
    itself); several mean the admin's view of every account, and the admin is the one meant.
    """
    conditions = [f"uuid={session_account}"] if session_account else []
    params = [("q", condition) for condition in conditions]
    call = Call("GET", "/accounts", api=QUERY_ACCOUNT_API, params=params)
    body = (await dispatcher.send(call)).reply.obj()
    context = dispatcher.node_time.context()
    found = [
        AccountInventory.model_validate(a, context=context) for a in body.get("inventories", [])
    ]
    if len(found) == 1:
        return found[0]
    wanted = session_account or ADMIN_ACCOUNT_UUID
    for account in found:
        if account.uuid == wanted:
            return account
    raise ZStackRESTError(
        200, f"QueryAccount returned {len(found)} accounts, none of them ours", api=call.api
    )


def _tag(result: dict[str, Any], api: str, context: dict[str, Any]) -> UserTagInventory:
    inventory = result.get("inventory")
    if not isinstance(inventory, dict):
        raise ZStackRESTError(200, "the reply has no inventory", api=api)
    return UserTagInventory.model_validate(inventory, context=context)


async def query_user_tags(dispatcher: Dispatcher, resource_uuid: str) -> list[UserTagInventory]:
    """QueryUserTag ``q=resourceUuid=<uuid>``: the user tags of one resource."""
    params = [("q", f"resourceUuid={resource_uuid}")]
    call = Call("GET", "/user-tags", api="QueryUserTag", params=params)
    body = (await dispatcher.send(call)).reply.obj()
    context = dispatcher.node_time.context()
    return [
        UserTagInventory.model_validate(t, context=context) for t in body.get("inventories", [])
    ]


async def create_user_tag(
    jobs: JobRunner,
    resource_uuid: str,
    tag: str,
    *,
    resource_type: str,
    job_uuid: str | None,
    wait: float | None,
    context: dict[str, Any],
) -> UserTagInventory:
    """CreateUserTag: ``POST /user-tags`` ``{"params": {resourceType, resourceUuid, tag}}``."""
    params = {"resourceType": resource_type, "resourceUuid": resource_uuid, "tag": tag}
    call = Call(
        "POST", "/user-tags", api="CreateUserTag", body={"params": params}, job_uuid=job_uuid
    )
    return _tag(await jobs.mutate(call, wait=wait), call.api, context)


async def delete_tag(
    jobs: JobRunner, uuid: str, *, job_uuid: str | None, wait: float | None
) -> None:
    """DeleteTag: ``DELETE /tags/{uuid}`` (user and system tags alike)."""
    call = Call("DELETE", f"/tags/{uuid}", api="DeleteTag", job_uuid=job_uuid)
    await jobs.mutate(call, wait=wait)
