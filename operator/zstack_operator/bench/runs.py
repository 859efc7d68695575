"""The measured runs with a real operator process: bare kopf, naive, and zstack-operator's phases.

Used by ``bench.cli``. Each operator runs as its own process against the bench cluster and is
ready (its startup handler finished) before the clock starts; then the bench creates the
N objects with concurrent server-side POSTs (``CREATE_CONCURRENCY`` at once) and polls Ready.
zstack-operator then goes through a restart with everything Ready (the simulator's counters
reset, a fresh process, until idle) and a steady state of two drift intervals.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from ..devcluster.procs import free_loopback_port
from ..sim.config import SimConfig
from . import apimetrics
from .context import CREATE_CONCURRENCY, MAX_IN_FLIGHT, Context, Phase, RunResult
from .manifests import generate, load_sample
from .procs import Child, child_env, cpu_seconds, python_module, wait_file, wait_http
from .profile import start_profiler, stop_profiler, summarise
from .track import RunTimeoutError, read_counters, track_ready, wait_idle

SECRET = "zstack-credentials"  # noqa: S105 - the name of a Secret, not a secret
#: ``bench.naive.PASSWORD_ENV``, spelled out: importing naive would load kopf into the bench.
NAIVE_PASSWORD_ENV = "NAIVE_ZSTACK_PASSWORD"  # noqa: S105 - a variable's name


async def _create_and_track(ctx: Context, ns: str, label: str, child: Child) -> RunResult:
    """Start the clock, create N objects, wait until all are Ready and the run is idle."""
    kube, opts = ctx.kube, ctx.opts
    objects = generate(load_sample(), opts.count)
    pids = {**ctx.pids, label: child.pid}
    before = await read_counters(kube, ctx.admin, pids)
    started = time.monotonic()
    tracker = asyncio.create_task(
        track_ready(kube, ns, opts.count, started, label=label, say=ctx.say,
                    patience=opts.timeout, child=child)
    )  # fmt: skip
    try:
        await kube.create_all(ns, objects, CREATE_CONCURRENCY)
    except BaseException:
        tracker.cancel()
        raise
    apply_seconds = time.monotonic() - started
    ctx.say(f"{label}: {opts.count} objects created in {apply_seconds:.1f} s")
    timeline = await tracker
    ctx.say(f"{label}: waiting until idle ({opts.idle_seconds:g} s without requests or writes)")
    idle_after, after = await wait_idle(
        kube, ctx.admin, started, quiet=opts.idle_seconds, patience=opts.timeout, child=child,
        pids=pids,
    )  # fmt: skip
    result = RunResult(label, timeline, apply_seconds=apply_seconds, idle_after=idle_after)
    result.count_between(before, after, own_creates=opts.count)
    result.peak_rss_kib = child.peak_rss_kib()
    return result


async def run_barekopf(ctx: Context) -> RunResult:
    """The bare kopf operator alone: time, writes and peak RSS of marking N new objects Ready."""
    await ctx.admin.reset_counters()
    return await _run_program(ctx, "barekopf", [], {})


async def run_naive(ctx: Context) -> RunResult:
    """The naive kopf operator (``bench.naive``): what a user would write, creating N objects."""
    seed = SimConfig()  # the simulator's built-in account
    args = ["--zstack-endpoint", ctx.sim_url, "--account", seed.account]
    # A fresh simulator, as for the operator; its login at startup counts as one of its requests.
    await ctx.admin.reset()
    return await _run_program(ctx, "naive", args, {NAIVE_PASSWORD_ENV: seed.password})


async def _run_program(ctx: Context, label: str, args: list[str], env: dict[str, str]) -> RunResult:
    """One of the bench's own kopf programs (``bench.<label>``) creating N objects."""
    ns = ctx.namespace(label)
    await ctx.kube.create_namespace(ns)
    ready_file = ctx.opts.out / f"{label}.ready"
    ready_file.unlink(missing_ok=True)
    child = Child(
        label,
        python_module(f"zstack_operator.bench.{label}", "--namespace", ns,
                      "--ready-file", str(ready_file), *args),
        ctx.opts.out / f"{label}.log",
        child_env(ctx.kubeconfig) | env,
    )  # fmt: skip
    child.start()
    try:
        startup = await wait_file(ready_file, child)
        ctx.say(f"{label}: started in {startup:.1f} s; creating {ctx.opts.count} objects in {ns}")
        result = await _create_and_track(ctx, ns, label, child)
        result.extra["startup_seconds"] = round(startup, 3)
    finally:
        child.stop()
        ready_file.unlink(missing_ok=True)
    return result


