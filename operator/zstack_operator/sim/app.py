"""The simulator's HTTP front: routing below ``/zstack``, fault injection and counting.

Every request outside ``/_sim`` comes through ``handle``: it is routed like ZStack's REST server
(unknown path: 404 ``no api mapping to ...``; a method the path does not take: 405), counted
per API and outcome, delayed by the configured latency and possibly refused by an injected fault
(connection reset, 429 with ``Retry-After``, 503 ``SYS.1000``, or an outage that drops every
connection) before the handler (``services_api``, ``identity_api``, ``accounts_api``,
``tags_api``, ``mn_api``, and the AI lifecycle's ``centers_api``, ``models_api``,
``deploy_api``) runs. A URL several APIs share (``PUT /v1/ai/model-services/{uuid}``:
UpdateModelService and DeployModelService) is routed by the body's key. ``build_app`` also
mounts the admin routes (``admin``) and raises aiohttp's header limits so a 1000-uuid
``q=uuid?=...`` request line (about 33 KB) is accepted. Built by ``server``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from . import (
    accounts_api,
    admin,
    centers_api,
    deploy_api,
    identity_api,
    mn_api,
    models_api,
    services_api,
    tags_api,
)
from .config import CONTEXT_PATH
from .errorcodes import ApiError, RestError, error_body, error_code
from .faults import Fault
from .request import ApiRequest, json_response, text_response
from .runtime import CONTEXT_KEY, SimContext

log = logging.getLogger(__name__)

Handler = Callable[[SimContext, ApiRequest], Awaitable[web.Response]]
#: aiohttp's default is 8 KiB; ZStack's Jetty takes much longer query strings.
MAX_LINE_BYTES = 256 * 1024
#: ``yaml`` is a MEDIUMTEXT (16 MiB) column.
MAX_BODY_BYTES = 32 * 1024 * 1024


async def poll_job(ctx: SimContext, req: ApiRequest) -> web.Response:
    """GET /v1/api-jobs/{uuid}: 202 running, 200 result, 503 failure, 404 unknown or expired."""
    job = ctx.jobs.get(req.vars["uuid"])
    if job is None:
        raise RestError(404, "the job has been expired")
    if job.running or job.status is None or job.body is None:
        return json_response(202, {})
    return json_response(*ctx.jobs.answer(job.uuid))


@dataclass(frozen=True)
class Route:
    """A path pattern (segments below the context path) and the API behind each method."""

    pattern: tuple[str, ...]
    methods: Mapping[str, tuple[str, Handler]]
    #: Methods whose URL several APIs share, told apart by the body key
    #: (``RestServer#handleNonUniqueApi``): the first key the body has wins; with none of
    #: them, ``methods`` answers (and refuses the body).
    by_body: Mapping[str, Mapping[str, tuple[str, Handler]]] = dataclasses.field(
        default_factory=dict
    )


_SERVICE = ("v1", "ai", "model-services")
ROUTES: tuple[Route, ...] = (
    Route(("v1", "accounts", "login"), {"PUT": ("LogInByAccount", identity_api.login)}),
    Route(("v1", "accounts", "sessions", "{uuid}"), {"DELETE": ("LogOut", identity_api.logout)}),
    Route(
        ("v1", "accounts", "sessions", "{uuid}", "renew"),
        {"PUT": ("RenewSession", identity_api.renew_session)},
    ),
    Route(
        ("v1", "accounts", "sessions", "{uuid}", "valid"),
        {"GET": ("ValidateSession", identity_api.validate_session)},
    ),
    Route(
        ("v1", "accounts"),
        {
            "POST": ("CreateAccount", accounts_api.create_account),
            "GET": ("QueryAccount", accounts_api.query_accounts),
        },
    ),
    # After the literal ``accounts/login``: the first matching pattern wins.
    Route(("v1", "accounts", "{uuid}"), {"GET": ("QueryAccount", accounts_api.query_accounts)}),
    Route(
        ("v1", "user-tags"),
        {
            "POST": ("CreateUserTag", tags_api.create_user_tag),
            "GET": ("QueryUserTag", tags_api.query_user_tags),
        },
    ),
    Route(("v1", "user-tags", "{uuid}"), {"GET": ("QueryUserTag", tags_api.query_user_tags)}),
    Route(("v1", "tags", "{uuid}"), {"DELETE": ("DeleteTag", tags_api.delete_tag)}),
    Route(("v1", "management-nodes", "actions"), {"PUT": ("GetVersion", mn_api.get_version)}),
    Route(
        ("v1", "management-nodes", "platform-timezone"),
        {"GET": ("GetPlatformTimeZone", mn_api.get_platform_time_zone)},
    ),
    Route(
        _SERVICE,
        {
            "POST": ("AddModelService", services_api.add_model_service),
            "GET": ("QueryModelService", services_api.query_model_services),
        },
    ),
    Route(
        (*_SERVICE, "{uuid}"),
        {
            "GET": ("QueryModelService", services_api.query_model_services),
            "PUT": ("UpdateModelService", services_api.update_model_service),
            "DELETE": ("DeleteModelService", services_api.delete_model_service),
        },
        by_body={
            "PUT": {
                "updateModelService": ("UpdateModelService", services_api.update_model_service),
                "deployModelService": ("DeployModelService", deploy_api.deploy_model_service),
            }
        },
    ),
    # The SDK's query path ends in "/" (a literal empty segment); without it: 404.
    Route(
        (*_SERVICE, "instances", "groups", ""),
        {"GET": ("QueryModelServiceInstanceGroup", deploy_api.query_groups)},
    ),
    Route(
        (*_SERVICE, "instances", "groups", "{uuid}"),
        {"DELETE": ("DeleteModelServiceInstanceGroup", deploy_api.delete_group)},
    ),
    Route(
        ("v1", "model-service-instance-groups", "{uuid}"),
        {"PUT": ("UpdateModelServiceInstanceGroup", deploy_api.update_group)},
    ),
    Route(
        ("v1", "ai", "model-centers"),
        {
            "POST": ("AddModelCenter", centers_api.add_model_center),
            "GET": ("QueryModelCenter", centers_api.query_model_centers),
        },
    ),
    Route(
        ("v1", "ai", "model-centers", "{uuid}"),
        {
            "PUT": ("UpdateModelCenter", centers_api.update_model_center),
            "DELETE": ("DeleteModelCenter", centers_api.delete_model_center),
        },
    ),
    Route(
        ("v1", "ai", "models"),
        {
            "POST": ("AddModel", models_api.add_model),
            "GET": ("QueryModel", models_api.query_models),
        },
    ),
    Route(
        ("v1", "ai", "models", "{uuid}"),
        {
            "PUT": ("UpdateModel", models_api.update_model),
            "DELETE": ("DeleteModel", models_api.delete_model),
        },
    ),
    Route(
        ("v1", "ai", "models", "{modelUuid}", "model-services", "{modelServiceUuid}"),
        {
            "POST": ("BindModelToService", services_api.bind_model),
            "DELETE": ("UnbindModelFromService", services_api.unbind_model),
        },
    ),
    Route(("v1", "api-jobs", "{uuid}"), {"GET": ("QueryApiJob", poll_job)}),
)


def _match(path: str) -> tuple[Route, dict[str, str]] | None:
    segments = path.split("/")[1:]
    for route in ROUTES:
        if len(route.pattern) != len(segments):
            continue
        variables: dict[str, str] = {}
        for want, got in zip(route.pattern, segments, strict=True):
            if want.startswith("{"):
                if not got:
                    break
                variables[want[1:-1]] = got
            elif want != got:
                break
        else:
            return route, variables
    return None


@dataclass(frozen=True)
class _Target:
    api: str
    path: str
    handler: Handler | None = None
    variables: Mapping[str, str] | None = None
    refusal: RestError | None = None
    choices: Mapping[str, tuple[str, Handler]] | None = None


def _resolve(full_path: str, method: str) -> _Target:
    path = full_path.removeprefix(CONTEXT_PATH) if full_path.startswith(CONTEXT_PATH + "/") else ""
    found = _match(path) if path else None
    if found is None:
        return _Target(
            "Unknown", path, refusal=RestError(404, f"no api mapping to {path or full_path}")
        )
    route, variables = found
    if method in route.methods:
        api, handler = route.methods[method]
        return _Target(api, path, handler, variables, choices=route.by_body.get(method))
    names = {api for api, _ in route.methods.values()}
    api = names.pop() if len(names) == 1 else "Unknown"
    if api == "QueryApiJob":
        text = "only GET method is allowed for querying job status"
    else:
        text = f"The method[{method}] is not allowed for the path[{full_path}]"
    return _Target(api, path, refusal=RestError(405, text))


def _chosen(target: _Target, req: ApiRequest | web.HTTPException | None) -> _Target:
    """The API a shared URL's body names (its first known key); the default without one."""
    if not target.choices or not isinstance(req, ApiRequest):
        return target
    try:
        body = json.loads(req.raw_body)
    except ValueError:  # the default handler answers what the REST layer says to that
        return target
    if isinstance(body, dict):
        for key, (api, handler) in target.choices.items():
            if key in body:
                return dataclasses.replace(target, api=api, handler=handler)
    return target


