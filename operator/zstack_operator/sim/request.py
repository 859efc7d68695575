"""One API request as the handlers see it, and the two kinds of HTTP answer ZStack gives.

``ApiRequest`` wraps an aiohttp request after routing: the path below the context path, the URL
variables, and REST-layer readers for the JSON body and the ``X-Job-UUID`` header. A body Gson
cannot read into a map is a 500, as ``RestServer.handle`` answers any exception (ZSTACK-API.md
section 10 row 6). Handlers answer with ``json_response`` (API results and ErrorCodes) or
``text_response`` (REST-layer refusals). Built by ``app``; used by ``services_api`` and
``identity_api``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from .errorcodes import RestError

JOB_UUID_HEADER = "X-Job-UUID"


@dataclass
class ApiRequest:
    """A routed API request."""

    method: str
    #: Decoded path below the context path, e.g. ``/v1/ai/model-services``.
    path: str
    vars: dict[str, str]
    query: MultiMapping[str]
    #: Lower-case header names (single values; ZStack reads the first).
    headers: dict[str, str]
    raw_body: bytes

    @classmethod
    async def read(cls, request: web.Request, path: str, variables: dict[str, str]) -> ApiRequest:
        """Capture everything a handler needs from an aiohttp request."""
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            headers.setdefault(key.lower(), value)
        body = await request.read() if request.can_read_body else b""
        return cls(request.method, path, variables, request.query, headers, body)

    @property
    def has_body(self) -> bool:
        """False for an empty body (``JSONObjectUtil.toObject`` then gives null)."""
        return bool(self.raw_body.strip())

    def json_body(self) -> dict[str, Any]:
        """The JSON object body; an empty body is ``{}``; anything else is a plain-text 500."""
        text = self.raw_body.decode("utf-8", errors="replace").strip()
        if not text:
            return {}
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise RestError(
                500,
                "com.google.gson.JsonSyntaxException: "
                f"com.google.gson.stream.MalformedJsonException: {exc}",
            ) from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            found = "BEGIN_ARRAY" if isinstance(body, list) else "STRING"
            raise RestError(
                500,
                "com.google.gson.JsonSyntaxException: java.lang.IllegalStateException: "
                f"Expected BEGIN_OBJECT but was {found}",
            )
        return body

    def param(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        """The parameter object under ``key``; missing means every field is empty, as in ZStack."""
        value = body.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise RestError(
                500,
                "com.google.gson.JsonSyntaxException: java.lang.IllegalStateException: "
                f"Expected BEGIN_OBJECT but was STRING at path $.{key}",
            )
        return value

    def put_body(self) -> dict[str, Any]:
        """The body of a PUT to a URL several APIs share (``RestServer.handleNonUniqueApi``).

        Without a body the map is null and looking up the action key throws: a 500 with an
        empty text (a Java 8 ``NullPointerException`` has no message).
        """
        if not self.has_body:
            raise RestError(500, "")
        return self.json_body()

    def job_uuid(self) -> str | None:
        """The client-chosen job uuid; only its length is checked, as in ZStack."""
        value = self.headers.get(JOB_UUID_HEADER.lower())
        if value is not None and len(value) != 32:
            raise RestError(
                400, f"Invalid header[{JOB_UUID_HEADER}], it must be a UUID with '-' stripped"
            )
        return value


def json_response(status: int, body: dict[str, Any]) -> web.Response:
    """A JSON answer (API results, ErrorCodes, job locations)."""
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        content_type="application/json",
    )


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    """A plain-text answer of the REST layer."""
    return web.Response(status=status, text=text, headers=headers, content_type="text/plain")
