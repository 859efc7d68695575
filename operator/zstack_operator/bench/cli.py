"""The ``zstack-operator bench`` subcommand: options, then the runs in order, then the report.

Registered by ``zstack_operator.cli``; everything heavy is imported inside ``run``. Order:
the dev cluster (``~/.cache/zstack-operator/bench-cluster``; started if needed and then stopped
at the end, a cluster found running is left running), the CRD, a simulator subprocess,
leftovers of earlier benches removed, then ideal, bare kopf, naive, the operator, its restart
and (unless ``--skip-steady``) its steady state. With ``--sizes`` all of that once per size,
then the slope table and the scale targets. Progress goes to stderr, the tables to stdout,
JSON and PNG to ``--out``. Exit code: 0 when every measured target is met, 1 when one is
missed or a run failed, 2 for bad options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import Context, Options, Phase, RunResult
    from .targets import SizeFigures


def register(subparsers: Any) -> None:
    """Add ``bench`` to the command line."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="benchmark the operator against the ideal floor, bare kopf and a naive operator",
        description="Measure time to all Ready, ZStack requests, Kubernetes writes, peak RSS, "
        "restart and steady-state cost of the operator on a local control plane and simulator, "
        "next to a minimal program (the floor), a bare kopf operator and the naive kopf "
        "operator a user would write. See docs/bench.md.",
    )
    p.add_argument("-n", "--count", type=int, default=1000, help="ModelServices (%(default)s)")
    p.add_argument("--sizes", type=_sizes, metavar="N,N,...",
                   help="run the bench at each size (instead of -n), then compare the sizes: "
                        "memory slope, time ratio and restart cost (e.g. 1000,3000)")  # fmt: skip
    p.add_argument("--latency-ms", type=float, default=20.0,
                   help="simulator latency per request (%(default)s)")  # fmt: skip
    p.add_argument("--job-duration-ms", type=float, default=200.0,
                   help="simulator job duration (%(default)s)")  # fmt: skip
    p.add_argument("--drift-interval", type=float, default=60.0,
                   help="the operator's --drift-interval, also the steady window "
                        "(%(default)s s)")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("bench-results"),
                   help="where bench.json, ready-over-time.png and the logs go "
                        "(%(default)s)")  # fmt: skip
    p.add_argument("--skip-steady", action="store_true",
                   help="skip the steady state (saves two drift intervals)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=900.0,
                   help="give up on a run after this many seconds (%(default)s)")  # fmt: skip
    p.add_argument("--idle-seconds", type=float, default=5.0,
                   help="quiet time that counts as idle (%(default)s)")  # fmt: skip
    p.add_argument("--profile", action="store_true",
                   help="sample the operator's create run with py-spy "
                        "(writes operator-create.folded)")  # fmt: skip
    p.set_defaults(func=run)


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list: {text!r}") from None
    if len(sizes) < 2 or sizes[0] < 1:
        raise argparse.ArgumentTypeError("--sizes needs at least two different counts >= 1")
    return sizes


def run(args: argparse.Namespace) -> int:
    """Run the bench; see the module docstring for the exit code."""
    import asyncio

    from .context import Options

    if args.count < 1 or args.latency_ms < 0 or args.job_duration_ms < 0:
        sys.stderr.write("zstack-operator bench: --count >= 1, latency and job duration >= 0\n")
        return 2
    if args.drift_interval < 1 or args.timeout <= 0 or args.idle_seconds <= 0:
        sys.stderr.write("zstack-operator bench: --drift-interval >= 1, timeouts > 0\n")
        return 2
    opts = Options(
        count=args.count,
        latency_ms=args.latency_ms,
        job_duration_ms=args.job_duration_ms,
        drift_interval=args.drift_interval,
        out=args.out,
        skip_steady=args.skip_steady,
        timeout=args.timeout,
        idle_seconds=args.idle_seconds,
        profile=args.profile,
    )
    opts.out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_bench(opts, args.sizes or []))


