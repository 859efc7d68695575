"""The chart's Deployment as ``podman run`` flags (tests/image/podman.py), checked offline.

The image test trusts this translation to run the container as the chart would, so it must
give the chart's restrictions and refuse what it cannot reproduce rather than drop it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import helm_python
import pytest

from tests.image.podman import UntranslatableError, expand, run_flags
from tests.support.helm_chart import CHART, render

NS = "zstack-system"


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def pod(chart: helm_python.Chart, **values: Any) -> dict[str, Any]:
    values.setdefault("zstack", {"endpoint": "https://zstack.example:8443"})
    deployment = next(o for k, o in render(chart, values).items() if k[0] == "Deployment")
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def test_the_default_chart_runs_unprivileged_read_only_and_bounded(
    chart: helm_python.Chart,
) -> None:
    flags, args, env = run_flags(pod(chart), pod_name="op-0", namespace=NS)
    assert flags[:2] == ["--user", "65532:65532"]
    for flag in (
        "--read-only",
        "--read-only-tmpfs=false",
        "--security-opt=no-new-privileges",
        "--cap-drop=ALL",
        f"--memory={512 << 20}",
        "--cpus=1",
    ):
        assert flag in flags
    assert flags[flags.index("--tmpfs") + 1] == f"/tmp:rw,mode=1777,size={64 << 20}"
    assert args == []
    assert env["POD_NAMESPACE"] == NS
    # $(POD_NAMESPACE) expanded as the kubelet does.
    assert env["ZSTACK_CREDENTIALS_SECRET"] == f"{NS}/zstack-operator-credentials"
    assert env["ZSTACK_OPERATOR_HEALTH_ADDRESS"] == "0.0.0.0:8080"


def test_extra_args_pass_through_expanded(chart: helm_python.Chart) -> None:
    spec = pod(chart, operator={"extraArgs": ["--log-level=DEBUG", "--namespace=$(POD_NAMESPACE)"]})
    _, args, _ = run_flags(spec, pod_name="op-0", namespace=NS)
    assert args == ["--log-level=DEBUG", f"--namespace={NS}"]


def test_what_podman_cannot_reproduce_is_refused(chart: helm_python.Chart) -> None:
    with_ca = pod(chart, zstack={"endpoint": "https://z:8443", "tls": {"caBundle": "PEM"}})
    with pytest.raises(UntranslatableError, match="volume"):
        run_flags(with_ca, pod_name="op-0", namespace=NS)
    secret_env = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    with pytest.raises(UntranslatableError, match="env TOKEN"):
        run_flags(pod(chart, operator={"extraEnv": [secret_env]}), pod_name="op-0", namespace=NS)
    privileged = pod(chart, securityContext={"privileged": True})
    with pytest.raises(UntranslatableError, match="privileged"):
        run_flags(privileged, pod_name="op-0", namespace=NS)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("$(A)/x", "1/x"),
        ("$$(A)", "$(A)"),
        ("$(MISSING)", "$(MISSING)"),
        ("$A", "$A"),
    ],
)
def test_expansion_follows_kubernetes(text: str, want: str) -> None:
    assert expand(text, {"A": "1"}) == want
