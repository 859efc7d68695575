"""The few Kubernetes API calls the operator makes itself, outside kopf's watch machinery.

kopf owns watching, finalizers and handler scheduling. Four things happen at moments kopf does
not control, so they go through this small httpx client instead: the one status write of each
reconcile pass (and of each connection's check), reading and watching credentials Secrets (one
watch per Secret, by name), reading an object when its drift check comes due (one loop
schedules them all, not one kopf timer per object), and the leader-election Lease, which is
held before kopf starts. The readiness probe asks the server's version here too.
Configuration comes from the in-cluster service account or from a kubeconfig, the same sources
kopf logs in with.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

#: Concurrent requests (and kept-alive connections) to the API server.
_CONNECTIONS = 16
_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


class KubeError(Exception):
    """A Kubernetes API call failed; ``status`` is the HTTP status (0 for transport errors)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class KubeConfig:
    """How to reach the API server: URL, TLS and one credential."""

    server: str
    verify: ssl.SSLContext | bool
    token: str | None = None
    token_file: Path | None = None
    client_cert: tuple[str, str] | None = None

    def bearer(self) -> str | None:
        """The current token; a projected token file is re-read because the kubelet rotates it."""
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        return self.token


def _materialise(data_b64: str, suffix: str) -> str:
    """Write base64 kubeconfig data to a private temp file; ssl needs file paths."""
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="zstack-operator-")
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64decode(data_b64))
    return path


def _context(ca_file: str | None, ca_data: str | None, insecure: bool) -> ssl.SSLContext | bool:
    if insecure:
        return False
    if ca_data:
        ca_file = _materialise(ca_data, ".crt")
    return ssl.create_default_context(cafile=ca_file) if ca_file else True


def load_kubeconfig(path: str | None = None) -> KubeConfig:
    """In-cluster config when running in a Pod, else the kubeconfig's current context."""
    if path is None and os.environ.get("KUBERNETES_SERVICE_HOST") and _SA_DIR.is_dir():
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        host = f"[{host}]" if ":" in host else host
        return KubeConfig(
            server=f"https://{host}:{port}",
            verify=ssl.create_default_context(cafile=str(_SA_DIR / "ca.crt")),
            token_file=_SA_DIR / "token",
        )
    path = (
        path
        or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        or str(Path.home() / ".kube" / "config")
    )
    doc: dict[str, Any] = yaml.safe_load(Path(path).read_text())
    current = doc.get("current-context")
    ctx = next(c["context"] for c in doc["contexts"] if c["name"] == current)
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == ctx["user"])
    cert: tuple[str, str] | None = None
    if "client-certificate-data" in user:
        cert = (
            _materialise(user["client-certificate-data"], ".crt"),
            _materialise(user["client-key-data"], ".key"),
        )
    elif "client-certificate" in user:
        cert = (user["client-certificate"], user["client-key"])
    return KubeConfig(
        server=cluster["server"].rstrip("/"),
        verify=_context(
            cluster.get("certificate-authority"),
            cluster.get("certificate-authority-data"),
            bool(cluster.get("insecure-skip-tls-verify")),
        ),
        token=user.get("token"),
        token_file=Path(user["tokenFile"]) if "tokenFile" in user else None,
        client_cert=cert,
    )


