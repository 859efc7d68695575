"""The bench's child processes: the simulator, ``zstack-operator run`` and the bare kopf program.

Used by ``bench.cli`` and ``bench.runs``. Each child is ``python -m ...`` of this interpreter,
logs to a file in the output dir, is stopped by its own pid (SIGTERM, then SIGKILL), and has
its peak RSS read from ``/proc/PID/status`` (``VmHWM``) while it is still alive.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from ..devcluster.procs import free_loopback_port
from .apimetrics import cpu_ticks, vm_hwm_kib


class ChildError(RuntimeError):
    """A child process did not start or died; the message names its log."""


class Child:
    """One child process writing to one log file."""

    def __init__(self, name: str, args: Sequence[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.args = list(args)
        self.log = log
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        """Spawn it (its log starts empty)."""
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int:
        """The process id (it must have been started)."""
        if self.proc is None:
            raise ChildError(f"{self.name} was never started")
        return self.proc.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        """Raise ChildError if the process has died."""
        if self.proc is not None and self.proc.poll() is not None:
            raise ChildError(
                f"{self.name} exited with {self.proc.returncode}; see {self.log}\n"
                + self.log.read_text(errors="replace")[-2000:]
            )

    def peak_rss_kib(self) -> int | None:
        """``VmHWM`` of the running process (None once it is gone)."""
        if not self.alive():
            return None
        try:
            return vm_hwm_kib(Path(f"/proc/{self.pid}/status").read_text())
        except OSError:
            return None

    def stop(self, grace: float = 60.0, sig: signal.Signals = signal.SIGTERM) -> int | None:
        """``sig`` (SIGTERM), then SIGKILL after ``grace`` seconds; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def cpu_seconds(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) each named live process has used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            out[name] = cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / tick
        except (OSError, ValueError):
            continue
    return out


def cpu_delta(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds used between two ``cpu_seconds`` snapshots, per process."""
    return {k: round(v - before.get(k, 0.0), 2) for k, v in after.items()}


def python_module(module: str, *args: str) -> list[str]:
    """``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def child_env(kubeconfig: Path | None = None) -> dict[str, str]:
    """The environment of the bench, with ``KUBECONFIG`` pointing at the bench cluster."""
    env = dict(os.environ)
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return env


async def wait_http(url: str, child: Child, patience: float = 60.0) -> float:
    """Poll ``url`` until it answers 200; seconds since the child started."""
    deadline = time.monotonic() + patience
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            child.check()
            try:
                if (await http.get(url)).status_code == 200:
                    return time.monotonic() - child.started_at
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise ChildError(f"{url} did not answer within {patience:g} s; see {child.log}")


async def wait_file(path: Path, child: Child, patience: float = 60.0) -> float:
    """Wait until ``path`` exists; seconds since the child started."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        child.check()
        if await asyncio.to_thread(path.exists):
            return time.monotonic() - child.started_at
        await asyncio.sleep(0.05)
    raise ChildError(f"{child.name} did not get ready within {patience:g} s; see {child.log}")


async def start_simulator(
    out: Path, latency_ms: float, job_duration_ms: float, extra: Sequence[str] = ()
) -> Child:
    """``zstack-operator sim`` on a free loopback port (its state in memory); ``extra`` options."""
    port = free_loopback_port()
    sim = Child(
        "simulator",
        python_module(
            "zstack_operator", "sim", "--host", "127.0.0.1", "--port", str(port),
            "--latency-ms", f"{latency_ms:g}", "--job-duration-ms", f"{job_duration_ms:g}",
            "--log-level", "WARNING", *extra,
        ),
        out / "sim.log",
        child_env(),
    )  # fmt: skip
    sim.start()
    await wait_http(f"{sim_url(sim)}/_sim/counters", sim)
    return sim


def sim_url(sim: Child) -> str:
    """The simulator's endpoint root, from the ``--port`` it was given."""
    port = sim.args[sim.args.index("--port") + 1]
    return f"http://127.0.0.1:{port}"
