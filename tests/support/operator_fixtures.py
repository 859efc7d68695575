"""End-to-end fixtures: a simulator process, a credentials Secret and the operator process.

The operator runs as users run it: ``zstack-operator run`` in its own process, talking to the
local API server through a kubeconfig and to the simulator over loopback. Tests drive it with
kubectl and read the simulator's counters over HTTP (synchronously, since e2e tests are plain
functions that shell out to kubectl).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.kube import Kube, wait_until
from tests.support.sim_fixtures import free_port

#: Extra ``zstack-operator sim`` arguments for every e2e simulator, e.g. ``--zstack-version
#: 5.1.20``: hack/test.sh runs the operator's e2e tests once per ZStack release profile.
SIM_ARGS_ENV = "ZSTACK_E2E_SIM_ARGS"
#: The simulator's admin password in e2e tests: distinctive, so a leak is found by grep (ZStack's
#: default, "password", is also an English word that error messages legitimately contain).
PASSWORD = "e2e-Zs7ack-pw-91f3"
SECRET_NAME = "zstack-credentials"
_HEALTH_URL = re.compile(r"serving /healthz, /readyz and /metrics on (http://\S+)")


class SimClient:
    """Synchronous access to a simulator: its admin endpoints and the ZStack API itself."""

    def __init__(self, url: str, handle: Any = None) -> None:
        self.url = url.rstrip("/")
        #: The simulator process handle (restart, kill), when the fixture started one.
        self.handle = handle
        self._http = httpx.Client(base_url=self.url, timeout=30)
        self._session: str | None = None

    def close(self) -> None:
        self._http.close()

    def counters(self) -> dict[str, Any]:
        reply = self._http.get("/_sim/counters")
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    def requests(self, api: str) -> int:
        """All requests to one API, whatever their outcome."""
        return sum(self.counters()["requests"].get(api, {}).values())

    def faults(self, **values: Any) -> None:
        self._http.put("/_sim/faults", json=values).raise_for_status()

    def add_model(self, uuid: str) -> str:
        """A model that services can bind (the simulator's admin API)."""
        reply = self._http.post("/_sim/models", json={"uuid": uuid})
        reply.raise_for_status()
        return str(reply.json()["uuid"])

    def release_jobs(self) -> None:
        self._http.post("/_sim/jobs/release").raise_for_status()

    def add_tag_pattern(self, account: str | None = None) -> str:
        """A tag pattern ``tagUuids`` may name (the simulator's admin API); its uuid."""
        body = {"account": account} if account else {}
        reply = self._http.post("/_sim/tag-patterns", json=body)
        reply.raise_for_status()
        return str(reply.json()["uuid"])

    def create_account(self, name: str, password: str) -> str:
        """A normal ZStack account (the simulator's admin API); its uuid."""
        reply = self._http.post("/_sim/accounts", json={"name": name, "password": password})
        reply.raise_for_status()
        return str(reply.json()["uuid"])

    def create_as(self, account: str, password: str, param: dict[str, Any]) -> str:
        """AddModelService as ``account`` through the ZStack API, as a person would (no owner
        tag); waits for the job and returns the new service's uuid."""
        login = {"logInByAccount": {"accountName": account, "password": _sha512(password)}}
        reply = self._http.put("/zstack/v1/accounts/login", json=login)
        reply.raise_for_status()
        auth = {"Authorization": f"OAuth {reply.json()['inventory']['uuid']}"}
        reply = self._http.post("/zstack/v1/ai/model-services", json={"param": param}, headers=auth)
        assert reply.status_code in (200, 202), reply.text
        if reply.status_code == 202:
            job = reply.json()["location"].rsplit("/", 1)[-1]
            for _ in range(400):
                reply = self._http.get(f"/zstack/v1/api-jobs/{job}")
                if reply.status_code != 202:
                    break
                time.sleep(0.05)
        assert reply.status_code == 200, reply.text
        return str(reply.json()["inventory"]["uuid"])

    def owned(self) -> dict[str, dict[str, Any]]:
        """Every model service by uuid, with its owner account, whoever owns it."""
        reply = self._http.get("/_sim/services")
        reply.raise_for_status()
        return {s["uuid"]: s for s in reply.json()["services"]}

    def expire_sessions(self) -> None:
        self._http.post("/_sim/sessions/expire").raise_for_status()

    def _auth(self) -> dict[str, str]:
        if self._session is None:
            body = {"logInByAccount": {"accountName": "admin", "password": _sha512(PASSWORD)}}
            reply = self._http.put("/zstack/v1/accounts/login", json=body)
            reply.raise_for_status()
            self._session = reply.json()["inventory"]["uuid"]
        return {"Authorization": f"OAuth {self._session}"}

    def service(self, uuid: str) -> dict[str, Any] | None:
        """The model service as ZStack reports it, or None."""
        reply = self._http.get(f"/zstack/v1/ai/model-services/{uuid}", headers=self._auth())
        if reply.status_code == 503 and "ID.1001" in reply.text:
            self._session = None
            reply = self._http.get(f"/zstack/v1/ai/model-services/{uuid}", headers=self._auth())
        reply.raise_for_status()
        found: list[dict[str, Any]] = reply.json()["inventories"]
        return found[0] if found else None

    def models(self) -> list[dict[str, Any]]:
        """Every model the admin sees (QueryModel), the seeded ones included."""
        reply = self._http.get("/zstack/v1/ai/models", headers=self._auth())
        reply.raise_for_status()
        found: list[dict[str, Any]] = reply.json()["inventories"]
        return found

    def services(self) -> list[dict[str, Any]]:
        reply = self._http.get("/zstack/v1/ai/model-services", headers=self._auth())
        reply.raise_for_status()
        found: list[dict[str, Any]] = reply.json()["inventories"]
        return found

    def delete_behind_our_back(self, uuid: str) -> None:
        """Delete in ZStack directly (sync mode or not, wait for the job)."""
        reply = self._http.delete(f"/zstack/v1/ai/model-services/{uuid}", headers=self._auth())
        assert reply.status_code in (200, 202), reply.text
        if reply.status_code == 202:
            job = reply.json()["location"].rsplit("/", 1)[-1]
            for _ in range(200):
                polled = self._http.get(f"/zstack/v1/api-jobs/{job}")
                if polled.status_code != 202:
                    assert polled.status_code == 200, polled.text
                    return
                time.sleep(0.05)


def _sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


def secret_yaml(namespace: str, data: dict[str, str], name: str = SECRET_NAME) -> str:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    lines = "\n".join(f"  {k}: {v}" for k, v in encoded.items())
    return (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"type: Opaque\ndata:\n{lines}\n"
    )


@dataclass
class OperatorProcess:
    """One ``zstack-operator run`` process and its log file."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    history: list[str] = field(default_factory=list)

    #: Where this run's lines start in the log: a restarted process's health address is its own.
    log_offset: int = 0

    def start(self) -> None:
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=log, stderr=log)
        log.close()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no logout, exactly like a crashed pod."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health_url(self, timeout: float = 60) -> str:
        """The base URL of /healthz, /readyz and /metrics, as the operator logs it at start."""

        def logged() -> str | None:
            assert self.proc is not None
            assert self.proc.poll() is None, f"the operator exited:\n{self.logs()[-3000:]}"
            this_run = self.log_path.read_bytes()[self.log_offset :].decode(errors="replace")
            found = _HEALTH_URL.findall(this_run)
            return str(found[-1]) if found else None

        return wait_until(logged, timeout=timeout, message="the operator logs its health address")


class SimProcess:
    """``zstack-operator sim`` in its own process, with its state in SQLite (restartable)."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "zstack_operator", "sim",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--state-file", str(tmp / "zstack.sqlite"),
            "--job-duration-ms", "50", "--password", PASSWORD,
            *shlex.split(os.environ.get(SIM_ARGS_ENV, "")), *extra,
        ]  # fmt: skip
        self.log_path = tmp / "sim.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/_sim/counters", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"simulator did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def zstack(tmp_path: Path) -> Iterator[SimClient]:
    """A fresh simulator process (async jobs of 50 ms) and a synchronous client for it."""
    handle = SimProcess(tmp_path)
    handle.start()
    client = SimClient(handle.url, handle)
    yield client
    client.close()
    handle.stop()


