"""The AI lifecycle calls of the client: model centers, models, deployments.

Owned here: ``AiApi``, which ``ZStackClient`` exposes as ``client.ai``, with the exact request
envelopes of ZSTACK-AI-LIFECYCLE.md section 1: ``{"param": ...}`` for AddModelCenter and
AddModel (plus top-level ``systemTags``/``userTags``), ``{"updateModelCenter": ...}``,
``{"updateModel": ...}``, ``{"deployModelService": ...}`` on the model service's URL,
``{"updateModelServiceInstanceGroup": {"name"}}`` on ``/model-service-instance-groups/{uuid}``
(no ``/ai``), and queries with ``q=`` conditions (the group query's path ends in ``/``; a single
resource is ``q=uuid=<uuid>``, since the AI APIs serve no ``GET .../{uuid}``). Mutations go
through the client's job runner, so they share its ``X-Job-UUID`` handling, polling, retries,
re-login and typed errors; inventories are parsed in the node's zone. Crash-safe recovery:
pass ``job_uuid`` (derived from something stable) and, after a restart, ``wait_deployment``
(or ``wait`` for the other APIs) picks the job up; a 5.1.20 Deploy takes no ``resourceUuid``,
so the job uuid is its only handle (once the job has expired, query the service's groups).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from .ai_models import (
    AddModelCenterParam,
    AddModelParam,
    DeployModelServiceParam,
    ModelCenterInventory,
    ModelInventory,
    ModelServiceInstanceGroupInventory,
    UpdateModelCenterParam,
    UpdateModelParam,
    UpdateModelServiceInstanceGroupParam,
)
from .dispatch import Call, Dispatcher
from .errors import ZStackRESTError
from .jobs import JobRunner
from .models import DeleteMode
from .transport import Params

_CENTERS = "/ai/model-centers"
_MODELS = "/ai/models"
#: The SDK's path, trailing slash included: without it the REST server has no mapping.
_GROUPS = "/ai/model-services/instances/groups/"
_GROUP_RENAME = "/model-service-instance-groups"
DEPLOY_API = "DeployModelService"

Inv = TypeVar("Inv", bound=BaseModel)


def _tags_body(
    body: dict[str, Any], system_tags: Sequence[str] | None, user_tags: Sequence[str] | None
) -> dict[str, Any]:
    if system_tags is not None:
        body["systemTags"] = list(system_tags)
    if user_tags is not None:
        body["userTags"] = list(user_tags)
    return body


class AiApi:
    """Model centers, models and deployments of one ZStack endpoint (``client.ai``)."""

    def __init__(self, dispatcher: Dispatcher, jobs: JobRunner) -> None:
        self._dispatcher = dispatcher
        self._jobs = jobs

    def _parse(self, model: type[Inv], result: dict[str, Any], api: str) -> Inv:
        inventory = result.get("inventory")
        if not isinstance(inventory, dict):
            raise ZStackRESTError(200, "the reply has no inventory", api=api)
        return model.model_validate(inventory, context=self._dispatcher.node_time.context())

    async def _mutate(self, model: type[Inv], call: Call, wait: float | None) -> Inv:
        return self._parse(model, await self._jobs.mutate(call, wait=wait), call.api)

    async def _query(
        self,
        model: type[Inv],
        path: str,
        api: str,
        conditions: Sequence[str],
        limit: int | None,
        start: int | None,
        sort: str | None,
    ) -> list[Inv]:
        params: Params = [("q", condition) for condition in conditions]
        for key, value in (("limit", limit), ("start", start), ("sort", sort)):
            if value is not None:
                params.append((key, str(value)))
        body = (await self._dispatcher.send(Call("GET", path, api=api, params=params))).reply.obj()
        context = self._dispatcher.node_time.context()
        return [model.model_validate(i, context=context) for i in body.get("inventories", [])]

    # -- model centers ---------------------------------------------------------------------

    async def add_model_center(
        self, param: AddModelCenterParam, *, job_uuid: str | None = None, wait: float | None = None
    ) -> ModelCenterInventory:
        """AddModelCenter: ``POST /ai/model-centers`` ``{"param": ...}``."""
        call = Call(
            "POST", _CENTERS, api="AddModelCenter", body={"param": param.wire()}, job_uuid=job_uuid
        )
        return await self._mutate(ModelCenterInventory, call, wait)

    async def update_model_center(
        self,
        uuid: str,
        param: UpdateModelCenterParam,
        *,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> ModelCenterInventory:
        """UpdateModelCenter: ``PUT /ai/model-centers/{uuid}`` with only the given fields."""
        body = {"updateModelCenter": param.wire()}
        call = Call(
            "PUT", f"{_CENTERS}/{uuid}", api="UpdateModelCenter", body=body, job_uuid=job_uuid
        )
        return await self._mutate(ModelCenterInventory, call, wait)

    async def delete_model_center(
        self, uuid: str, *, job_uuid: str | None = None, wait: float | None = None
    ) -> None:
        """DeleteModelCenter: ``DELETE /ai/model-centers/{uuid}`` (it has no ``deleteMode``)."""
        call = Call("DELETE", f"{_CENTERS}/{uuid}", api="DeleteModelCenter", job_uuid=job_uuid)
        await self._jobs.mutate(call, wait=wait)

    async def query_model_centers(
        self,
        conditions: Sequence[str] = (),
        *,
        limit: int | None = None,
        start: int | None = None,
        sort: str | None = None,
    ) -> list[ModelCenterInventory]:
        """QueryModelCenter: ``GET /ai/model-centers?q=...`` (conditions ANDed)."""
        return await self._query(
            ModelCenterInventory, _CENTERS, "QueryModelCenter", conditions, limit, start, sort
        )

    async def get_model_center(self, uuid: str) -> ModelCenterInventory | None:
        """The model center with this uuid, or None."""
        found = await self.query_model_centers([f"uuid={uuid}"])
        return next((c for c in found if c.uuid == uuid), None)

    # -- models ----------------------------------------------------------------------------

    async def add_model(
        self,
        param: AddModelParam,
        *,
        system_tags: Sequence[str] | None = None,
        user_tags: Sequence[str] | None = None,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> ModelInventory:
        """AddModel: ``POST /ai/models`` ``{"param", "systemTags", "userTags"}``.

        ``param.resource_uuid`` makes it idempotent: a taken uuid is ``SYS.1000``.
        """
        body = _tags_body({"param": param.wire()}, system_tags, user_tags)
        call = Call("POST", _MODELS, api="AddModel", body=body, job_uuid=job_uuid)
        return await self._mutate(ModelInventory, call, wait)

    async def update_model(
        self,
        uuid: str,
        param: UpdateModelParam,
        *,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> ModelInventory:
        """UpdateModel: ``PUT /ai/models/{uuid}`` ``{"updateModel": ...}``."""
        body = {"updateModel": param.wire()}
        call = Call("PUT", f"{_MODELS}/{uuid}", api="UpdateModel", body=body, job_uuid=job_uuid)
        return await self._mutate(ModelInventory, call, wait)

    async def delete_model(
        self,
        uuid: str,
        *,
        mode: DeleteMode = DeleteMode.PERMISSIVE,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> None:
        """DeleteModel: ``DELETE /ai/models/{uuid}?deleteMode=<mode>``."""
        params: Params = [("deleteMode", DeleteMode(mode).value)]
        call = Call(
            "DELETE", f"{_MODELS}/{uuid}", api="DeleteModel", params=params, job_uuid=job_uuid
        )
        await self._jobs.mutate(call, wait=wait)

    async def query_models(
        self,
        conditions: Sequence[str] = (),
        *,
        limit: int | None = None,
        start: int | None = None,
        sort: str | None = None,
    ) -> list[ModelInventory]:
        """QueryModel: ``GET /ai/models?q=...`` (a normal account sees its own)."""
        return await self._query(
            ModelInventory, _MODELS, "QueryModel", conditions, limit, start, sort
        )

    async def get_model(self, uuid: str) -> ModelInventory | None:
        """The model with this uuid, or None (also when another account owns it)."""
        found = await self.query_models([f"uuid={uuid}"])
        return next((m for m in found if m.uuid == uuid), None)

    # -- deployments -----------------------------------------------------------------------

    async def deploy_model_service(
        self,
        service_uuid: str,
        param: DeployModelServiceParam,
        *,
        system_tags: Sequence[str] | None = None,
        user_tags: Sequence[str] | None = None,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> ModelServiceInstanceGroupInventory:
        """DeployModelService: ``PUT /ai/model-services/{uuid}`` ``{"deployModelService": ...}``.

        Returns the new instance group as the job left it (typically not ``Running`` yet:
        poll ``get_instance_group``). A 5.1.20 node ignores ``param.resource_uuid``.
        """
        body = _tags_body({"deployModelService": param.wire()}, system_tags, user_tags)
        call = Call(
            "PUT", f"/ai/model-services/{service_uuid}", api=DEPLOY_API, body=body,
            job_uuid=job_uuid,
        )  # fmt: skip
        return await self._mutate(ModelServiceInstanceGroupInventory, call, wait)

    async def wait_deployment(
        self,
        job_uuid: str,
        *,
        # Not asyncio.timeout: expiry must raise JobTimeoutError naming the job.
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> ModelServiceInstanceGroupInventory:
        """Resume a DeployModelService job by the uuid it was sent with (e.g. after a restart).

        Raises the job's ``ZStackAPIError`` if it failed, ``JobExpiredError`` if ZStack no
        longer knows it (query the service's groups instead) and ``JobTimeoutError``.
        """
        result = await self._jobs.resume(
            job_uuid, api=DEPLOY_API, timeout=self._jobs.deadline(timeout)
        )
        await self._dispatcher.ensure_zone()
        return self._parse(ModelServiceInstanceGroupInventory, result, DEPLOY_API)

    async def wait_job(
        self,
        job_uuid: str,
        *,
        api: str,
        # Not asyncio.timeout: expiry must raise JobTimeoutError naming the job.
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Resume any AI job by the uuid it was sent with; its result object (``{}`` for deletes).

        Raises the job's ``ZStackAPIError``, ``JobExpiredError`` (unknown or expired) or
        ``JobTimeoutError``, as ``wait_deployment`` does.
        """
        return await self._jobs.resume(job_uuid, api=api, timeout=self._jobs.deadline(timeout))

    async def query_instance_groups(
        self,
        conditions: Sequence[str] = (),
        *,
        limit: int | None = None,
        start: int | None = None,
        sort: str | None = None,
    ) -> list[ModelServiceInstanceGroupInventory]:
        """QueryModelServiceInstanceGroup: ``GET /ai/model-services/instances/groups/?q=...``."""
        return await self._query(
            ModelServiceInstanceGroupInventory, _GROUPS, "QueryModelServiceInstanceGroup",
            conditions, limit, start, sort,
        )  # fmt: skip

    async def get_instance_group(self, uuid: str) -> ModelServiceInstanceGroupInventory | None:
        """The instance group with this uuid, or None."""
        found = await self.query_instance_groups([f"uuid={uuid}"])
        return next((g for g in found if g.uuid == uuid), None)

    async def update_instance_group(
        self, uuid: str, name: str, *, job_uuid: str | None = None, wait: float | None = None
    ) -> ModelServiceInstanceGroupInventory:
        """UpdateModelServiceInstanceGroup (a rename): ``PUT /model-service-instance-groups/``."""
        param = UpdateModelServiceInstanceGroupParam(name=name)
        call = Call(
            "PUT", f"{_GROUP_RENAME}/{uuid}", api="UpdateModelServiceInstanceGroup",
            body={"updateModelServiceInstanceGroup": param.wire()}, job_uuid=job_uuid,
        )  # fmt: skip
        return await self._mutate(ModelServiceInstanceGroupInventory, call, wait)

    async def delete_instance_group(
        self,
        uuid: str,
        *,
        mode: DeleteMode = DeleteMode.PERMISSIVE,
        job_uuid: str | None = None,
        wait: float | None = None,
    ) -> None:
        """DeleteModelServiceInstanceGroup: ``DELETE .../instances/groups/{uuid}?deleteMode=``."""
        params: Params = [("deleteMode", DeleteMode(mode).value)]
        call = Call(
            "DELETE", f"{_GROUPS}{uuid}", api="DeleteModelServiceInstanceGroup", params=params,
            job_uuid=job_uuid,
        )  # fmt: skip
        await self._jobs.mutate(call, wait=wait)
