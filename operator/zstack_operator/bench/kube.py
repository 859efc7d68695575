"""The bench's own Kubernetes calls: namespaces, ModelService creates, Ready counts, metrics.

Used by ``bench.cli``, ``bench.ideal`` and ``bench.runs``. An async httpx client with the dev
cluster's admin kubeconfig (read by ``kubeapi.load_kubeconfig``, as the operator reads its
own). Ready is counted from a server-side Table (``as=Table``): the CRD's READY printer column
is the Ready condition's status, so one small list answers "how many are Ready" without
shipping every object to the bench. Applying the CRD goes through kubectl, like the demo.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from ..chain.refs import PLURALS
from ..devcluster.kubectl import kubectl_path
from ..kubeapi import load_kubeconfig
from ..resources import GROUP, KIND, PLURAL, VERSION
from ..resources.connection import CLUSTER_CONNECTION_PLURAL, CONNECTION_PLURAL
from ..resources.deployment import DEPLOYMENT_PLURAL
from ..resources.model import MODEL_PLURAL
from .apimetrics import ready_rows

#: Label on every namespace the bench creates, so a later run can find and remove leftovers.
BENCH_LABEL = "zstack-operator-bench"
_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
_MERGE = "application/merge-patch+json"
#: The namespaced kinds a bench creates objects of (their finalizers are released at the end).
_HELD = (PLURAL, MODEL_PLURAL, DEPLOYMENT_PLURAL)
#: Every CRD ``crds/`` holds, all Established before a bench starts.
_CRDS = (PLURAL, MODEL_PLURAL, DEPLOYMENT_PLURAL, CONNECTION_PLURAL, CLUSTER_CONNECTION_PLURAL)


class BenchKubeError(RuntimeError):
    """A Kubernetes call of the bench failed; the message has the method, path and reason."""


def _collection(namespace: str, plural: str = PLURAL) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{plural}"


class BenchKube:
    """A small async Kubernetes client with admin rights on the bench cluster."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        config = load_kubeconfig(str(kubeconfig))
        headers = {"Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self._http = httpx.AsyncClient(
            base_url=config.server,
            verify=config.verify,
            headers=headers,
            timeout=60.0,
            limits=limits,
            trust_env=False,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content_type: str | None = None,
        accept: str | None = None,
        params: dict[str, str] | None = None,
        ok: Sequence[int] = (),
    ) -> httpx.Response:
        """One request; a status >= 400 not listed in ``ok`` raises BenchKubeError."""
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        reply = await self._http.request(method, path, json=json, headers=headers, params=params)
        if reply.status_code >= 400 and reply.status_code not in ok:
            raise BenchKubeError(f"{method} {path}: HTTP {reply.status_code}: {reply.text[:300]}")
        return reply

    async def metrics_text(self) -> str:
        """kube-apiserver's ``/metrics`` (Prometheus text)."""
        return (await self.call("GET", "/metrics", accept="text/plain")).text

    async def create_namespace(self, name: str) -> None:
        """A labelled namespace (see ``BENCH_LABEL``)."""
        body = {"metadata": {"name": name, "labels": {BENCH_LABEL: "true"}}}
        await self.call("POST", "/api/v1/namespaces", json=body)

    async def create_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """An Opaque Secret with ``data`` base64-encoded."""
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        body = {"metadata": {"name": name}, "type": "Opaque", "data": encoded}
        await self.call("POST", f"/api/v1/namespaces/{namespace}/secrets", json=body)

    async def create_all(
        self, namespace: str, objects: Sequence[dict[str, Any]], concurrency: int
    ) -> list[dict[str, Any]]:
        """POST every object (any kind of ours), ``concurrency`` at once; the created objects."""
        gate = asyncio.Semaphore(concurrency)

        async def one(obj: dict[str, Any]) -> dict[str, Any]:
            plural = PLURALS.get(obj.get("kind", KIND), PLURAL)
            async with gate:
                reply = await self.call("POST", _collection(namespace, plural), json=obj)
            created: dict[str, Any] = reply.json()
            return created

        return list(await asyncio.gather(*(one(o) for o in objects)))

    async def ready_count(self, namespace: str) -> tuple[int, int]:
        """(Ready, total) ModelServices in ``namespace``, from one Table list."""
        reply = await self.call(
            "GET", _collection(namespace), accept=_TABLE, params={"includeObject": "None"}
        )
        table = reply.json()
        return ready_rows(table), len(table.get("rows") or [])

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch ``/status``."""
        path = f"{_collection(namespace)}/{name}/status"
        await self.call("PATCH", path, json={"status": status}, content_type=_MERGE)

    async def bench_namespaces(self) -> list[str]:
        """Namespaces an earlier bench created."""
        reply = await self.call(
            "GET", "/api/v1/namespaces", params={"labelSelector": f"{BENCH_LABEL}=true"}
        )
        return [item["metadata"]["name"] for item in reply.json().get("items", [])]

    async def namespace_exists(self, name: str) -> bool:
        """True while the namespace exists (Terminating included)."""
        reply = await self.call("GET", f"/api/v1/namespaces/{name}", ok=(404,))
        return reply.status_code != 404

    async def drop_namespace(self, name: str) -> None:
        """Remove finalizers from its objects (no operator runs now), then delete it."""
        gate = asyncio.Semaphore(16)

        async def release(plural: str, obj: str) -> None:
            async with gate:
                await self.call(
                    "PATCH",
                    f"{_collection(name, plural)}/{obj}",
                    json={"metadata": {"finalizers": None}},
                    content_type=_MERGE,
                    ok=(404,),
                )

        for plural in _HELD:
            reply = await self.call("GET", _collection(name, plural), ok=(404,))
            items = reply.json().get("items", []) if reply.status_code != 404 else []
            held = [i["metadata"]["name"] for i in items if i["metadata"].get("finalizers")]
            await asyncio.gather(*(release(plural, obj) for obj in held))
        await self.call("DELETE", f"/api/v1/namespaces/{name}", ok=(404, 409))


def apply_crds(kubeconfig: Path, crds: Path) -> None:
    """``kubectl apply`` the CRDs and wait until they are Established.

    ``--validate=false`` because the local v1.20 server's OpenAPI does not know the CEL rules
    (1.25+) that kubectl would otherwise refuse; the server drops them (docs/dev-cluster.md).
    """
    kubectl = [str(kubectl_path()), "--kubeconfig", str(kubeconfig)]
    for args in (
        ["apply", "--validate=false", "-f", str(crds)],
        [
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            *(f"crd/{plural}.{GROUP}" for plural in _CRDS),
        ],
    ):
        done = subprocess.run(
            [*kubectl, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise BenchKubeError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
