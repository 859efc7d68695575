"""The management node's information APIs the simulator answers: GetVersion, GetPlatformTimeZone.

``PUT /v1/management-nodes/actions`` is shared by several APIs that ZStack tells apart by the
body key (ZSTACK-AI-LIFECYCLE.md section 7); only ``getVersion`` is simulated. Without a body
the lookup of the key fails, a 500 (``request.put_body``); a body without a known key is the
REST layer's plain-text 400. It is ``@SuppressCredentialCheck``: no Authorization header is
read, and it answers synchronously with the reply fields at the top level: ``{"version":
SimConfig.zstack_version}``.

GetPlatformTimeZone (``GET /v1/management-nodes/platform-timezone``) needs a credential and
answers ``{"timezone": <IANA name>, "offset": "+08:00"}`` for ``--time-zone``: the field names
are section 7's, their formats are not public (the simulator's choice). Routed by ``app``.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .auth import authenticate, credential
from .errorcodes import RestError
from .request import ApiRequest, json_response
from .runtime import SimContext, sync_call


async def get_version(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/management-nodes/actions ``{"getVersion": {}}`` -> 200 ``{"version": ...}``."""
    body = req.put_body()
    req.job_uuid()
    if "getVersion" not in body:
        raise RestError(400, f"the body doesn't contain action mapping to the URL[{req.path}]")
    req.param(body, "getVersion")
    return json_response(200, {"version": ctx.config.zstack_version})


async def get_platform_time_zone(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/management-nodes/platform-timezone -> 200 ``{"timezone", "offset"}``."""
    cred = credential(ctx, req)

    def reply() -> dict[str, Any]:
        authenticate(ctx.state, cred, ctx.config.session_timeout)
        return {"timezone": ctx.clock.name, "offset": ctx.clock.offset(time.time())}

    return sync_call(reply)
