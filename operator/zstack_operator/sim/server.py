"""Starting and stopping simulators: in-process for tests, forever for the CLI.

``running_simulator`` is the async context manager tests and benchmarks use: it binds (port 0
picks a free one), resumes persisted jobs, and yields a ``Simulator`` handle with ``url`` (the
endpoint root; clients append ``/zstack/v1``) and ``admin`` (a ``SimAdmin``). ``serve`` runs one
until asked to stop, for ``zstack-operator sim``.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from . import accounts, accounts_api, deploy_ops, identity_api, models_ops, services_ops, tags_api
from .admin import SimAdmin
from .app import build_app
from .config import SimConfig
from .faults import Counters, Faults
from .jobs import JobManager
from .runtime import SimContext
from .state import State


@dataclass(frozen=True)
class Simulator:
    """A running simulator."""

    url: str
    admin: SimAdmin
    context: SimContext

    @property
    def config(self) -> SimConfig:
        """The configuration it was started with."""
        return self.context.config

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self.context.port


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A restarted simulator must get its port back while old connections sit in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def build_context(config: SimConfig) -> SimContext:
    """A simulator's runtime, with its state loaded (or seeded) and its job kinds registered."""
    state = State(config.state_file)
    faults = Faults.from_config(config)
    jobs = JobManager(state, faults, config.job_ttl)
    ctx = SimContext(config, state, faults, Counters(), jobs, random.Random(config.seed))
    services_ops.register(ctx)
    models_ops.register(ctx)
    deploy_ops.register(ctx)
    identity_api.register(ctx)
    accounts_api.register(ctx)
    tags_api.register(ctx)
    try:
        accounts.ensure_tenants(ctx)
    except BaseException:
        state.close()
        raise
    return ctx


@asynccontextmanager
async def running_simulator(config: SimConfig | None = None) -> AsyncIterator[Simulator]:
    """Run a simulator on this event loop for the duration of the ``async with`` block."""
    config = config or SimConfig()
    ctx = build_context(config)
    # A synchronous-mode request waiting on a held job would otherwise delay shutdown by 60 s.
    runner = web.AppRunner(build_app(ctx), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        sock = _bind(config.host, config.port)
        ctx.port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        ctx.jobs.start()
        admin = SimAdmin(ctx.url)
        try:
            yield Simulator(ctx.url, admin, ctx)
        finally:
            await admin.aclose()
            await ctx.jobs.close()
    finally:
        await runner.cleanup()
        ctx.state.close()


async def serve(
    config: SimConfig, on_ready: Callable[[Simulator], None], stop: asyncio.Event
) -> None:
    """Run a simulator until ``stop`` is set; ``on_ready`` is called once it listens."""
    async with running_simulator(config) as sim:
        on_ready(sim)
        await stop.wait()
