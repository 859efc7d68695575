"""Pytest fixtures that start ZStack simulators, and raw-HTTP helpers for talking to them.

- ``sim``: a fresh in-process simulator (async mode, no latency, 20 ms jobs).
- ``sim_factory``: start in-process simulators with any ``SimConfig``; all stop at teardown.
- ``sim_process_factory``: run ``zstack-operator sim`` as a subprocess on a free port, with a
  state file so ``restart()`` keeps its world; for e2e and chaos tests.

The helpers (``login``, ``call``, ``wait_job``) speak plain HTTP with httpx and never use the
operator's client, so simulator tests do not depend on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from zstack_operator.sim import SimAdmin, SimConfig, Simulator, running_simulator

#: What the ``sim`` fixture runs: quick jobs so tests do not wait.
FAST = SimConfig(job_duration_ms=20)
PASSWORD_SHA512 = hashlib.sha512(b"password").hexdigest()


class SimFactory(Protocol):
    """Starts an in-process simulator; keyword arguments override ``SimConfig`` fields."""

    async def __call__(self, config: SimConfig | None = None, **overrides: Any) -> Simulator: ...


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A fresh in-process simulator with fast jobs."""
    async with running_simulator(FAST) as simulator:
        yield simulator


@pytest.fixture
async def sim_factory() -> AsyncIterator[SimFactory]:
    """Start in-process simulators (``FAST`` unless told otherwise); all stop at teardown."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(config: SimConfig | None = None, **overrides: Any) -> Simulator:
            chosen = dataclasses.replace(config or FAST, **overrides)
            return await stack.enter_async_context(running_simulator(chosen))

        yield start


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SimProcess:
    """``zstack-operator sim`` running as a child process."""

    def __init__(self, args: list[str], port: int, state_file: Path, log_file: Path) -> None:
        self.port = port
        self.state_file = state_file
        self.log_file = log_file
        self.url = f"http://127.0.0.1:{port}"
        self.admin = SimAdmin(self.url)
        self._args = args
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.returncode is None

    async def start(self, wait_s: float = 20.0) -> None:
        """Start the process and wait until its admin API answers."""
        cmd = [sys.executable, "-m", "zstack_operator", "sim", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--state-file", str(self.state_file), *self._args]
        with self.log_file.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(*cmd, stdout=log, stderr=log)
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as http:
            for _ in range(int(wait_s / 0.05)):
                if not self.running:
                    break
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{self.url}/_sim/counters")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"simulator did not start: {self.log_file.read_text()[-2000:]}")

    async def _signal(self, sig: signal.Signals) -> int | None:
        if self._proc is None or self._proc.returncode is not None:
            return None if self._proc is None else self._proc.returncode
        self._proc.send_signal(sig)
        return await asyncio.wait_for(self._proc.wait(), 20)

    async def stop(self) -> int | None:
        """SIGTERM (a graceful stop); returns the exit code."""
        return await self._signal(signal.SIGTERM)

    async def kill(self) -> int | None:
        """SIGKILL (a crash); returns the exit code."""
        return await self._signal(signal.SIGKILL)

    async def restart(self) -> None:
        """Stop if running, then start again on the same port with the same state file."""
        await self.stop()
        await self.start()


class SimProcessFactory(Protocol):
    """Starts ``zstack-operator sim`` with extra command-line options."""

    async def __call__(self, *args: str, state_file: Path | None = None) -> SimProcess: ...


@pytest.fixture
async def sim_process_factory(tmp_path: Path) -> AsyncIterator[SimProcessFactory]:
    """Run simulators as subprocesses; each gets a state file unless one is given."""
    started: list[SimProcess] = []

    async def start(*args: str, state_file: Path | None = None) -> SimProcess:
        n = len(started)
        proc = SimProcess(
            list(args),
            free_port(),
            state_file or tmp_path / f"sim-{n}.sqlite",
            tmp_path / f"sim-{n}.log",
        )
        started.append(proc)
        await proc.start()
        return proc

    yield start
    for proc in started:
        await proc.kill()
        await proc.admin.aclose()


def api_url(base: str, path: str) -> str:
    """Full URL of an API path given below ``/zstack/v1``."""
    return f"{base}/zstack/v1{path}"


async def login(
    http: httpx.AsyncClient, base: str, account: str = "admin", password: str | None = None
) -> str:
    """Log in (as the default admin unless told); returns the session uuid.

    ``password`` is the plain text; None is the admin's default.
    """
    hashed = PASSWORD_SHA512 if password is None else hashlib.sha512(password.encode()).hexdigest()
    body = {"logInByAccount": {"accountName": account, "password": hashed}}
    response = await http.put(api_url(base, "/accounts/login"), json=body)
    assert response.status_code == 200, response.text
    session: str = response.json()["inventory"]["uuid"]
    return session


async def wait_job(http: httpx.AsyncClient, location: str, wait_s: float = 10.0) -> httpx.Response:
    """Poll a job location until it is no longer running (202)."""
    for _ in range(int(wait_s / 0.01)):
        response = await http.get(location)
        if response.status_code != 202:
            return response
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {location} still running after {wait_s}s")


async def call(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send an API request; a 202 is followed to the job's final answer."""
    response = await http.request(method, url, **kwargs)
    if response.status_code == 202:
        return await wait_job(http, response.json()["location"])
    return response
