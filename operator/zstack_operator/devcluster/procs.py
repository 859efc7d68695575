"""Detached processes with an identity that survives pid reuse: spawn, check, stop.

Used by ``cluster.DevCluster``. A process is recorded as pid plus its start time from
``/proc/PID/stat``; a later check or kill first compares the start time, so ``down`` run days
later never signals an unrelated process that inherited the pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Progress = Callable[[str], None]

#: SIGTERM grace before SIGKILL; kube-apiserver drains and etcd syncs within a second or two.
TERM_GRACE_SECONDS = 10.0


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, start time in clock ticks)`` of ``pid``, or ``None`` if it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may contain spaces and parentheses; fields resume after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


@dataclass(frozen=True)
class ProcessRecord:
    """One process this package started: enough to find it again, and nothing else."""

    name: str
    pid: int
    start_time: int
    log: Path

    def is_running(self) -> bool:
        """Whether the very process we started is still alive (zombies count as gone)."""
        stat = _proc_stat(self.pid)
        if stat is None or stat[1] != self.start_time:
            return False
        if stat[0] == "Z":
            # Reap it if it happens to be our child; otherwise its parent will.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, os.WNOHANG)
            return False
        return True

    def signal(self, signum: int) -> None:
        """Send ``signum`` only if the recorded process is still the one running."""
        if self.is_running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of its log, for error messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def to_json(self) -> dict[str, Any]:
        """The form stored in ``state.json``."""
        return {
            "name": self.name,
            "pid": self.pid,
            "start_time": self.start_time,
            "log": str(self.log),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        """Inverse of :meth:`to_json`."""
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            start_time=int(data["start_time"]),
            log=Path(data["log"]),
        )


class SpawnError(RuntimeError):
    """A process could not be started or died right away."""


def spawn(name: str, argv: Sequence[str], log: Path, env: Mapping[str, str]) -> ProcessRecord:
    """Start ``argv`` detached (own session, not our child), output appended to ``log``."""
    result = subprocess.run(
        [sys.executable, "-m", "zstack_operator.devcluster.detach", str(log), "--", *argv],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SpawnError(f"could not start {name}: {result.stderr.strip()}")
    pid = int(result.stdout.strip())
    stat = _proc_stat(pid)
    if stat is None or stat[0] == "Z":
        record = ProcessRecord(name, pid, -1, log)
        raise SpawnError(f"{name} exited at once; log {log}:\n{record.log_tail()}")
    return ProcessRecord(name, pid, stat[1], log)


def stop_all(records: Sequence[ProcessRecord], progress: Progress) -> None:
    """SIGTERM every recorded process still running, then SIGKILL what outlives the grace."""
    alive = [record for record in records if record.is_running()]
    for record in alive:
        progress(f"stopping {record.name} (pid {record.pid})")
        record.signal(signal.SIGTERM)
    alive = _wait_gone(alive, TERM_GRACE_SECONDS)
    for record in alive:
        progress(f"{record.name} (pid {record.pid}) ignored SIGTERM; sending SIGKILL")
        record.signal(signal.SIGKILL)
    alive = _wait_gone(alive, 5.0)
    if alive:
        names = ", ".join(f"{r.name} (pid {r.pid})" for r in alive)
        raise SpawnError(f"still running after SIGKILL: {names}")


def _wait_gone(records: list[ProcessRecord], seconds: float) -> list[ProcessRecord]:
    deadline = time.monotonic() + seconds
    while True:
        records = [record for record in records if record.is_running()]
        if not records or time.monotonic() >= deadline:
            return records
        time.sleep(0.1)
