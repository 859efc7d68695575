"""The model endpoints of running deployments, served by the simulator itself.

Owned here: ``GET|POST /_sim/endpoints/{instanceUuid}/...``, where a running instance's
``url``, ``internalUrl`` and ``urlMaps`` point (``ai_inventory``). Any path below an instance
answers 200 with a small JSON naming the instance, its group, model and model service, so a
test can call the URL an inventory names; an instance that is not ``Running`` yet (or
``Failed``) answers 503 with its status, and an unknown or deleted one 404. Like the rest of
``/_sim`` it needs no credential and is never counted or faulted: it stands for the model's
own server, not for ZStack. Mounted by ``admin.add_routes``.
"""

from __future__ import annotations

import time

from aiohttp import web

from .ai_inventory import RUNNING, group_status
from .runtime import CONTEXT_KEY


async def endpoint(request: web.Request) -> web.Response:
    """Answer a request to a deployed instance's URL."""
    ctx = request.app[CONTEXT_KEY]
    instance_uuid = request.match_info["instance"]
    for group in ctx.state.ai.groups.values():
        if any(inst["uuid"] == instance_uuid for inst in group.instances):
            break
    else:
        return web.json_response({"error": f"no instance {instance_uuid}"}, status=404)
    status, _ = group_status(group, time.time())
    body = {
        "instanceUuid": instance_uuid,
        "groupUuid": group.uuid,
        "modelUuid": group.fields.get("modelUuid"),
        "modelServiceUuid": group.model_service_uuid,
        "status": status,
        "path": "/" + request.match_info.get("tail", ""),
    }
    return web.json_response(body, status=200 if status == RUNNING else 503)


def add_routes(app: web.Application) -> None:
    """Mount the endpoint routes (before the API catch-all)."""
    for method in ("GET", "POST"):
        app.router.add_route(method, "/_sim/endpoints/{instance}", endpoint)
        app.router.add_route(method, "/_sim/endpoints/{instance}/{tail:.*}", endpoint)
