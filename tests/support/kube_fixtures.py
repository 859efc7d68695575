"""Cluster fixtures: ``kube`` (session), ``namespace`` (per test), ``modelservice_crd``.

Loaded by tests/conftest.py as a pytest plugin. ``kube`` is the user's cluster when
``KUBECONFIG`` names an existing file (kind, or ``zstack-operator dev-cluster up``), otherwise a
dev cluster started in a temporary dir for the session and stopped at its end. The one-time
build happens at collection, outside per-test timeouts, and only when e2e tests were selected.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from zstack_operator.devcluster import BuildError, DevCluster, ensure_built, is_built
from zstack_operator.devcluster.system import PrerequisiteError

from tests.support.kube import Kube, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
CRDS_DIR = REPO_ROOT / "crds"


def _external_kubeconfig() -> Path | None:
    value = os.environ.get("KUBECONFIG")
    if value and Path(value).is_file():
        return Path(value)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Build the control plane before any test runs, so its minutes count against no timeout."""
    wants_cluster = any(item.get_closest_marker("e2e") for item in items)
    if not wants_cluster or _external_kubeconfig() is not None or is_built():
        return
    capture = config.pluginmanager.getplugin("capturemanager")

    def progress(message: str) -> None:
        sys.stderr.write(f"[dev-cluster] {message}\n")
        sys.stderr.flush()

    try:
        if capture is None:
            ensure_built(progress)
            return
        with capture.global_and_fixture_disabled():
            ensure_built(progress)
    except (BuildError, PrerequisiteError) as exc:
        pytest.exit(f"cannot build the dev cluster for the e2e tests: {exc}", returncode=1)


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    """The cluster e2e tests run against (see the module docstring for which one)."""
    external = _external_kubeconfig()
    if external is not None:
        yield Kube(kubeconfig=external)
        return
    cluster = DevCluster.start(tmp_path_factory.mktemp("dev-cluster"))
    try:
        users = {user: cluster.kubeconfig_for(user) for user in cluster.users}
        yield Kube(
            kubeconfig=cluster.kubeconfig,
            user_kubeconfigs=users,
            dev_cluster_dir=cluster.state_dir,
        )
    finally:
        # Re-read state.json: a test may have restarted a process (Kube.restart_apiserver).
        (DevCluster.attach(cluster.state_dir) or cluster).stop()


def _namespace_name(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")
    # 63 is the DNS label limit; keep room for "t-" and the random suffix.
    return f"t-{slug[:50].rstrip('-')}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(kube: Kube, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test; deleted afterwards without waiting."""
    name = _namespace_name(request.node.name)
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def _succeeds(kube: Kube, args: tuple[str, ...]) -> bool:
    return kube.kubectl(*args, check=False).returncode == 0


def _crds(files: list[Path]) -> list[dict[str, Any]]:
    return [
        doc
        for path in files
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]


@pytest.fixture(scope="session")
def modelservice_crd(kube: Kube) -> list[str]:
    """Apply every YAML file in ``crds/``; wait until each CRD is Established and explainable.

    Returns the CRD names applied (empty while ``crds/`` holds no manifests). "Explainable"
    matters because the API server publishes a new CRD's OpenAPI a moment after Established,
    and ``kubectl explain`` fails until it has.
    """
    files = sorted(p for p in CRDS_DIR.glob("*") if p.suffix in {".yaml", ".yml"})
    if not files:
        return []
    # A v1.20 server's OpenAPI does not know x-kubernetes-validations (CEL, 1.25+), so kubectl's
    # client-side validation rejects the CRD; the server itself drops the rules (see
    # docs/dev-cluster.md). Newer servers validate strictly as usual.
    validate = "--validate=false" if kube.server_minor < 25 else "--validate=strict"
    for path in files:
        kube.kubectl("apply", validate, "-f", str(path))
    crds = _crds(files)
    for crd in crds:
        name = crd["metadata"]["name"]
        kube.kubectl(
            "wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s", timeout=90
        )
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("served", True))
        explain = ("explain", spec["names"]["plural"], f"--api-version={spec['group']}/{version}")
        wait_until(
            functools.partial(_succeeds, kube, explain),
            timeout=60,
            message=f"the API server never published the OpenAPI schema of {name}",
        )
    return [str(crd["metadata"]["name"]) for crd in crds]
