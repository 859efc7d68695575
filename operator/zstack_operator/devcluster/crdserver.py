"""A running v1.36 CRD server: Debian's etcd plus the standalone apiextensions API server.

Called by ``devcluster.cli`` (``up-modern``/``down-modern``) and the pytest fixtures in
``tests/support/modern_fixtures.py``. It serves CustomResourceDefinitions and custom resources
with Kubernetes 1.36 behaviour (CEL, server-side apply, OpenAPI v3) but has no core API, so it
is for CRD tests, not for the operator (docs/kubernetes-versions.md). Like ``cluster``, all of
it lives in one state dir whose ``state.json`` records the processes started, so only those are
ever signalled; the ``etcd`` process and its flags are the v1.20 dev cluster's
(``startup``). The one identity is a client certificate in ``system:masters``: the delegating
authorizer allows that group without asking anyone, which a server without a core API needs.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import cluster, credentials, modern, procs, startup, system
from .procs import ProcessRecord

Progress = Callable[[str], None]
SERVER = "apiextensions-apiserver"
COMPONENTS = ("etcd", SERVER)
ADMIN_SUBJECT = "/O=system:masters/CN=admin"
#: Without the core API the services informer never syncs, so plain /readyz never passes.
READY_PATH = "/readyz?exclude=informer-sync"
#: The server is ready in about a second; a loaded CI machine can be many times slower.
_READY_TIMEOUT = 90.0
_STATE = "state.json"
_START_ATTEMPTS = 3
#: Each would look up objects of the core API (Namespaces, webhook configurations, admission
#: policies) that this server does not have; with them on, every write fails or hangs.
_DISABLED_ADMISSION = (
    "NamespaceLifecycle",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
)


class CrdServerError(RuntimeError):
    """The CRD server could not be started; the message points at the log to read."""


def _quiet(message: str) -> None:
    startup.log.info("%s", message)


@dataclass(frozen=True)
class CrdServer:
    """Handle on a CRD server started by this package (in this process or another)."""

    state_dir: Path
    server: str
    processes: tuple[ProcessRecord, ...]

    @property
    def kubeconfig(self) -> Path:
        """Kubeconfig of ``admin`` (a ``system:masters`` client certificate, CA embedded)."""
        return self.state_dir / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate bundle (trust it to verify TLS)."""
        return self.state_dir / "certs" / "apiserver.crt"

    @property
    def port(self) -> int:
        """The API server's port on 127.0.0.1."""
        return int(self.server.rsplit(":", 1)[1])

    @property
    def kubectl(self) -> Path:
        """The kubectl 1.36 fetched with the server (kubectl <= 1.20 cannot read its OpenAPI)."""
        return modern.cached_binaries() / "kubectl"

    def is_running(self) -> bool:
        """Whether every recorded process is still the one we started."""
        return len(self.processes) == len(COMPONENTS) and all(
            p.is_running() for p in self.processes
        )

    def is_ready(self) -> bool:
        """Running, and ``READY_PATH`` answers 200 to the admin."""
        return self.is_running() and _ready(self.state_dir, self.port)

    @classmethod
    def attach(cls, state_dir: Path) -> CrdServer | None:
        """The server recorded in ``state_dir``, running or not; ``None`` if none is."""
        try:
            data = json.loads((state_dir / _STATE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return cls(
            state_dir=state_dir,
            server=str(data["server"]),
            processes=tuple(ProcessRecord.from_json(p) for p in data["processes"]),
        )

    @classmethod
    def start(cls, state_dir: Path, *, progress: Progress | None = None) -> CrdServer:
        """Start a fresh server in ``state_dir`` (empty or absent); the build must exist."""
        say = progress or _quiet
        state_dir = state_dir.absolute()
        with cluster._state_lock(state_dir):
            return cls._start_locked(state_dir, say)

    @classmethod
    def ensure_running(
        cls, state_dir: Path, *, progress: Progress | None = None
    ) -> tuple[CrdServer, bool]:
        """The ready server of ``state_dir`` (started if needed) and whether it is new."""
        say = progress or _quiet
        state_dir = state_dir.absolute()
        with cluster._state_lock(state_dir):
            existing = cls.attach(state_dir)
            if existing is not None:
                if existing.is_ready():
                    return existing, False
                say(f"{state_dir} records a CRD server that is not ready; replacing it")
                existing.stop(progress=say)
            return cls._start_locked(state_dir, say), True

    @classmethod
    def stop_recorded(cls, state_dir: Path, *, progress: Progress | None = None) -> bool:
        """``down-modern``: stop the server recorded in ``state_dir``; False if none was."""
        state_dir = state_dir.absolute()
        with cluster._state_lock(state_dir):
            found = cls.attach(state_dir)
            if found is None:
                return False
            found.stop(progress=progress)
            return True

    @classmethod
    def _start_locked(cls, state_dir: Path, say: Progress) -> CrdServer:
        if (state_dir / _STATE).exists():
            raise CrdServerError(f"{state_dir} already holds a server; stop it first")
        if state_dir.exists() and any(state_dir.iterdir()):
            raise CrdServerError(f"{state_dir} is not empty and not a CRD-server state dir")
        bin_dir = modern.cached_binaries()
        if not (shutil.which("etcd") and shutil.which("openssl")):
            system.ensure_packages(system.RUNTIME_PACKAGES, say)
        for attempt in range(1, _START_ATTEMPTS + 1):
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                _start_attempt(state_dir, bin_dir, say)
            except startup.PortInUseError as exc:
                cluster._wipe(state_dir)
                if attempt == _START_ATTEMPTS:
                    raise CrdServerError(str(exc)) from exc
                say(f"{exc}; retrying with other ports")
                continue
            except (startup.StartupError, procs.SpawnError, OSError) as exc:
                raise CrdServerError(f"{exc}\n(state and logs kept in {state_dir})") from exc
            break
        found = cls.attach(state_dir)
        if found is None:  # pragma: no cover - _save wrote it above
            raise CrdServerError(f"{state_dir / _STATE} vanished during start")
        return found

    def stop(self, *, progress: Progress | None = None) -> None:
        """Stop exactly the recorded processes (TERM, then KILL) and remove the state dir."""
        say = progress or _quiet
        # The API server first: it would otherwise log etcd errors while shutting down.
        procs.stop_all(tuple(reversed(self.processes)), say)
        if (self.state_dir / _STATE).exists():
            shutil.rmtree(self.state_dir, ignore_errors=True)


def _start_attempt(state_dir: Path, bin_dir: Path, say: Progress) -> None:
    """One try at starting; whatever it started is stopped again if the try fails."""
    # The v1.20 cluster's plan type, for its etcd flags and file layout; no token users here.
    plan = startup.Plan(
        state_dir=state_dir,
        bin_dir=bin_dir,
        etcd_port=procs.free_loopback_port(),
        peer_port=procs.free_loopback_port(),
        api_port=procs.free_loopback_port(),
        users=(),
    )
    records: list[ProcessRecord] = []

    def record(proc: ProcessRecord) -> None:
        records.append(proc)
        _save(plan, records)

    _save(plan, records)
    try:
        _run(plan, record, say)
    except BaseException:
        procs.stop_all(records, say)
        raise


def _run(plan: startup.Plan, record: Callable[[ProcessRecord], None], say: Progress) -> None:
    plan.path("logs").mkdir(exist_ok=True)
    _write_client_certs(plan.path("pki"))
    # Flags the server requires but never uses: nothing here asks it to look anyone up
    # (client certificates only, system:masters only), and it has no core API to watch.
    _write_unreachable_kubeconfig(plan.path("unused-kubeconfig"))

    say(f"starting etcd on 127.0.0.1:{plan.etcd_port}")
    etcd_binary = shutil.which("etcd") or "/usr/bin/etcd"
    etcd = startup._start(plan, "etcd", [etcd_binary, *startup._etcd_flags(plan)], record)
    startup._wait(etcd, lambda: startup._etcd_healthy(plan.etcd_port))

    say(f"starting the {modern.kubernetes_version()} apiextensions API server on {plan.server}")
    argv = [str(plan.bin_dir / modern.SERVER_BINARY), *_server_flags(plan)]
    server = startup._start(plan, SERVER, argv, record)
    _wait_ready(server, plan)
    _write_kubeconfig(plan)


def _server_flags(plan: startup.Plan) -> list[str]:
    unused = plan.path("unused-kubeconfig")
    return [
        f"--etcd-servers=http://127.0.0.1:{plan.etcd_port}",
        f"--secure-port={plan.api_port}",
        "--bind-address=127.0.0.1",
        f"--cert-dir={plan.path('certs')}",
        f"--client-ca-file={plan.path('pki') / 'ca.crt'}",
        f"--kubeconfig={unused}",
        f"--authentication-kubeconfig={unused}",
        f"--authorization-kubeconfig={unused}",
        # Else it reads the extension-apiserver-authentication ConfigMap from the core API.
        "--authentication-skip-lookup",
        # Flow control keeps its configuration in objects of a group this server lacks.
        "--enable-priority-and-fairness=false",
        f"--disable-admission-plugins={','.join(_DISABLED_ADMISSION)}",
    ]


def _wait_ready(proc: ProcessRecord, plan: startup.Plan) -> None:
    started = time.monotonic()
    while True:
        if not proc.is_running():
            tail = proc.log_tail()
            error = startup.PortInUseError if "address already in use" in tail else None
            raise (error or startup.StartupError)(
                f"{proc.name} exited during start; {proc.log}:\n{tail}"
            )
        if _ready(plan.state_dir, plan.api_port):
            startup.log.info("%s ready after %.1fs", proc.name, time.monotonic() - started)
            return
        if time.monotonic() - started > _READY_TIMEOUT:
            raise startup.StartupError(
                f"{proc.name} not ready after {_READY_TIMEOUT:.0f}s; {proc.log}:\n{proc.log_tail()}"
            )
        time.sleep(0.2)


def _ready(state_dir: Path, port: int) -> bool:
    ca_file = state_dir / "certs" / "apiserver.crt"
    pki = state_dir / "pki"
    if not ca_file.exists():
        return False
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    except (OSError, ssl.SSLError):
        # The server writes its certificate a moment after it starts; not ready yet.
        return False
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5.0)
    try:
        conn.request("GET", READY_PATH)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise startup.StartupError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _write_client_certs(pki: Path) -> None:
    """A throw-away client CA and the admin's certificate signed by it (P-256: fast to make)."""
    pki.mkdir(mode=0o700)
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req", "-x509", *curve, "-days", "3650", "-subj", "/CN=zstack-dev-crd-server-client-ca",
        "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"),
    )  # fmt: skip
    _openssl(
        "req", *curve, "-subj", ADMIN_SUBJECT,
        "-keyout", str(pki / "admin.key"), "-out", str(pki / "admin.csr"),
    )  # fmt: skip
    (pki / "client.ext").write_text("extendedKeyUsage = clientAuth\n", encoding="utf-8")
    _openssl(
        "x509", "-req", "-in", str(pki / "admin.csr"), "-days", "3650",
        "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"), "-CAcreateserial",
        "-extfile", str(pki / "client.ext"), "-out", str(pki / "admin.crt"),
    )  # fmt: skip
    for key in ("ca.key", "admin.key"):
        (pki / key).chmod(0o600)


