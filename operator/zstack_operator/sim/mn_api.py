"""The management node's information API the simulator answers: GetVersion.

``PUT /v1/management-nodes/actions`` is shared by several APIs that ZStack tells apart by the
body key (ZSTACK-AI-LIFECYCLE.md section 7); only ``getVersion`` is simulated, and any other
body is the REST layer's plain-text 400, as for a body without a known key. It is
``@SuppressCredentialCheck``: no Authorization header is read, and it answers synchronously with
the reply fields at the top level: ``{"version": SimConfig.zstack_version}``. Routed by ``app``.
"""

from __future__ import annotations

from aiohttp import web

from .errorcodes import RestError
from .request import ApiRequest, json_response
from .runtime import SimContext


async def get_version(ctx: SimContext, req: ApiRequest) -> web.Response:
    """PUT /v1/management-nodes/actions ``{"getVersion": {}}`` -> 200 ``{"version": ...}``."""
    body = req.json_body()
    req.job_uuid()
    if "getVersion" not in body:
        raise RestError(400, f"the body doesn't contain action mapping to the URL[{req.path}]")
    req.param(body, "getVersion")
    return json_response(200, {"version": ctx.config.zstack_version})
