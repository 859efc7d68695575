"""The operator image, built from the Dockerfile, run the way the Helm chart's Deployment runs it.

Built by hack/image.sh with podman (on the TEST-ONLY Debian stand-in base: no registry is
reachable here; docs/image.md). Each test renders the chart for its own namespace and takes the
container's env, args, securityContext, scratch volume and limits from the rendered Deployment
(tests/image/podman.py): uid 65532, read-only root, every capability dropped, no new
privileges, /tmp a 64 MiB tmpfs. The one difference is how it reaches the API server: a
kubeconfig mounted read-only instead of the in-cluster service account, for the dev cluster's
``zstack-operator`` user bound to exactly the chart's Roles. Host networking reaches the local
API server and the simulator on loopback.

A broken entrypoint, a file the image lacks, or the operator writing outside /tmp shows here
as a container that exits or a ModelService that never gets Ready.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import httpx
import pytest
import yaml

from tests.e2e.test_operator import apply, cond, sample
from tests.image.podman import Built, Podman, build_image, run_flags
from tests.support.helm_chart import CHART, rbac_bound_to_user
from tests.support.kube import Kube, wait_until
from tests.support.operator_fixtures import SECRET_NAME, SimClient
from tests.support.sim_fixtures import free_port

# Generous: the first build on a fresh machine bootstraps the stand-in base (minutes); every
# later one is podman's layer cache (about a second).
pytestmark = [pytest.mark.image, pytest.mark.e2e, pytest.mark.timeout(1800)]

RELEASE = "zstack-operator"
USER = "zstack-operator"
KUBECONFIG_IN_CONTAINER = "/var/run/zstack-operator/kubeconfig"
UID = 65532


@pytest.fixture(scope="session")
def built() -> Built:
    return build_image()


@pytest.fixture(scope="session")
def podman(built: Built) -> Podman:
    return Podman(built.containers_conf)


def render(values: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """The chart's objects for a release in ``namespace`` (Helm's own rendering)."""
    with helm_python.Chart.load(CHART) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=namespace, is_install=True)
    return [
        doc
        for template, text in manifests.items()
        if template.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def deployment_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [doc for doc in docs if doc["kind"] == "Deployment"]
    pod: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return pod


@dataclass
class Container:
    """The operator's container: its name and the base URL of its probes and metrics."""

    name: str
    podman: Podman
    health_url: str

    def logs(self) -> str:
        done = self.podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def alive(self) -> None:
        """Raise with the container's logs once it has exited."""
        if not self.podman.running(self.name):
            raise AssertionError(f"the container exited:\n{self.logs()[-4000:]}")

    def exec(self, *argv: str) -> tuple[int, str]:
        """Run ``argv`` in the container (its user, capabilities, and no new privileges)."""
        done = self.podman("exec", self.name, *argv, check=False)
        return done.returncode, done.stdout + done.stderr


def private_copy(kubeconfig: Path, into: Path) -> Path:
    """The kubeconfig readable by the container's user, as a mounted Secret would be."""
    copy = into / "kubeconfig"
    copy.write_bytes(kubeconfig.read_bytes())
    copy.chmod(0o644)
    return copy


@pytest.fixture
def container(
    built: Built,
    podman: Podman,
    kube: Kube,
    namespace: str,
    zstack: SimClient,
    credentials: Any,
    modelservice_crd: Any,
    tmp_path: Path,
) -> Iterator[Container]:
    """The image, started from the chart rendered for this test's namespace and simulator.

    ``built`` comes first: with ``ZSTACK_IMAGE_TESTS=skip`` nothing else is started.
    """
    health_port = free_port()
    values = {
        "watchNamespaces": [namespace],
        "zstack": {"endpoint": zstack.url, "allowInsecureHTTP": True},
        "credentials": {"existingSecret": SECRET_NAME, "existingSecretNamespace": namespace},
        # Host networking shares the machine's ports: one nobody uses, instead of 8080.
        "healthPort": health_port,
    }
    docs = render(values, namespace)
    if USER in kube.user_kubeconfigs:
        for doc in rbac_bound_to_user(docs, USER):
            kube.apply(yaml.safe_dump(doc))
        kubeconfig = kube.user_kubeconfigs[USER]
    else:  # a cluster of the user's own (KUBECONFIG): its admin, as in the other e2e tests
        kubeconfig = kube.kubeconfig
    name = f"zstack-operator-{secrets.token_hex(4)}"
    flags, args, env = run_flags(deployment_pod(docs), pod_name=name, namespace=namespace)
    env["KUBECONFIG"] = KUBECONFIG_IN_CONTAINER
    mount = f"{private_copy(kubeconfig, tmp_path)}:{KUBECONFIG_IN_CONTAINER}:ro"
    podman(
        "run", "--detach", "--name", name, "--network=host", *flags,
        "--volume", mount, *(f"--env={key}={value}" for key, value in env.items()),
        built.image_id, *args,
    )  # fmt: skip
    running = Container(name, podman, f"http://127.0.0.1:{health_port}")
    try:
        yield running
    finally:
        # Captured output is shown only when the test fails: the container's side of the story.
        sys.stdout.write(f"--- podman logs {name} (tail) ---\n{running.logs()[-6000:]}\n")
        podman("rm", "--force", "--time", "10", name, check=False)