async def _bench(opts: Options, sizes: list[int]) -> int:
    import asyncio
    import functools
    import os
    import secrets
    import time

    from ..devcluster import DevCluster
    from ..devcluster.paths import cache_root
    from ..sim.admin import SimAdmin
    from .context import Context, stamp
    from .kube import BenchKube, apply_crds
    from .manifests import CRDS
    from .procs import sim_url, start_simulator
    from .report import source_fingerprint

    started = time.monotonic()
    say = functools.partial(stamp, started=started)
    state_dir = cache_root() / "bench-cluster"
    say(f"dev cluster in {state_dir} (started if needed)")
    cluster, ours = await asyncio.to_thread(DevCluster.ensure_running, state_dir, progress=say)
    try:
        await asyncio.to_thread(apply_crds, cluster.kubeconfig, CRDS)
        sim = await start_simulator(opts.out, opts.latency_ms, opts.job_duration_ms)
    except BaseException:
        if ours:
            await asyncio.to_thread(cluster.stop, progress=say)
        raise
    kube = BenchKube(cluster.kubeconfig)
    admin = SimAdmin(sim_url(sim))
    ctx = Context(
        opts, kube, admin, sim_url(sim), secrets.token_hex(3), cluster.kubeconfig, started
    )
    ctx.say(f"simulator at {ctx.sim_url}: latency {opts.latency_ms:g} ms, "
            f"jobs {opts.job_duration_ms:g} ms; N = {sizes or opts.count}")  # fmt: skip
    ctx.source = source_fingerprint()
    ctx.say(f"operator source {ctx.source['sha256']}, last changed {ctx.source['newest_change']}")
    ctx.pids = {p.name: p.pid for p in cluster.processes}
    ctx.pids |= {"simulator": sim.pid, "bench": os.getpid()}
    ctx.load_at_start = os.getloadavg()
    load = ctx.load_at_start[0]
    if load > 1.0:
        # Everything (API server, etcd, simulator, operator) shares this machine's CPUs.
        ctx.say(f"warning: load average {load:.1f} before the runs; other work skews the times")
    try:
        if not sizes:
            return (await _measure(ctx))[0]
        return await _scale(ctx, sizes)
    finally:
        await kube.aclose()
        await admin.aclose()
        sim.stop()
        if ours:
            # Two cores shared with other work: an API server and etcd left idling still cost.
            ctx.say(f"stopping the dev cluster this bench started ({state_dir})")
            await asyncio.to_thread(cluster.stop, progress=say)


async def _scale(ctx: Context, sizes: list[int]) -> int:
    """The whole bench once per size (output in ``--out/n<N>``), then the sizes compared."""
    import dataclasses

    from .report import scale_summary

    base, run_id = ctx.opts, ctx.run_id
    codes, figures = [], []
    for count in sizes:
        ctx.opts = dataclasses.replace(base, count=count, out=base.out / f"n{count}")
        # Namespaces of the previous size may still be terminating: never reuse their names.
        ctx.run_id = f"{run_id}-n{count}"
        ctx.opts.out.mkdir(parents=True, exist_ok=True)
        ctx.say(f"size {count}: output in {ctx.opts.out}")
        sys.stdout.write(f"== N = {count} ==\n\n")
        code, size = await _measure(ctx)
        sys.stdout.write("\n")
        codes.append(code)
        figures.append(size)
    ctx.opts, ctx.run_id = base, run_id
    text, checks = scale_summary(figures, base.out / "scale.json")
    sys.stdout.write(f"== sizes {', '.join(map(str, sizes))} ==\n\n{text}")
    ctx.say(f"wrote {base.out / 'scale.json'}")
    return 1 if any(codes) or any(c.met is False for c in checks) else 0


async def _measure(ctx: Context) -> tuple[int, SizeFigures]:
    """Every run at ``ctx.opts.count``: the exit code and what the scale targets need."""
    from .ideal import run_ideal
    from .report import measured, plot, size_figures, source_fingerprint, summary, write_json
    from .runs import (
        OperatorHandle,
        run_barekopf,
        run_naive,
        run_operator,
        run_restart,
        run_steady,
    )

    runs: dict[str, RunResult] = {}
    restart: Phase | None = None
    steady: Phase | None = None
    handle: OperatorHandle | None = None
    failed = False
    try:
        await _drop_namespaces(ctx, wait=True)
        runs["ideal"] = await run_ideal(ctx)
        runs["barekopf"] = await run_barekopf(ctx)
        runs["naive"] = await run_naive(ctx)
        runs["operator"], handle = await run_operator(ctx)
        restart, handle = await run_restart(ctx, handle)
        if not ctx.opts.skip_steady:
            steady = await run_steady(ctx, handle)
    except Exception as exc:  # report what was measured, then the failure
        ctx.say(f"bench stopped early: {type(exc).__name__}: {exc}")
        failed = True
    finally:
        if handle is not None:
            handle.child.stop()
        await _drop_namespaces(ctx, wait=False)
    text, checks = summary(ctx.opts, runs, restart, steady)
    sys.stdout.write(text)
    json_path = ctx.opts.out / "bench.json"
    if source_fingerprint() != ctx.source:
        ctx.say("warning: the operator's source changed while the bench ran; runs may differ")
    machine = {"loadavg_at_start": ctx.load_at_start}
    write_json(json_path, ctx.opts, runs, restart, steady, checks, machine, ctx.source)
    png_path = ctx.opts.out / "ready-over-time.png"
    if runs:
        plot(png_path, ctx.opts.count, runs)
    ctx.say(f"wrote {json_path} and {png_path}; logs in {ctx.opts.out}")
    code = 1 if failed or any(c.met is False for c in checks) else 0
    return code, size_figures(measured(ctx.opts, runs, restart, steady), runs, restart)


async def _drop_namespaces(ctx: Context, *, wait: bool) -> None:
    """Delete every namespace a bench created (finalizers released first)."""
    import asyncio

    names = await ctx.kube.bench_namespaces()
    for name in names:
        await ctx.kube.drop_namespace(name)
    if names:
        ctx.say(f"deleting namespaces {', '.join(names)}")
    for _ in range(240 if wait else 0):
        if not any([await ctx.kube.namespace_exists(n) for n in names]):
            return
        await asyncio.sleep(0.5)
