"""Finding a modelCenterUuid end to end: a connection's status lists the model centers its
account sees, read with kubectl as docs/tenancy.md says; the operator's own connection, which
has no object, through ``zstack-operator model-centers`` with the operator's flags.

Real API server, a simulator process (its seeded center), the operator watching the test
namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from zstack_operator.sim import DEFAULT_MODEL_CENTER_UUID

from tests.e2e.test_tenancy import TEAM_A_PW, tenant
from tests.support.kube import Kube
from tests.support.operator_fixtures import SECRET_NAME, SimClient

pytestmark = pytest.mark.e2e

SEEDED = {
    "uuid": DEFAULT_MODEL_CENTER_UUID,
    "name": "default",
    "status": "Connected",
    "url": "http://127.0.0.1/model-center",
    "managementIp": "127.0.0.1",
}


def test_a_connection_lists_its_model_centers_and_the_cli_the_operators_own(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    op = operator_factory()
    tenant(kube, zstack, namespace, "team-a", TEAM_A_PW)  # a normal account sees them too

    def listed() -> dict[str, Any] | None:
        conn = kube.get_or_none("zstackconnection", "default", namespace) or {}
        return conn if "modelCenters" in conn.get("status", {}) else None

    conn = kube.wait_until(listed, timeout=30, message="status.modelCenters is written")
    assert conn["status"]["modelCenters"] == [SEEDED]
    assert "modelCentersMessage" not in conn["status"]
    # The commands the docs give.
    raw = kube.kubectl(
        "-n", namespace, "get", "zstackconnection", "default",
        "-o", "jsonpath={.status.modelCenters}",
    ).stdout  # fmt: skip
    assert json.loads(raw) == [SEEDED]
    table = kube.kubectl(
        "-n", namespace, "get", "zsconn", "default",
        "-o", 'jsonpath={range .status.modelCenters[*]}{.uuid}{"\\t"}{.name}{"\\n"}{end}',
    ).stdout  # fmt: skip
    assert table == f"{DEFAULT_MODEL_CENTER_UUID}\tdefault\n"
    # The operator's own connection: the same flags as the operator, its Secret read from the
    # API server with the kubeconfig.
    done = subprocess.run(
        [
            sys.executable, "-m", "zstack_operator", "model-centers",
            "--zstack-endpoint", zstack.url, "--allow-insecure-http",
            "--credentials-secret", f"{namespace}/{SECRET_NAME}",
        ],
        env={**os.environ, "KUBECONFIG": str(kube.kubeconfig)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split() == ["UUID", "NAME", "STATUS", "URL"]
    assert row.split() == [DEFAULT_MODEL_CENTER_UUID, "default", "Connected", SEEDED["url"]]
    assert "Traceback" not in op.logs()
