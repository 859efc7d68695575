"""The start sequence of one dev cluster: flags, order and readiness of its three processes.

Called only by ``cluster.DevCluster`` (which owns state files, locking and retries). Each
process is started, handed to ``record`` at once (so a crash mid-way leaves nothing untracked)
and waited for with a real probe: etcd ``/health``, API ``/readyz``, and for the
controller-manager the ``default`` ServiceAccount getting its token Secret.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import credentials, procs, rest
from .credentials import User
from .procs import ProcessRecord

log = logging.getLogger("zstack_operator.devcluster")

Progress = Callable[[str], None]
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager")
#: Configuration only: no node or proxy exists, nothing is ever routed to this range.
SERVICE_CIDR = "10.0.0.0/24"
CONTROLLERS = "namespace,garbagecollector,serviceaccount-token,serviceaccount"
#: Observed here: etcd ~1 s, kube-apiserver 5-10 s, controller-manager tokens ~2 s. The
#: limits are generous because a loaded CI machine (a parallel build) can be 5x slower.
_TIMEOUTS = {"etcd": 30.0, "kube-apiserver": 120.0, "kube-controller-manager": 60.0}


class StartupError(RuntimeError):
    """A process died or never became ready."""


class PortInUseError(StartupError):
    """Another process took one of the chosen loopback ports first."""


@dataclass(frozen=True)
class Plan:
    """Ports, users and file locations of one cluster, decided before anything starts."""

    state_dir: Path
    bin_dir: Path
    etcd_port: int
    peer_port: int
    api_port: int
    users: tuple[User, ...]

    @classmethod
    def new(cls, state_dir: Path, bin_dir: Path) -> Plan:
        """Fresh loopback ports and fresh tokens."""
        return cls(
            state_dir=state_dir,
            bin_dir=bin_dir,
            etcd_port=procs.free_loopback_port(),
            peer_port=procs.free_loopback_port(),
            api_port=procs.free_loopback_port(),
            users=credentials.new_users(),
        )

    @classmethod
    def recorded(cls, state_dir: Path, bin_dir: Path, ports: dict[str, int]) -> Plan:
        """The plan a running cluster was started with, from its state dir and recorded ports."""
        return cls(
            state_dir=state_dir,
            bin_dir=bin_dir,
            etcd_port=int(ports["etcd"]),
            peer_port=int(ports["etcd-peer"]),
            api_port=int(ports["apiserver"]),
            users=credentials.read_token_file(state_dir / "tokens.csv"),
        )

    @property
    def server(self) -> str:
        """The API server URL."""
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def ports(self) -> dict[str, int]:
        """The chosen ports by role, for ``state.json`` and ``status``."""
        return {"etcd": self.etcd_port, "etcd-peer": self.peer_port, "apiserver": self.api_port}

    @property
    def admin(self) -> User:
        """The ``system:masters`` user."""
        return self.users[0]

    def path(self, name: str) -> Path:
        """A file or folder inside the state dir."""
        return self.state_dir / name


def _env() -> dict[str, str]:
    # etcd reads ETCD_* and client-go reads KUBECONFIG: a developer's shell must not leak in.
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ETCD_") and key != "KUBECONFIG"
    }


def run(plan: Plan, record: Callable[[ProcessRecord], None], say: Progress) -> None:
    """Start etcd, kube-apiserver and kube-controller-manager, each ready before the next."""
    logs = plan.path("logs")
    logs.mkdir(exist_ok=True)
    credentials.write_service_account_keys(plan.path("sa.key"), plan.path("sa.pub"))
    credentials.write_token_file(plan.path("tokens.csv"), plan.users)

    say(f"starting etcd on 127.0.0.1:{plan.etcd_port}")
    etcd_binary = shutil.which("etcd") or "/usr/bin/etcd"
    etcd = _start(plan, "etcd", [etcd_binary, *_etcd_flags(plan)], record)
    _wait(etcd, lambda: _etcd_healthy(plan.etcd_port))

    ca_file = start_apiserver(plan, record, say)

    for user in plan.users:
        kubeconfig = plan.path(credentials.kubeconfig_name(user.name))
        credentials.write_kubeconfig(kubeconfig, plan.server, ca_file.read_bytes(), user)

    say(f"starting kube-controller-manager ({CONTROLLERS})")
    kcm_argv = [str(plan.bin_dir / "kube-controller-manager"), *_kcm_flags(plan, ca_file)]
    kcm = _start(plan, "kube-controller-manager", kcm_argv, record)
    _wait(kcm, lambda: _default_token_issued(plan, ca_file))

    _bind_viewer(plan, ca_file)


def start_apiserver(plan: Plan, record: Callable[[ProcessRecord], None], say: Progress) -> Path:
    """Start kube-apiserver and wait for ``/readyz``; returns its certificate bundle.

    Also used on its own to restart the API server of a running cluster: the serving cert in
    ``certs/`` is reused, so kubeconfigs (which embed it) stay valid.
    """
    say(f"starting kube-apiserver on {plan.server}")
    api_argv = [str(plan.bin_dir / "kube-apiserver"), *_apiserver_flags(plan)]
    apiserver = _start(plan, "kube-apiserver", api_argv, record)
    ca_file = plan.path("certs") / "apiserver.crt"
    _wait(apiserver, lambda: ca_file.exists() and _get(plan, ca_file, "/readyz")[0] == 200)
    return ca_file


def _etcd_flags(plan: Plan) -> list[str]:
    client = f"http://127.0.0.1:{plan.etcd_port}"
    peer = f"http://127.0.0.1:{plan.peer_port}"
    return [
        "--name=default",
        f"--data-dir={plan.path('etcd-data')}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
    ]


def _apiserver_flags(plan: Plan) -> list[str]:
    return [
        f"--etcd-servers=http://127.0.0.1:{plan.etcd_port}",
        f"--secure-port={plan.api_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--cert-dir={plan.path('certs')}",
        f"--token-auth-file={plan.path('tokens.csv')}",
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={plan.path('sa.pub')}",
        f"--service-account-signing-key-file={plan.path('sa.key')}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # Without nodes no Pod runs, and this plugin would demand token volumes for them.
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
    ]


def _kcm_flags(plan: Plan, ca_file: Path) -> list[str]:
    return [
        f"--kubeconfig={plan.path('kubeconfig')}",
        "--leader-elect=false",
        f"--controllers={CONTROLLERS}",
        f"--service-account-private-key-file={plan.path('sa.key')}",
        f"--root-ca-file={ca_file}",
        # No serving ports at all: nothing scrapes it, and fewer ports means fewer collisions.
        "--port=0",
        "--secure-port=0",
    ]


def _start(
    plan: Plan, name: str, argv: list[str], record: Callable[[ProcessRecord], None]
) -> ProcessRecord:
    proc = procs.spawn(name, argv, plan.path("logs") / f"{name}.log", _env())
    record(proc)
    return proc


def _wait(proc: ProcessRecord, ready: Callable[[], bool]) -> None:
    started = time.monotonic()
    timeout = _TIMEOUTS[proc.name]
    while True:
        if not proc.is_running():
            tail = proc.log_tail()
            error = PortInUseError if "address already in use" in tail else StartupError
            raise error(f"{proc.name} exited during start; {proc.log}:\n{tail}")
        try:
            if ready():
                log.info("%s ready after %.1fs", proc.name, time.monotonic() - started)
                return
        except rest.RestError:
            pass
        if time.monotonic() - started > timeout:
            raise StartupError(
                f"{proc.name} not ready after {timeout:.0f}s; {proc.log}:\n{proc.log_tail()}"
            )
        time.sleep(0.2)


def _etcd_healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        conn.request("GET", "/health")
        body = conn.getresponse().read()
    except OSError:
        return False
    finally:
        conn.close()
    try:
        return bool(json.loads(body).get("health") == "true")
    except ValueError:
        return False


def _get(plan: Plan, ca_file: Path, path: str) -> tuple[int, Any]:
    return rest.call(plan.api_port, ca_file, plan.admin.token, "GET", path)


def _default_token_issued(plan: Plan, ca_file: Path) -> bool:
    # Proves both the serviceaccount and the serviceaccount-token controllers work.
    status, body = _get(plan, ca_file, "/api/v1/namespaces/default/serviceaccounts/default")
    return status == 200 and isinstance(body, dict) and bool(body.get("secrets"))


def _bind_viewer(plan: Plan, ca_file: Path) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "dev-cluster:viewer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}],
    }
    status, body = rest.call(
        plan.api_port,
        ca_file,
        plan.admin.token,
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        binding,
    )
    if status not in (201, 409):
        raise StartupError(f"binding viewer to ClusterRole view failed ({status}): {body}")