def probe(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return None


def serving(container: Container) -> None:
    """Wait until the operator in ``container`` answers /healthz; fail at once if it exits."""

    def answers() -> bool:
        container.alive()
        return probe(f"{container.health_url}/healthz") == 200

    wait_until(answers, timeout=60, message="the container's /healthz answers 200")


def test_sample_becomes_ready_with_exactly_one_create(
    container: Container, kube: Kube, namespace: str, zstack: SimClient
) -> None:
    serving(container)
    name = apply(kube, namespace, sample())

    def ready() -> dict[str, Any] | None:
        container.alive()
        obj = kube.get_or_none("modelservice", name, namespace)
        ok = obj is not None and cond(obj, "Ready").get("status") == "True"
        return obj if ok else None

    obj = wait_until(ready, timeout=120, message=f"{name} is Ready")
    uuid = obj["status"]["uuid"]
    assert cond(obj, "Ready")["reason"] == "Available"
    assert cond(obj, "Ready")["observedGeneration"] == obj["metadata"]["generation"]
    counters = zstack.counters()
    assert counters["createRequests"] == {uuid: 1}
    assert counters["created"] == {uuid: 1}
    assert probe(f"{container.health_url}/readyz") == 200


def _status(container: Container, pid: str) -> dict[str, str]:
    code, text = container.exec("cat", f"/proc/{pid}/status")
    assert code == 0, text
    pairs = (line.partition(":") for line in text.splitlines())
    return {key: value.strip() for key, _, value in pairs}


def test_runs_as_65532_with_a_read_only_root_and_no_privileges(container: Container) -> None:
    serving(container)
    # PID 1 is the entrypoint itself (no init in between): the operator.
    operator = _status(container, "1")
    assert "zstack-operator" in container.exec("cat", "/proc/1/cmdline")[1]
    assert operator["Uid"].split() == [str(UID)] * 4
    assert operator["Gid"].split() == [str(UID)] * 4
    assert operator["CapEff"] == operator["CapPrm"] == operator["CapBnd"] == "0" * 16
    assert operator["NoNewPrivs"] == "1"
    code, mounts = container.exec("cat", "/proc/1/mountinfo")
    assert code == 0, mounts
    root = next(line.split() for line in mounts.splitlines() if line.split()[4] == "/")
    assert "ro" in root[5].split(","), root
    # The kernel answers EROFS before it checks permissions, so this is the mount refusing,
    # not the unprivileged user.
    for path in ("/probe", "/usr/local/lib/probe", "/etc/probe", "/var/tmp/probe", "/run/probe"):
        code, text = container.exec("python", "-c", f"open({path!r}, 'w')")
        assert code != 0, (path, text)
        assert "Read-only file system" in text, (path, text)
    code, text = container.exec("python", "-c", "open('/tmp/probe', 'w').write('scratch')")
    assert code == 0, text


def test_the_image_holds_no_tooling(built: Built, podman: Podman) -> None:
    values = {"zstack": {"endpoint": "https://zstack.example:8443"}}
    pod = deployment_pod(render(values, "zstack-system"))
    flags, _, _ = run_flags(pod, pod_name="tooling", namespace="zstack-system")
    for command in ("sim", "bench", "dev-cluster", "demo"):
        done = podman(
            "run", "--rm", "--network=none", *flags, "--entrypoint", "zstack-operator",
            built.image_id, command, check=False,
        )  # fmt: skip
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert f"the {command} command is not installed here" in done.stderr
    inspected = podman("image", "inspect", "--format", "{{json .Config}}", built.image_id)
    config = json.loads(inspected.stdout)
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["zstack-operator", "run"]


def test_a_second_build_reuses_every_layer(built: Built) -> None:
    """Nothing changed, nothing rebuilt: the same image id, in seconds (podman's layer cache)."""
    start = time.monotonic()
    again = build_image()
    assert again.image_id == built.image_id
    assert time.monotonic() - start < 60
