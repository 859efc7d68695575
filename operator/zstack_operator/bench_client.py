"""The ``zstack-operator bench-client`` subcommand: how fast the ZStack client and simulator are.

Starts a local simulator (in this process, or with ``--sim-process`` as a child process so
client and server do not share one CPU), then measures and prints a small table:

- add + poll: N AddModelService calls at concurrency C, each polled to completion;
- single gets: ``get_model_service`` at concurrency C;
- batch gets: ``get_model_services`` over 1,000 uuids (one ``q=uuid?=`` query each);
- the simulator's overhead per request: the sequential round trip of its cheapest API path
  (``GET /api-jobs/<unknown>``, a 404) minus the configured latency, sent with plain httpx.

Registered by ``zstack_operator.cli``; heavy imports happen inside ``run``. The defaults finish
in well under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .sim import SimAdmin
    from .zstack import ZStackClient


def register(subparsers: Any) -> None:
    """Add the ``bench-client`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bench-client",
        help="benchmark the ZStack client against a local simulator",
        description="Start a local ZStack simulator and measure the client's request rates "
        "(add + poll, single get, 1000-uuid batch get) and the simulator's own overhead.",
    )
    p.add_argument("--creates", type=int, default=1000, help="AddModelService calls (%(default)s)")
    p.add_argument("--gets", type=int, default=1000, help="single gets (%(default)s)")
    p.add_argument("--batches", type=int, default=10, help="1000-uuid batch gets (%(default)s)")
    p.add_argument("--concurrency", type=int, default=32, help="concurrent callers (%(default)s)")
    p.add_argument(
        "--max-in-flight", type=int, default=32, help="client's request cap (%(default)s)"
    )
    p.add_argument("--latency-ms", type=float, default=0.0, help="simulator latency (%(default)s)")
    p.add_argument(
        "--job-duration-ms", type=float, default=20.0, help="simulator job time (%(default)s)"
    )
    p.add_argument("--mode", choices=["async", "sync"], default="async", help="(%(default)s)")
    p.add_argument(
        "--sim-process",
        action="store_true",
        help="run the simulator as a child process instead of in this one",
    )
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    what: str
    count: int
    seconds: float
    #: HTTP requests the simulator counted during the measurement.
    requests: int
    #: Mean time one operation took, waiting for a free slot included.
    mean_ms: float

    def render(self) -> str:
        """The row as fixed-width text under ``HEADER``."""
        rate = self.count / self.seconds if self.seconds > 0 else float("inf")
        http = self.requests / self.seconds if self.seconds > 0 else float("inf")
        return (
            f"{self.what:<44}{self.count:>7}{self.seconds:>9.2f}{rate:>10.0f}{http:>10.0f}"
            f"{self.mean_ms:>10.2f}"
        )


HEADER = f"{'measurement':<44}{'count':>7}{'seconds':>9}{'ops/s':>10}{'HTTP/s':>10}{'mean ms':>10}"


async def _run_concurrently(
    count: int, concurrency: int, work: Callable[[int], Awaitable[object]]
) -> tuple[float, float]:
    """Run ``work(i)`` for every i, at most ``concurrency`` at once: (seconds, mean op ms)."""
    queue = iter(range(count))
    took: list[float] = []

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            await work(i)
            took.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))
    seconds = time.perf_counter() - started
    return seconds, 1000 * sum(took) / len(took) if took else 0.0


async def _requests(admin: SimAdmin) -> int:
    counters = await admin.counters()
    return sum(counters.count(api) for api in counters.requests)


@contextlib.asynccontextmanager
async def _simulator(args: argparse.Namespace) -> AsyncIterator[tuple[str, SimAdmin]]:
    from .sim import SimAdmin, SimConfig, SimMode, running_simulator

    if not args.sim_process:
        config = SimConfig(
            mode=SimMode(args.mode),
            latency_ms=args.latency_ms,
            job_duration_ms=args.job_duration_ms,
        )
        async with running_simulator(config) as sim:
            yield sim.url, sim.admin
        return
    cmd = [sys.executable, "-m", "zstack_operator", "sim", "--port", "0", "--log-level", "ERROR"]
    cmd += ["--mode", args.mode, "--latency-ms", str(args.latency_ms)]
    cmd += ["--job-duration-ms", str(args.job_duration_ms)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = next((w for w in line.split() if w.startswith("http://")), None)
        if url is None:
            raise RuntimeError(f"the simulator did not start: {line!r}")
        async with SimAdmin(url) as admin:
            yield url, admin
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def _sim_overhead(url: str, latency_ms: float, rounds: int = 200) -> tuple[Row, float]:
    """Sequential round trips of the simulator's cheapest path, with plain httpx."""
    import httpx

    async with httpx.AsyncClient(base_url=f"{url}/zstack/v1", trust_env=False) as http:
        await http.get("/api-jobs/" + "0" * 32)
        started = time.perf_counter()
        for _ in range(rounds):
            await http.get("/api-jobs/" + "0" * 32)
        seconds = time.perf_counter() - started
    mean_ms = 1000 * seconds / rounds
    row = Row("simulator no-op round trip (404, sequential)", rounds, seconds, rounds, mean_ms)
    return row, mean_ms - latency_ms


async def _bench(args: argparse.Namespace) -> list[str]:
    from .sim import DEFAULT_MODEL_CENTER_UUID, SimConfig
    from .zstack import AccountCredentials, ZStackClient
    from .zstack.models import AddModelServiceParam

    rows: list[Row] = []
    async with _simulator(args) as (url, admin):
        # The simulator's built-in account (both run modes start with the defaults).
        seeded = SimConfig()
        creds = AccountCredentials(account_name=seeded.account, password=seeded.password)
        client: ZStackClient
        async with ZStackClient(url, creds, max_in_flight=args.max_in_flight) as client:
            await client.query_model_services(limit=1)  # log in outside the measurements
            uuids: list[str] = []

            async def add(i: int) -> None:
                param = AddModelServiceParam(
                    name=f"bench-{i}", yaml="services: []", request_cpu=1, request_memory=1024,
                    model_center_uuid=DEFAULT_MODEL_CENTER_UUID, install_path="/models/bench",
                    start_command="serve",
                )  # fmt: skip
                uuids.append((await client.add_model_service(param)).uuid)

            async def measure(
                what: str,
                count: int,
                work: Callable[[int], Awaitable[object]],
                concurrency: int = args.concurrency,
            ) -> None:
                before = await _requests(admin)
                seconds, mean_ms = await _run_concurrently(count, concurrency, work)
                rows.append(Row(what, count, seconds, await _requests(admin) - before, mean_ms))

            await measure(
                f"add + poll ({args.mode}, concurrency {args.concurrency})", args.creates, add
            )
            if uuids:
                await measure(
                    f"get one uuid (concurrency {args.concurrency})",
                    args.gets,
                    lambda i: client.get_model_service(uuids[i % len(uuids)]),
                )
                batch = (uuids * (1000 // len(uuids) + 1))[:1000]
                await measure(
                    "batch get of 1000 uuids, sequential",
                    args.batches,
                    lambda i: client.get_model_services(batch),
                    concurrency=1,
                )
        noop, overhead_ms = await _sim_overhead(url, args.latency_ms)
        rows.append(noop)
    lines = [HEADER, *(row.render() for row in rows)]
    lines.append(
        f"simulator overhead per request: {overhead_ms:.2f} ms "
        f"(no-op round trip minus the configured {args.latency_ms:g} ms latency)"
    )
    return lines


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table; 2 on bad options."""
    if min(args.creates, args.gets, args.batches) < 0 or args.concurrency < 1:
        sys.stderr.write("counts must be >= 0 and --concurrency >= 1\n")
        return 2
    sys.stdout.write(
        f"bench-client: simulator {'subprocess' if args.sim_process else 'in-process'}, "
        f"mode {args.mode}, latency {args.latency_ms:g} ms, jobs {args.job_duration_ms:g} ms; "
        f"client max_in_flight {args.max_in_flight}\n"
    )
    for line in asyncio.run(_bench(args)):
        sys.stdout.write(line + "\n")
    return 0
