"""The ``"schema"`` class maps ZStack's ``JsonSchemaBuilder`` adds to replies.

Query replies always carry one (``{}`` when nothing matched); a job's result carries one when
the request had ``X-JSON-Schema: true`` (ZSTACK-API.md section 10 row 8). Keys are paths into
the reply (``inventories[0]``, ``inventory.modelServiceRefs[1]``), values Java class names,
nested objects before their parent. Which classes the closed AI module's results name is
presumed from the SDK's package. Used by ``services_api``, ``accounts_api``, ``tags_api`` and
``jobs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_AI = "org.zstack.ai.entity"
MODEL_SERVICE_CLASS = f"{_AI}.ModelServiceInventory"
#: Nested list-of-object fields of a model service and their classes.
MODEL_SERVICE_NESTED: Mapping[str, str] = {
    "modelServiceRefs": f"{_AI}.ModelServiceRefInventory",
    "modelServiceImages": f"{_AI}.ModelServiceImageInventory",
}
MODEL_CENTER_CLASS = f"{_AI}.ModelCenterInventory"
MODEL_CLASS = f"{_AI}.ModelInventory"
GROUP_CLASS = f"{_AI}.ModelServiceInstanceGroupInventory"
MODEL_NESTED: Mapping[str, str] = {"modelServiceRefs": f"{_AI}.ModelServiceRefInventory"}
GROUP_NESTED: Mapping[str, str] = {
    "instances": f"{_AI}.ModelServiceInstanceInventory",
    "datasetRefInventories": f"{_AI}.ModelServiceGroupDatasetRefInventory",
}
#: The nested classes of each inventory class that has list-of-object fields.
NESTED_OF: Mapping[str, Mapping[str, str]] = {
    MODEL_SERVICE_CLASS: MODEL_SERVICE_NESTED,
    MODEL_CLASS: MODEL_NESTED,
    GROUP_CLASS: GROUP_NESTED,
}
ACCOUNT_CLASS = "org.zstack.header.identity.AccountInventory"
SESSION_CLASS = "org.zstack.header.identity.SessionInventory"
USER_TAG_CLASS = "org.zstack.header.tag.UserTagInventory"
#: The inventory class of each asynchronous API's ``{"inventory": ...}`` result.
RESULT_CLASSES: Mapping[str, str] = {
    "AddModelService": MODEL_SERVICE_CLASS,
    "UpdateModelService": MODEL_SERVICE_CLASS,
    "BindModelToService": MODEL_SERVICE_CLASS,
    "UnbindModelFromService": MODEL_SERVICE_CLASS,
    "RenewSession": SESSION_CLASS,
    "CreateAccount": ACCOUNT_CLASS,
    "CreateUserTag": USER_TAG_CLASS,
    "AddModelCenter": MODEL_CENTER_CLASS,
    "UpdateModelCenter": MODEL_CENTER_CLASS,
    "AddModel": MODEL_CLASS,
    "UpdateModel": MODEL_CLASS,
    "DeployModelService": GROUP_CLASS,
    "UpdateModelServiceInstanceGroup": GROUP_CLASS,
}


def _one(path: str, inv: Mapping[str, Any], cls: str, nested: Mapping[str, str]) -> dict[str, str]:
    schema: dict[str, str] = {}
    for key, sub in nested.items():
        for j, _ in enumerate(inv.get(key) or ()):
            schema[f"{path}.{key}[{j}]"] = sub
    schema[path] = cls
    return schema


def inventories_schema(
    inventories: Iterable[Mapping[str, Any]], cls: str, nested: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The schema of a query reply's ``inventories``."""
    schema: dict[str, str] = {}
    for i, inv in enumerate(inventories):
        schema.update(_one(f"inventories[{i}]", inv, cls, nested or {}))
    return schema


def result_schema(api: str, body: Mapping[str, Any]) -> dict[str, str]:
    """The schema of a job's result (``{}`` for results without an inventory)."""
    inventory = body.get("inventory")
    cls = RESULT_CLASSES.get(api)
    if not isinstance(inventory, Mapping) or cls is None:
        return {}
    return _one("inventory", inventory, cls, NESTED_OF.get(cls, {}))
