"""The local control plane does what the e2e suite relies on: API, controllers, tokens, RBAC.

Each test names the piece of docs/CONTROL-PLANE.md it proves; the last one drives the CLI the
way a developer does (``up``/``status``/``down`` in a scratch state dir).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zstack_operator.devcluster import DevCluster, is_built

from tests.support.kube import Kube, wait_until

pytestmark = pytest.mark.e2e


def test_api_server_answers(kube: Kube) -> None:
    assert kube.kubectl("get", "--raw", "/readyz").stdout == "ok"
    default = kube.get("namespace", "default")
    assert default["status"]["phase"] == "Active"
    if kube.is_dev_cluster:
        version = json.loads(kube.kubectl("get", "--raw", "/version").stdout)
        assert version["gitVersion"] == "v1.20.2"


def test_deleted_namespace_is_really_removed(kube: Kube, namespace: str) -> None:
    # Content makes the deletion depend on the namespace controller emptying it first.
    kube.kubectl("create", "configmap", "payload", "--from-literal=k=v", namespace=namespace)
    kube.kubectl("delete", "namespace", namespace, "--wait=false")
    wait_until(
        lambda: kube.get_or_none("namespace", namespace) is None,
        timeout=60,
        message=f"namespace {namespace} still exists (is the namespace controller running?)",
    )


def test_service_account_token_secret_authenticates(kube: Kube, namespace: str) -> None:
    wait_until(
        lambda: kube.get_or_none("serviceaccount", "default", namespace),
        message="the serviceaccount controller did not create the default ServiceAccount",
    )
    kube.kubectl("create", "serviceaccount", "robot", namespace=namespace)
    # An explicit token Secret works on every version (1.24+ no longer auto-creates one).
    kube.apply(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: robot-token\n"
        "  annotations:\n    kubernetes.io/service-account.name: robot\n"
        "type: kubernetes.io/service-account-token\n",
        namespace=namespace,
    )

    def filled_secret() -> dict[str, Any] | None:
        secret = kube.get("secret", "robot-token", namespace)
        return secret if "token" in secret.get("data", {}) else None

    secret = wait_until(
        filled_secret, message="the serviceaccount-token controller did not fill the token Secret"
    )
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert token.count(".") == 2  # a signed JWT
    assert base64.b64decode(secret["data"]["namespace"]).decode() == namespace

    denied = kube.kubectl("get", "pods", f"--token={token}", namespace=namespace, check=False)
    assert denied.returncode != 0
    assert f'"system:serviceaccount:{namespace}:robot" cannot list' in denied.stderr


def test_restricted_user_needs_a_role_binding(kube: Kube, namespace: str) -> None:
    denied = kube.kubectl(
        "get", "secrets", namespace=namespace, user="zstack-operator", check=False
    )
    assert denied.returncode != 0
    assert "(Forbidden)" in denied.stderr
    assert 'User "zstack-operator" cannot list resource "secrets"' in denied.stderr

    role = ("role", "read-secrets", "--verb=get,list", "--resource=secrets")
    kube.kubectl("create", *role, namespace=namespace)
    binding = ("rolebinding", "operator-reads-secrets", "--role=read-secrets")
    kube.kubectl("create", *binding, "--user=zstack-operator", namespace=namespace)

    def allowed() -> bool:
        result = kube.kubectl(
            "get", "secrets", "-o", "json", namespace=namespace, user="zstack-operator", check=False
        )
        return result.returncode == 0 and json.loads(result.stdout)["kind"] == "List"

    wait_until(allowed, message="zstack-operator still cannot list secrets after the binding")
    other = kube.kubectl("get", "secrets", namespace="default", user="zstack-operator", check=False)
    assert "(Forbidden)" in other.stderr


def test_modelservice_crd_is_served(kube: Kube, modelservice_crd: list[str]) -> None:
    assert "modelservices.ai.zstack.io" in modelservice_crd
    crd = kube.get("crd", "modelservices.ai.zstack.io")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    explained = kube.kubectl("explain", "modelservice.spec")
    assert "KIND:" in explained.stdout
    assert "ModelService" in explained.stdout


_PROBE_GROUP = "devcluster.test.zstack.io"
_PROBES = f"fieldprobes.{_PROBE_GROUP}"
_PROBE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": _PROBES},
    "spec": {
        "group": _PROBE_GROUP,
        "names": {"kind": "FieldProbe", "plural": "fieldprobes"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "empty": {"type": "string"},
                                    "text": {"type": "string"},
                                    "labels": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def _probe(name: str, **spec: Any) -> str:
    return json.dumps(
        {
            "apiVersion": f"{_PROBE_GROUP}/v1",
            "kind": "FieldProbe",
            "metadata": {"name": name, "labels": {"probe": name}},
            "spec": spec,
        }
    )


@pytest.fixture(scope="module")
def probe_crd(kube: Kube) -> Iterator[str]:
    """A CRD of plain string fields and a string map, served until the module ends."""
    kube.kubectl("apply", "-f", "-", input=json.dumps(_PROBE_CRD))
    try:
        kube.kubectl("wait", "--for=condition=Established", f"crd/{_PROBES}", "--timeout=60s")
        wait_until(
            lambda: kube.kubectl("get", _PROBES, "-A", check=False).returncode == 0,
            message=f"{_PROBES} is Established but not served",
        )
        yield _PROBES
    finally:
        kube.kubectl("delete", "crd", _PROBES, "--wait=false", "--ignore-not-found")


def test_custom_resource_keeps_empty_strings(kube: Kube, probe_crd: str, namespace: str) -> None:
    # Built with Go >= 1.16, an unpatched v1.20 server mistakes "" for null and refuses it
    # (`spec.empty in body must be of type string: "null"`); see docs/dev-cluster.md.
    spec = {"empty": "", "text": "set", "labels": {"blank": "", "k": "v"}}
    kube.kubectl("create", "-f", "-", namespace=namespace, input=_probe("created", **spec))
    assert kube.get(probe_crd, "created", namespace)["spec"] == spec

    # Updates are validated too: blank a field that had a value.
    blank_text = ("--type=merge", "-p", '{"spec": {"text": ""}}')
    kube.kubectl("patch", probe_crd, "created", *blank_text, namespace=namespace)
    assert kube.get(probe_crd, "created", namespace)["spec"] == {**spec, "text": ""}

    applied = {"empty": "", "text": ""}
    kube.kubectl(
        "apply", "--server-side", "-f", "-", namespace=namespace, input=_probe("applied", **applied)
    )
    assert kube.get(probe_crd, "applied", namespace)["spec"] == applied


def test_custom_resources_with_maps_list_and_encode(
    kube: Kube, probe_crd: str, namespace: str
) -> None:
    # The reflect2 in Debian's source crashed the server on its first JSON encode of a map
    # (docs/CONTROL-PLANE.md); objects full of maps, listed and read, exercise that path.
    for name in ("first", "second"):
        labels = {"owner": name, "tier": "e2e"}
        kube.kubectl("apply", "-f", "-", namespace=namespace, input=_probe(name, labels=labels))
    listed = json.loads(kube.kubectl("get", probe_crd, "-o", "json", namespace=namespace).stdout)
    by_name = {item["metadata"]["name"]: item for item in listed["items"]}
    assert sorted(by_name) == ["first", "second"]
    for name, item in by_name.items():
        assert item["metadata"]["labels"] == {"probe": name}
        assert item["spec"] == {"labels": {"owner": name, "tier": "e2e"}}
        annotations = item["metadata"]["annotations"]
        assert json.loads(annotations["kubectl.kubernetes.io/last-applied-configuration"])[
            "spec"
        ] == {"labels": {"owner": name, "tier": "e2e"}}
    crd = kube.get("crd", probe_crd)
    served = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert served["properties"]["spec"]["properties"]["labels"]["additionalProperties"] == {
        "type": "string"
    }
    assert kube.kubectl("get", "--raw", "/readyz").stdout == "ok"
    if kube.dev_cluster_dir is not None:
        cluster = DevCluster.attach(kube.dev_cluster_dir)
        assert cluster is not None
        assert cluster.is_running()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zstack_operator", "dev-cluster", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
    )


@pytest.mark.skipif(not is_built(), reason="dev cluster not built (a KUBECONFIG cluster is used)")
def test_cli_up_status_down_leaves_no_process(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    up = _cli("up", "--state-dir", str(state_dir))
    assert up.returncode == 0, up.stderr
    kubeconfig = Path(up.stdout.strip().splitlines()[-1])
    assert kubeconfig == state_dir / "kubeconfig"
    assert kubeconfig.is_file()

    cluster = DevCluster.attach(state_dir)
    assert cluster is not None
    assert [p.name for p in cluster.processes] == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
    ]
    assert all(p.is_running() for p in cluster.processes)
    assert Kube(kubeconfig).kubectl("get", "--raw", "/readyz").stdout == "ok"

    again = _cli("up", "--state-dir", str(state_dir))
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stderr
    assert again.stdout.strip().splitlines()[-1] == str(kubeconfig)

    status = _cli("status", "--state-dir", str(state_dir))
    assert status.returncode == 0, status.stdout
    assert status.stdout.startswith(f"up: {cluster.server}")

    down = _cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert not any(p.is_running() for p in cluster.processes)
    assert not state_dir.exists()
    assert _cli("status", "--state-dir", str(state_dir)).returncode == 1
