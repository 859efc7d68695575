"""/healthz, /readyz and /metrics of ``health.serve``, over real HTTP on loopback.

The e2e tests cannot take the shared API server away, so the readiness answers to an API that
refuses connections or never replies are shown here, with the operator's real ``KubeAPI``
pointed at such a port.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from zstack_operator.health import API_CHECK_TIMEOUT, Health, serve
from zstack_operator.kubeapi import KubeAPI, KubeConfig
from zstack_operator.metrics import RECONCILES, ConditionCensus


@pytest.fixture
async def endpoint(caplog: pytest.LogCaptureFixture) -> AsyncIterator[tuple[Health, str]]:
    """A fresh Health served on a free port, and the base URL ``serve`` logged for it."""
    health = Health()
    with caplog.at_level(logging.INFO, logger="zstack_operator.health"):
        runner: web.AppRunner = await serve(health, "127.0.0.1:0")
    (url,) = re.findall(r"on (http://127\.0\.0\.1:\d+)$", caplog.text, re.MULTILINE)
    yield health, url
    await runner.cleanup()


async def get(url: str) -> tuple[int, str]:
    async with httpx.AsyncClient(timeout=10) as client:
        reply = await client.get(url)
    return reply.status_code, reply.text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_liveness_answers_while_readiness_waits_for_startup(
    endpoint: tuple[Health, str],
) -> None:
    health, url = endpoint
    assert await get(f"{url}/healthz") == (200, "ok")
    assert await get(f"{url}/readyz") == (503, "starting")
    health.started = True
    assert await get(f"{url}/readyz") == (200, "ok")


async def test_readiness_fails_while_the_kubernetes_api_refuses_connections(
    endpoint: tuple[Health, str],
) -> None:
    health, url = endpoint
    kube = KubeAPI(KubeConfig(server=f"http://127.0.0.1:{_closed_port()}", verify=False))
    health.started, health.api_check = True, kube.version
    try:
        assert await get(f"{url}/readyz") == (
            503,
            "Kubernetes API: Kubernetes API unreachable: ConnectError",
        )
        assert await get(f"{url}/healthz") == (200, "ok")
    finally:
        await kube.aclose()


async def test_readiness_gives_up_on_a_silent_kubernetes_api_before_the_kubelet_does(
    endpoint: tuple[Health, str],
) -> None:
    health, url = endpoint
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    kube = KubeAPI(KubeConfig(server=f"http://127.0.0.1:{port}", verify=False))
    health.started, health.api_check = True, kube.version
    try:
        assert API_CHECK_TIMEOUT < 5  # the chart's readinessProbe.timeoutSeconds
        assert await get(f"{url}/readyz") == (
            503,
            f"Kubernetes API: no answer within {API_CHECK_TIMEOUT:g}s",
        )
        assert len(accepted) == 1
    finally:
        await kube.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_metrics_are_prometheus_text_with_the_operator_families(
    endpoint: tuple[Health, str],
) -> None:
    _, url = endpoint
    async with httpx.AsyncClient(timeout=10) as client:
        reply = await client.get(f"{url}/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain;")
    for family in (
        "zstack_operator_reconciles_total",
        "zstack_operator_zstack_requests_total",
        "zstack_operator_zstack_request_duration_seconds",
        "zstack_operator_zstack_requests_in_flight",
        "zstack_operator_zstack_job_polls_total",
        "zstack_operator_drift_repairs_total",
        "zstack_operator_resources",
    ):
        assert f"# TYPE {family} " in reply.text


def sample(text: str, name: str, labels: dict[str, str]) -> float | None:
    """The value of the one sample ``name{labels}`` in a /metrics answer, if there is one."""
    for family in text_string_to_metric_families(text):
        for one in family.samples:
            if one.name == name and one.labels == labels:
                return float(one.value)
    return None


async def test_metrics_count_each_kind_apart(endpoint: tuple[Health, str]) -> None:
    """One object of each kind with the same conditions: three series, one per kind, and a
    forgotten object takes only its own kind's count down."""
    _, url = endpoint
    census = ConditionCensus()
    kinds = ("ModelService", "Model", "ModelServiceDeployment")

    async def ready() -> list[float]:
        """Ready=True Available per kind (the gauge is the process's: other tests count too)."""
        _, text = await get(f"{url}/metrics")
        labels = {"condition": "Ready", "status": "True", "reason": "Available"}
        return [
            sample(text, "zstack_operator_resources", {"kind": k, **labels}) or 0 for k in kinds
        ]

    before = await ready()
    try:
        for kind in kinds:
            census.set(f"uid-{kind}", [("Ready", "True", "Available")], kind)
        requeued = {"kind": "ModelServiceDeployment", "trigger": "create", "result": "requeue"}
        RECONCILES.labels(*requeued.values()).inc()

        assert [a - b for a, b in zip(await ready(), before, strict=True)] == [1, 1, 1]
        _, text = await get(f"{url}/metrics")
        assert sample(text, "zstack_operator_reconciles_total", requeued)

        census.forget("uid-Model")
        assert [a - b for a, b in zip(await ready(), before, strict=True)] == [1, 0, 1]
    finally:
        census.clear()