class OperatorHandle:
    """One ``zstack-operator run`` process watching the operator namespace."""

    def __init__(self, ctx: Context, ns: str, index: int) -> None:
        self.port = free_loopback_port()
        opts = ctx.opts
        self.child = Child(
            f"operator-{index}",
            python_module(
                "zstack_operator", "run", "--namespace", ns,
                "--zstack-endpoint", ctx.sim_url, "--allow-insecure-http",
                "--credentials-secret", f"{ns}/{SECRET}",
                "--drift-interval", f"{opts.drift_interval:g}",
                "--max-in-flight", str(MAX_IN_FLIGHT),
                "--health-address", f"127.0.0.1:{self.port}",
            ),
            opts.out / f"operator-{index}.log",
            child_env(ctx.kubeconfig),
        )  # fmt: skip

    async def start(self) -> float:
        """Start it; seconds until /readyz answered (kopf's startup handler has run)."""
        self.child.start()
        return await wait_http(f"http://127.0.0.1:{self.port}/readyz", self.child)

    async def resumed(self) -> int:
        """Resume passes the operator has finished (any result)."""
        passes = (await self.metrics())["zstack_operator_reconciles_total"]
        return sum(n for key, n in passes.items() if key.startswith("resume/"))

    async def metrics(self) -> dict[str, Any]:
        """Reconcile passes and ZStack requests from the operator's own /metrics."""
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
            text = (await http.get(f"http://127.0.0.1:{self.port}/metrics")).text
        out: dict[str, Any] = {}
        for metric, keys in (
            ("zstack_operator_reconciles_total", ("trigger", "result")),
            ("zstack_operator_zstack_requests_total", ("api", "outcome")),
        ):
            samples = apimetrics.parse_samples(text, metric)
            out[metric] = {"/".join(lb[k] for k in keys): int(v) for lb, v in samples if v}
        return out


async def run_operator(ctx: Context) -> tuple[RunResult, OperatorHandle]:
    """zstack-operator creating N ModelServices; the handle stays running for the next phases."""
    ns = ctx.namespace("operator")
    await ctx.kube.create_namespace(ns)
    seed = SimConfig()  # the simulator's built-in account
    await ctx.kube.create_secret(
        ns, SECRET, {"accountName": seed.account, "password": seed.password}
    )
    await ctx.admin.reset()
    handle = OperatorHandle(ctx, ns, 0)
    startup = await handle.start()
    ctx.say(f"operator: started in {startup:.1f} s; creating {ctx.opts.count} objects in {ns}")
    profiler = None
    folded = ctx.opts.out / "operator-create.folded"
    if ctx.opts.profile:
        profiler = start_profiler(handle.child.pid, folded, ctx.opts.out / "py-spy.log")
    try:
        result = await _create_and_track(ctx, ns, "operator", handle.child)
    finally:
        if profiler is not None:
            stop_profiler(profiler)
    if profiler is not None and folded.exists():
        result.extra["profile"] = summarise(folded.read_text()) | {"file": str(folded)}
        ctx.say(f"operator: py-spy stacks in {folded}")
    result.extra["startup_seconds"] = round(startup, 3)
    result.extra["operator_metrics"] = await handle.metrics()
    return result, handle