def _abort(request: web.Request) -> None:
    """Drop the connection with a TCP reset and no answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if seconds == int(seconds) else f"{seconds:g}"


async def handle(request: web.Request) -> web.StreamResponse:
    """Entry point of every API request: faults, counters, then the API handler."""
    ctx = request.app[CONTEXT_KEY]
    target = _resolve(request.path, request.method)
    ctx.counters.begin()
    outcome = "reset"
    try:
        faults = ctx.faults
        if faults.outage:
            _abort(request)
            return web.Response()
        # The whole request arrives before any work starts: a client that gives up during the
        # latency below has still sent it, and the API still runs (a lost reply).
        try:
            req = await _read(request, target)
        except OSError:  # the client went away while sending: nothing to answer
            return web.Response()
        target = _chosen(target, req)
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        fault = faults.roll(ctx.rng)
        if fault is Fault.RESET:
            _abort(request)
            return web.Response()
        if fault is Fault.THROTTLE:
            response = text_response(
                429, "Too Many Requests", {"Retry-After": _retry_after(faults.retry_after)}
            )
        elif fault is Fault.ERROR:
            error = error_code("SYS.1000", "an internal error injected by the simulator")
            response = json_response(503, error_body(error))
        else:
            response = await _serve(ctx, target, req)
        outcome = str(response.status)
        return response
    finally:
        ctx.counters.end(target.api, outcome)


async def _read(request: web.Request, target: _Target) -> ApiRequest | web.HTTPException | None:
    """The routed request with its body; None for refused routes; an HTTP error if unreadable."""
    if target.handler is None or target.variables is None:
        return None
    try:
        return await ApiRequest.read(request, target.path, dict(target.variables))
    except web.HTTPException as exc:  # e.g. a body beyond client_max_size
        return exc


async def _serve(
    ctx: SimContext, target: _Target, req: ApiRequest | web.HTTPException | None
) -> web.Response:
    try:
        if target.refusal is not None:
            raise target.refusal
        if isinstance(req, web.HTTPException):
            return text_response(req.status, req.text or req.reason)
        assert target.handler is not None
        assert req is not None
        return await target.handler(ctx, req)
    except RestError as exc:
        return text_response(exc.status, exc.text, exc.headers)
    except ApiError as exc:
        return json_response(503, error_body(exc.error))
    except Exception as exc:  # what RestServer.handle does with an unexpected Throwable
        log.exception("failed to handle %s", target.api)  # paths can hold session uuids
        return text_response(500, str(exc) or type(exc).__name__)


def build_app(ctx: SimContext) -> web.Application:
    """The aiohttp application of one simulator."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        handler_args={"max_line_size": MAX_LINE_BYTES, "max_field_size": MAX_LINE_BYTES},
    )
    app[CONTEXT_KEY] = ctx
    admin.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
