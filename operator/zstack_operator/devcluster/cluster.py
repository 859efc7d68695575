"""A running dev cluster: etcd, kube-apiserver and kube-controller-manager on loopback.

Called by ``devcluster.cli`` (``up``/``down``/``status``) and the pytest fixtures in
``tests/support/kube_fixtures.py``. Flags follow docs/CONTROL-PLANE.md ("Run"). Everything a
cluster owns lives in its state dir; ``state.json`` there records what was started, so only a
dir holding it is ever removed and only processes recorded in it are ever signalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import build, credentials, procs, rest, startup, system
from .procs import ProcessRecord

Progress = Callable[[str], None]
_STATE = "state.json"
#: Port pickers race with everyone else on the machine; a collision is retried with new ports.
_START_ATTEMPTS = 3


class ClusterError(RuntimeError):
    """The cluster could not be started; the message points at the log to read."""


def _quiet(message: str) -> None:
    startup.log.info("%s", message)


@dataclass(frozen=True)
class DevCluster:
    """Handle on a control plane started by this package (in this process or another)."""

    state_dir: Path
    server: str
    processes: tuple[ProcessRecord, ...]
    users: tuple[str, ...]

    @property
    def ca_file(self) -> Path:
        """The API server's self-signed certificate bundle (trust it to verify TLS)."""
        return self.state_dir / "certs" / "apiserver.crt"

    @property
    def kubeconfig(self) -> Path:
        """Kubeconfig of ``admin`` (``system:masters``)."""
        return self.kubeconfig_for(credentials.ADMIN)

    def kubeconfig_for(self, user: str) -> Path:
        """Kubeconfig of one of :attr:`users` (``admin``, ``zstack-operator``, ``viewer``)."""
        if user not in self.users:
            raise KeyError(f"unknown dev-cluster user {user!r}; known: {', '.join(self.users)}")
        return self.state_dir / credentials.kubeconfig_name(user)

    @property
    def port(self) -> int:
        """The API server's port on 127.0.0.1."""
        return int(self.server.rsplit(":", 1)[1])

    def is_running(self) -> bool:
        """Whether every recorded process is still the one we started."""
        return bool(self.processes) and all(p.is_running() for p in self.processes)

    def is_ready(self) -> bool:
        """Running, and ``/readyz`` answers 200 to the admin."""
        if len(self.processes) < len(startup.COMPONENTS) or not self.is_running():
            return False
        try:
            token = credentials.read_admin_token(self.state_dir / "tokens.csv")
            status, _ = rest.call(self.port, self.ca_file, token, "GET", "/readyz")
        except (OSError, LookupError):
            return False
        return status == 200

    @classmethod
    def attach(cls, state_dir: Path) -> DevCluster | None:
        """The cluster recorded in ``state_dir``, running or not; ``None`` if none is."""
        try:
            data = json.loads((state_dir / _STATE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return cls(
            state_dir=state_dir,
            server=str(data["server"]),
            processes=tuple(ProcessRecord.from_json(p) for p in data["processes"]),
            users=tuple(data["users"]),
        )

    @classmethod
    def start(cls, state_dir: Path, *, progress: Progress | None = None) -> DevCluster:
        """Build if needed, then start a fresh cluster in ``state_dir`` (empty or absent)."""
        say = progress or _quiet
        state_dir = state_dir.absolute()
        with _state_lock(state_dir):
            return cls._start_locked(state_dir, say)

    @classmethod
    def ensure_running(
        cls, state_dir: Path, *, progress: Progress | None = None
    ) -> tuple[DevCluster, bool]:
        """The ready cluster of ``state_dir`` (started if needed) and whether it is new."""
        say = progress or _quiet
        state_dir = state_dir.absolute()
        with _state_lock(state_dir):
            existing = cls.attach(state_dir)
            if existing is not None:
                if existing.is_ready():
                    return existing, False
                say(f"{state_dir} records a cluster that is not ready; replacing it")
                existing.stop(progress=say)
            return cls._start_locked(state_dir, say), True

    @classmethod
    def stop_recorded(cls, state_dir: Path, *, progress: Progress | None = None) -> bool:
        """``down``: stop the cluster recorded in ``state_dir``; False if none was recorded."""
        state_dir = state_dir.absolute()
        with _state_lock(state_dir):
            cluster = cls.attach(state_dir)
            if cluster is None:
                return False
            cluster.stop(progress=progress)
            return True

    @classmethod
    def _start_locked(cls, state_dir: Path, say: Progress) -> DevCluster:
        if (state_dir / _STATE).exists():
            raise ClusterError(f"{state_dir} already holds a cluster; stop it first (`down`)")
        if state_dir.exists() and any(state_dir.iterdir()):
            raise ClusterError(f"{state_dir} is not empty and not a dev-cluster state dir")
        bin_dir = build.ensure_built(say)
        if not (shutil.which("etcd") and shutil.which("openssl")):
            system.ensure_packages(system.RUNTIME_PACKAGES, say)
        for attempt in range(1, _START_ATTEMPTS + 1):
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                _start_attempt(state_dir, bin_dir, say)
            except startup.PortInUseError as exc:
                _wipe(state_dir)
                if attempt == _START_ATTEMPTS:
                    raise ClusterError(str(exc)) from exc
                say(f"{exc}; retrying with other ports")
                continue
            except (startup.StartupError, procs.SpawnError, OSError) as exc:
                raise ClusterError(f"{exc}\n(state and logs kept in {state_dir})") from exc
            break
        cluster = cls.attach(state_dir)
        if cluster is None:  # pragma: no cover - _save wrote it above
            raise ClusterError(f"{state_dir / _STATE} vanished during start")
        return cluster

    def restart_apiserver(self, *, progress: Progress | None = None) -> DevCluster:
        """Stop kube-apiserver and start it again on the same port; etcd and the rest keep running.

        What clients see of an API server crash or upgrade: watches and requests fail for a few
        seconds, then everything (kept in etcd) is back. The new process is recorded in
        ``state.json`` at once; returns the refreshed handle when ``/readyz`` answers again.
        """
        say = progress or _quiet
        with _state_lock(self.state_dir):
            data = json.loads((self.state_dir / _STATE).read_text(encoding="utf-8"))
            plan = startup.Plan.recorded(self.state_dir, build.cached_binaries(), data["ports"])
            records = [ProcessRecord.from_json(p) for p in data["processes"]]
            index = next(i for i, r in enumerate(records) if r.name == "kube-apiserver")
            procs.stop_all([records[index]], say)

            def record(proc: ProcessRecord) -> None:
                records[index] = proc
                _save(plan, records)

            try:
                startup.start_apiserver(plan, record, say)
            except (startup.StartupError, procs.SpawnError, OSError) as exc:
                raise ClusterError(f"restarting kube-apiserver failed: {exc}") from exc
        cluster = self.attach(self.state_dir)
        if cluster is None:  # pragma: no cover - record() rewrote it above
            raise ClusterError(f"{self.state_dir / _STATE} vanished during the restart")
        return cluster

    def stop(self, *, progress: Progress | None = None) -> None:
        """Stop exactly the recorded processes (TERM, then KILL) and remove the state dir."""
        say = progress or _quiet
        # The controller-manager first: it would otherwise log errors while the API goes away.
        procs.stop_all(tuple(reversed(self.processes)), say)
        if (self.state_dir / _STATE).exists():
            shutil.rmtree(self.state_dir, ignore_errors=True)


def _start_attempt(state_dir: Path, bin_dir: Path, say: Progress) -> None:
    """One try at starting; whatever it started is stopped again if the try fails."""
    plan = startup.Plan.new(state_dir, bin_dir)
    records: list[ProcessRecord] = []

    def record(proc: ProcessRecord) -> None:
        records.append(proc)
        _save(plan, records)

    _save(plan, records)
    try:
        startup.run(plan, record, say)
    except BaseException:
        procs.stop_all(records, say)
        raise


def _save(plan: startup.Plan, records: list[ProcessRecord]) -> None:
    data = {
        "server": plan.server,
        "users": [user.name for user in plan.users],
        "ports": plan.ports,
        "processes": [record.to_json() for record in records],
    }
    path = plan.state_dir / _STATE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _wipe(state_dir: Path) -> None:
    for child in state_dir.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


@contextlib.contextmanager
def _state_lock(state_dir: Path) -> Iterator[None]:
    """Serialise up/start on one state dir; the lock file sits beside it, surviving ``down``."""
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = state_dir.parent / f".{state_dir.name}.lock"
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