async def run_restart(ctx: Context, old: OperatorHandle) -> tuple[Phase, OperatorHandle]:
    """Stop the operator with everything Ready, start a new one, count until it is idle."""
    ctx.say("restart: stopping the operator (SIGTERM)")
    old.child.stop()
    await ctx.admin.reset_counters()
    baseline = await read_counters(ctx.kube, ctx.admin, ctx.pids)
    handle = OperatorHandle(ctx, ctx.namespace("operator"), 1)
    startup = await handle.start()
    startup_cpu = cpu_seconds({"operator": handle.child.pid}).get("operator", 0.0)
    pids = {**ctx.pids, "operator": handle.child.pid}
    folded = ctx.opts.out / "operator-restart.folded"
    profiler = None
    if ctx.opts.profile:  # from /readyz on: what resuming N objects with nothing to do costs
        profiler = start_profiler(handle.child.pid, folded, ctx.opts.out / "py-spy-restart.log")
    ctx.say(f"restart: new operator ready in {startup:.1f} s; waiting for {ctx.opts.count} resumes")
    # Quiet alone is no proof: kopf lists and indexes every object before the first resume
    # handler runs, which takes seconds at N=1000. Idle counts only once all have resumed.
    deadline = time.monotonic() + ctx.opts.timeout
    while (resumed := await handle.resumed()) < ctx.opts.count:
        handle.child.check()
        if time.monotonic() > deadline:
            raise RunTimeoutError(f"restart: only {resumed}/{ctx.opts.count} resumed")
        await asyncio.sleep(0.5)
    all_resumed = time.monotonic() - handle.child.started_at
    ctx.say(f"restart: all resumed after {all_resumed:.1f} s; waiting until idle")
    idle_after, after = await wait_idle(
        ctx.kube, ctx.admin, handle.child.started_at, quiet=ctx.opts.idle_seconds,
        patience=ctx.opts.timeout, baseline=baseline, child=handle.child, pids=pids,
    )  # fmt: skip
    if profiler is not None:
        stop_profiler(profiler)
    phase = Phase.between("restart", idle_after, baseline, after)
    if profiler is not None and folded.exists():
        phase.extra["profile"] = summarise(folded.read_text()) | {"file": str(folded)}
    phase.peak_rss_kib = handle.child.peak_rss_kib()
    phase.extra["startup_seconds"] = round(startup, 3)
    phase.extra["all_resumed_seconds"] = round(all_resumed, 3)
    phase.extra["operator_metrics"] = await handle.metrics()
    # The baseline predates the new process, so cpu_seconds holds all its CPU from exec to idle.
    # The judged figure leaves out imports and startup (up to /readyz): a constant that would
    # make the per-object cost look higher at small N and hide growth at large N.
    total_cpu = phase.extra["cpu_seconds"].get("operator")
    phase.extra["operator_cpu_seconds"] = total_cpu
    phase.extra["operator_cpu_after_ready"] = (
        None if total_cpu is None else round(total_cpu - startup_cpu, 2)
    )
    ctx.say(f"restart: idle after {idle_after:.1f} s, {phase.requests} ZStack requests, "
            f"operator CPU {total_cpu} s ({startup_cpu:.2f} s of it to /readyz)")  # fmt: skip
    return phase, handle


async def run_steady(ctx: Context, handle: OperatorHandle) -> Phase:
    """ZStack requests and K8s writes with nothing to do, and the busiest drift interval.

    The operator's first drift reads after a restart come about one interval after it (the
    resume filled the cache), so one interval right after idle usually shows no request at
    all. Observing two intervals and reporting the busiest interval-long window within them
    shows the steady rhythm instead; the request counter is sampled every second.
    """
    window = ctx.opts.drift_interval
    await ctx.admin.reset_counters()
    pids = {**ctx.pids, "operator": handle.child.pid}
    before = await read_counters(ctx.kube, ctx.admin, pids)
    ctx.say(f"steady: observing two drift intervals ({2 * window:g} s)")
    started = time.monotonic()
    samples: list[tuple[float, int]] = [(0.0, 0)]
    next_report = 10.0
    while (elapsed := time.monotonic() - started) < 2 * window:
        await asyncio.sleep(1.0)
        handle.child.check()
        counters = await ctx.admin.counters()
        elapsed = time.monotonic() - started
        samples.append((elapsed, sum(apimetrics.zstack_totals(counters.requests).values())))
        if elapsed >= next_report:
            ctx.say(f"steady: {elapsed:.0f}/{2 * window:g} s, {samples[-1][1]} ZStack requests")
            next_report += 10.0
    after = await read_counters(ctx.kube, ctx.admin, pids)
    phase = Phase.between("steady", 2 * window, before, after)
    phase.peak_rss_kib = handle.child.peak_rss_kib()
    busiest = apimetrics.busiest_window(samples, window)
    phase.extra["busiest_interval_requests"] = busiest
    phase.extra["request_samples"] = [(round(t, 1), n) for t, n in samples]
    ctx.say(f"steady: {phase.requests} ZStack requests in {2 * window:g} s, "
            f"at most {busiest} in any {window:g} s")  # fmt: skip
    return phase