@pytest.fixture
def credentials(kube: Kube, namespace: str) -> dict[str, str]:
    """The credentials Secret in the test namespace (the simulator's admin account)."""
    data = {"accountName": "admin", "password": PASSWORD}
    kube.apply(secret_yaml(namespace, data), namespace=namespace)
    return data


@pytest.fixture
def operator_factory(
    kube: Kube, namespace: str, zstack: SimClient, tmp_path: Path, modelservice_crd: Any
) -> Iterator[Callable[..., OperatorProcess]]:
    """Start ``zstack-operator run`` for the test namespace; all are stopped at teardown."""
    started: list[OperatorProcess] = []

    def start(
        *extra: str,
        drift_interval: float = 600,
        kubeconfig: Path | None = None,
        cluster_wide: bool = False,
        **env: str,
    ) -> OperatorProcess:
        """``kubeconfig`` runs it as another identity than admin (e.g. an RBAC-bound user);
        ``cluster_wide`` watches every namespace (and the cluster-scoped connections)."""
        scope = [] if cluster_wide else ["--namespace", namespace]
        # Each process is its own install (its own Lease), like a pod of its own Deployment,
        # and keeps its name across restart(), as a restarted container keeps the pod's: so it
        # leads at once, again after a SIGKILL. test_ha.py passes a shared Lease instead.
        number = len(started)
        election = ["--lease-name", f"operator-{number}", "--identity", f"operator-{number}"]
        args = [
            sys.executable, "-m", "zstack_operator", "run",
            *scope,
            # The simulator serves plain http on loopback.
            "--zstack-endpoint", zstack.url, "--allow-insecure-http",
            "--credentials-secret", f"{namespace}/{SECRET_NAME}",
            "--drift-interval", str(drift_interval),
            "--health-address", "127.0.0.1:0",
            *election,
            *extra,
        ]  # fmt: skip
        full_env = {**os.environ, "KUBECONFIG": str(kubeconfig or kube.kubeconfig), **env}
        op = OperatorProcess(args, full_env, tmp_path / f"operator-{len(started)}.log")
        op.start()
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()
        # Captured output is shown only when the test fails: the operator's side of the story.
        sys.stdout.write(f"--- {op.log_path.name} (tail) ---\n{op.logs()[-6000:]}\n")
