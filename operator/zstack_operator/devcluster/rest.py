"""The few raw API calls ``cluster`` makes while bringing the control plane up.

Readiness probes and one ClusterRoleBinding do not justify a Kubernetes client dependency:
this is ``http.client`` over TLS, trusting the API server's self-signed certificate file.
"""

from __future__ import annotations

import http.client
import json
import ssl
from pathlib import Path
from typing import Any


class RestError(OSError):
    """The API server could not be reached (not yet listening, TLS not ready, ...)."""


def call(
    server_port: int,
    ca_file: Path,
    token: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    timeout: float = 5.0,
) -> tuple[int, Any]:
    """``(status, decoded JSON or text)`` of one request to ``https://127.0.0.1:PORT``."""
    context = ssl.create_default_context(cafile=str(ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", server_port, context=context, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        # The token is in the headers only; the exception text never carries it.
        raise RestError(f"{method} {path}: {exc}") from exc
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw
