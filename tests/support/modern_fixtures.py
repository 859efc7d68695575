"""v1.36 CRD-server fixtures: ``modern_kube`` (session) with every CRD of ``crds/`` applied.

Loaded by tests/conftest.py as a pytest plugin, for tests/modern/. Every test that uses
``modern_kube`` is marked ``modern`` here (so ``-m "not modern"`` leaves exactly those out, and
none can escape the build-or-skip rule below); the tests there that only read files run always.
The server is the standalone apiextensions API server of ``zstack_operator.devcluster.crdserver``
next to its own etcd, started in a temporary dir for the session and stopped by pid at its end;
kubectl is the 1.36 client fetched with it. Like the v1.20 dev cluster, a missing build is built
at collection, outside per-test timeouts; a failed build stops the run. The tests are skipped
only when ``ZSTACK_MODERN_APISERVER=skip`` says so (hack/test.sh sets it, after a loud line,
on a machine that cannot reach a Debian mirror): never silently.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from zstack_operator.devcluster import BuildError, modern
from zstack_operator.devcluster.crdserver import CrdServer
from zstack_operator.devcluster.debian import AptError
from zstack_operator.devcluster.system import PrerequisiteError

from tests.support.kube import Kube, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
CRDS_DIR = REPO_ROOT / "crds"
SKIP_ENV = "ZSTACK_MODERN_APISERVER"
SKIP_REASON = (
    f"{SKIP_ENV}=skip: NOT TESTED against a real Kubernetes 1.36 API server on this machine "
    "(CEL rules, server-side apply, printer columns, kubectl explain); "
    "run `zstack-operator dev-cluster build-modern` where a Debian mirror is reachable"
)


def _skip_requested() -> bool:
    value = os.environ.get(SKIP_ENV, "")
    if value not in ("", "skip"):
        raise pytest.UsageError(f"{SKIP_ENV} must be unset or 'skip', not {value!r}")
    return value == "skip"


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark every test that needs the server: the marker is what the rules below act on."""
    if "modern_kube" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.modern)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Build the v1.36 server before any test runs, or skip its tests if told to."""
    selected = [item for item in items if item.get_closest_marker("modern")]
    if not selected:
        return
    if _skip_requested():
        for item in selected:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
        return
    if modern.is_built():
        return
    capture = config.pluginmanager.getplugin("capturemanager")

    def progress(message: str) -> None:
        sys.stderr.write(f"[build-modern] {message}\n")
        sys.stderr.flush()

    try:
        if capture is None:
            modern.ensure_built(progress)
            return
        with capture.global_and_fixture_disabled():
            modern.ensure_built(progress)
    except (BuildError, AptError, PrerequisiteError) as exc:
        pytest.exit(
            f"cannot build the v1.36 CRD server for the tests marked modern: {exc}\n"
            f"(on a machine without a Debian mirror, set {SKIP_ENV}=skip to skip them)",
            returncode=1,
        )


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say it at the top of the run as well: a skipped layer must not go unnoticed."""
    if os.environ.get(SKIP_ENV) == "skip":
        return f"!!! {SKIP_REASON}"
    return None


def crd_documents() -> list[dict[str, Any]]:
    """Every CustomResourceDefinition in ``crds/``, as generated."""
    return [
        doc
        for path in sorted(CRDS_DIR.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
    ]


def _explainable(kube: Kube, crd: dict[str, Any]) -> bool:
    spec = crd["spec"]
    version = next(v["name"] for v in spec["versions"] if v.get("served", True))
    result = kube.kubectl(
        "explain", spec["names"]["plural"], f"--api-version={spec['group']}/{version}", check=False
    )
    return result.returncode == 0


@pytest.fixture(scope="session")
def modern_kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    """A fresh v1.36 CRD server with the CRDs of ``crds/`` Established and explainable."""
    server = CrdServer.start(tmp_path_factory.mktemp("crd-server"))
    try:
        kube = Kube(kubeconfig=server.kubeconfig, kubectl_binary=server.kubectl)
        # Server-side apply with strict field validation: a CRD the 1.36 server would have to
        # prune or warn about fails here, as it would for a user.
        kube.kubectl("apply", "--server-side", "--field-manager=crdgen", "-f", str(CRDS_DIR))
        for crd in crd_documents():
            name = crd["metadata"]["name"]
            kube.kubectl(
                "wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s", timeout=90
            )
            # The OpenAPI of a new CRD is published a moment after Established.
            wait_until(
                functools.partial(_explainable, kube, crd),
                timeout=60,
                message=f"the server never published the OpenAPI schema of {name}",
            )
        yield kube
    finally:
        server.stop()