class KubeAPI:
    """A tiny async Kubernetes client: read a Secret or an object, patch status, ask the version."""

    def __init__(self, config: KubeConfig) -> None:
        self._config = config
        verify: ssl.SSLContext | bool = config.verify
        if config.client_cert is not None:
            ctx = (
                config.verify
                if isinstance(config.verify, ssl.SSLContext)
                else ssl.create_default_context()
            )
            ctx.load_cert_chain(*config.client_cert)
            verify = ctx
        # A fixed set of kept-alive connections, entered through a semaphore: with 1,000 status
        # writes at once, an unbounded pool re-handshakes TLS for every request past its
        # keep-alive limit, and httpcore's queue scan grows with the number waiting.
        self._http = httpx.AsyncClient(
            base_url=config.server,
            verify=verify,
            timeout=30.0,
            limits=httpx.Limits(
                max_connections=_CONNECTIONS, max_keepalive_connections=_CONNECTIONS
            ),
        )
        self._slots = asyncio.Semaphore(_CONNECTIONS)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self._config.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _request(
        self, method: str, path: str, *, json: Any = None, content_type: str | None = None
    ) -> dict[str, Any] | None:
        headers = self._headers()
        if content_type:
            headers["Content-Type"] = content_type
        try:
            async with self._slots:
                response = await self._http.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise KubeError(0, f"Kubernetes API unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            try:
                reason = response.json().get("message", "")
            except ValueError:
                reason = response.text[:200]
            raise KubeError(
                response.status_code, f"{method} {path}: HTTP {response.status_code}: {reason}"
            )
        body: dict[str, Any] = response.json()
        return body

    async def version(self) -> dict[str, Any] | None:
        """The API server's version: the cheapest request, allowed to every authenticated user."""
        return await self._request("GET", "/version")

    async def server_time(self) -> datetime | None:
        """The API server's clock (its ``Date`` header), None if it cannot be read."""
        try:
            async with self._slots:
                response = await self._http.get("/version", headers=self._headers())
            return email.utils.parsedate_to_datetime(response.headers["Date"])
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            return None

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Secret object (``data`` still base64), or None when it does not exist."""
        return await self._request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")

    async def get_object(
        self, group: str, version: str, plural: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        """A namespaced custom object, or None when it does not exist."""
        return await self._request(
            "GET", f"/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}"
        )

    async def list_objects(
        self, group: str, version: str, plural: str, namespace: str | None
    ) -> list[dict[str, Any]]:
        """Every namespaced custom object of ``plural`` in ``namespace`` (None: everywhere)."""
        where = f"namespaces/{namespace}/" if namespace is not None else ""
        body = await self._request("GET", f"/apis/{group}/{version}/{where}{plural}")
        items: list[dict[str, Any]] = (body or {}).get("items", [])
        return items

    async def served(self, group: str, version: str) -> set[str]:
        """The resources (plurals) discovery shows in ``group/version`` now.

        Read as kopf resolves its resources: the group list (``/apis``) first, then the
        version's resources. After a restart the version's path can answer while the group
        list does not name it yet, and kopf would find nothing.
        """
        groups = (await self._request("GET", "/apis") or {}).get("groups", [])
        versions = {
            v.get("version")
            for g in groups
            if g.get("name") == group
            for v in g.get("versions", [])
        }
        if version not in versions:
            return set()
        body = await self._request("GET", f"/apis/{group}/{version}")
        return {str(r.get("name")) for r in (body or {}).get("resources", [])}

    async def create_event(self, event: dict[str, Any]) -> None:
        """POST a core/v1 Event into its ``metadata.namespace``."""
        namespace = event["metadata"]["namespace"]
        await self._request("POST", f"/api/v1/namespaces/{namespace}/events", json=event)

    async def patch_status(
        self, group: str, version: str, plural: str, namespace: str, name: str, status: Any
    ) -> dict[str, Any] | None:
        """Merge-patch ``status`` (``namespace`` "" for a cluster-scoped object); None if gone."""
        where = f"namespaces/{namespace}/" if namespace else ""
        return await self._request(
            "PATCH",
            f"/apis/{group}/{version}/{where}{plural}/{name}/status",
            json={"status": status},
            content_type="application/merge-patch+json",
        )

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A coordination.k8s.io Lease (leader election), or None when it does not exist."""
        return await self._request("GET", f"{_LEASES.format(namespace=namespace)}/{name}")

    async def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Lease; KubeError 409 when another replica created it first."""
        created = await self._request("POST", _LEASES.format(namespace=namespace), json=body)
        assert created is not None, "a POST that succeeded returns the object"
        return created

    async def replace_lease(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """PUT a Lease with the resourceVersion it was read at; 409 if it changed since."""
        path = f"{_LEASES.format(namespace=namespace)}/{name}"
        return await self._request("PUT", path, json=body)

    async def watch_secret(
        self,
        namespace: str,
        name: str,
        resource_version: str,
        *,
        timeout: int = 300,  # noqa: ASYNC109 - the API server's timeoutSeconds, not a cancel
    ) -> AsyncIterator[dict[str, Any]]:
        """The watch events of one Secret (by name, a fieldSelector) after ``resource_version``.

        Ends when the API server closes the watch (after ``timeout`` seconds at most); raises
        KubeError when it refuses (403 without watch permission, 410 when the version is gone).
        Its own connection, outside the request slots: a watch holds it for minutes.
        """
        params = {
            "watch": "1",
            "fieldSelector": f"metadata.name={name}",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout),
            "allowWatchBookmarks": "false",
        }
        path = f"/api/v1/namespaces/{namespace}/secrets"
        try:
            async with self._http.stream(
                "GET", path, params=params, headers=self._headers(), timeout=timeout + 30
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise KubeError(
                        response.status_code, f"watch {path}: HTTP {response.status_code}"
                    )
                async for line in response.aiter_lines():
                    if line.strip():
                        event: dict[str, Any] = json.loads(line)
                        if event.get("type") == "ERROR":
                            code = int((event.get("object") or {}).get("code") or 500)
                            raise KubeError(code, f"watch {path}: error {code}")
                        yield event
        except httpx.HTTPError as exc:
            raise KubeError(0, f"Kubernetes API unreachable: {type(exc).__name__}") from exc