def _write_unreachable_kubeconfig(path: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        # Port 1 on loopback: refused at once if anything ever tries, never a real server.
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "none", "user": {}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
        "current-context": "none",
    }
    credentials._private_file(path, yaml.safe_dump(config, sort_keys=False))


def _write_kubeconfig(plan: startup.Plan) -> None:
    """Self-contained (CA, certificate and key embedded) for kubectl and Python clients."""

    def data(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    pki = plan.path("pki")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "crd-server",
                "cluster": {
                    "server": plan.server,
                    "certificate-authority-data": data(plan.path("certs") / "apiserver.crt"),
                },
            }
        ],
        "users": [
            {
                "name": credentials.ADMIN,
                "user": {
                    "client-certificate-data": data(pki / "admin.crt"),
                    "client-key-data": data(pki / "admin.key"),
                },
            }
        ],
        "contexts": [
            {
                "name": "crd-server-admin",
                "context": {
                    "cluster": "crd-server",
                    "user": credentials.ADMIN,
                    "namespace": "default",
                },
            }
        ],
        "current-context": "crd-server-admin",
        "preferences": {},
    }
    credentials._private_file(plan.path("kubeconfig"), yaml.safe_dump(config, sort_keys=False))


def _save(plan: startup.Plan, records: list[ProcessRecord]) -> None:
    data = {
        "server": plan.server,
        "ports": plan.ports,
        "processes": [record.to_json() for record in records],
    }
    path = plan.state_dir / _STATE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
