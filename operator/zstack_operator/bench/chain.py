"""``zstack-operator bench-chain``: time from one apply to N serving deployments, and back.

Registered by ``zstack_operator.cli``. On the bench cluster (as ``bench``) with a simulator
subprocess and one ``zstack-operator run``, the bench creates N chains at once, each a Model, a
ModelService naming it by reference and a ModelServiceDeployment naming both, all 3N objects
in one shuffled burst (any order must converge). It polls the deployments' Table until every
one is Ready, then calls every endpoint its status names, then deletes the 3N objects and waits
until they and every ZStack record behind them are gone. Figures on stdout, ``chain.json`` in
``--out``. Exit code 0 when all N served, each with exactly one ZStack record per resource, and
the deletion left nothing; 1 otherwise; 2 for bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..resources import GROUP, VERSION
from ..resources.deployment import DEPLOYMENT_PLURAL
from .chain_manifests import KINDS, generate_chains
from .context import CREATE_CONCURRENCY, Context, Options, stamp

#: Writes the bench counts on the API server: the three kinds, their status, and Events.
CHAIN_RESOURCES = (*(r for p in KINDS.values() for r in (p, f"{p}/status")), "events")
_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def register(subparsers: Any) -> None:
    """Add ``bench-chain`` to the command line."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bench-chain",
        help="time from one apply to N serving deployments (model, service, deployment) and back",
        description="Apply N chains (a Model, a ModelService bound to it, a deployment of it) "
        "at once and measure the time until each deployment serves, ZStack requests, "
        "Kubernetes writes and the operator's memory, then the time to delete them all. "
        "See docs/bench.md.",
    )
    p.add_argument("-n", "--count", type=int, default=100, help="chains (%(default)s)")
    p.add_argument("--latency-ms", type=float, default=20.0,
                   help="simulator latency per request (%(default)s)")  # fmt: skip
    p.add_argument("--job-duration-ms", type=float, default=200.0,
                   help="simulator job duration (%(default)s)")  # fmt: skip
    p.add_argument("--deploy-duration-ms", type=float, default=2000.0,
                   help="time a deployment takes to run after its job (%(default)s)")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("bench-results/chain"),
                   help="where chain.json and the logs go (%(default)s)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=900.0,
                   help="give up on a phase after this many seconds (%(default)s)")  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="seed of the apply order's shuffle")
    p.set_defaults(func=run)


@dataclass
class ChainFigures:
    """What one chain bench measured."""

    count: int
    #: Seconds from the start of the burst until each deployment was first seen Ready.
    ready_at: dict[str, float] = field(default_factory=dict)
    apply_seconds: float = 0.0
    endpoints_answering: int = 0
    zstack_requests: dict[str, int] = field(default_factory=dict)
    k8s_writes: dict[str, dict[str, int]] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    delete_seconds: float | None = None
    left_after_delete: dict[str, int] = field(default_factory=dict)
    peak_rss_kib: int | None = None
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Percentiles of time to serving, and the rest, as JSON-ready figures."""
        times = sorted(self.ready_at.values())
        quantiles = statistics.quantiles(times, n=20, method="inclusive") if len(times) > 1 else []
        return {
            "chains": self.count,
            "apply_seconds": round(self.apply_seconds, 2),
            "serving": len(times),
            "first_serving_seconds": times[0] if times else None,
            "p50_serving_seconds": round(statistics.median(times), 2) if times else None,
            "p95_serving_seconds": round(quantiles[18], 2) if quantiles else None,
            "all_serving_seconds": times[-1] if len(times) == self.count else None,
            "endpoints_answering": self.endpoints_answering,
            "zstack_requests": self.zstack_requests,
            "k8s_writes": self.k8s_writes,
            "zstack_records": self.records,
            "delete_seconds": self.delete_seconds,
            "left_after_delete": self.left_after_delete,
            "operator_peak_rss_mib": (
                round(self.peak_rss_kib / 1024, 1) if self.peak_rss_kib else None
            ),
            "failures": self.failures,
        }


def run(args: argparse.Namespace) -> int:
    """Run the bench; see the module docstring for the exit code."""
    if args.count < 1 or min(args.latency_ms, args.job_duration_ms, args.deploy_duration_ms) < 0:
        sys.stderr.write("zstack-operator bench-chain: --count >= 1, durations >= 0\n")
        return 2
    if args.timeout <= 0:
        sys.stderr.write("zstack-operator bench-chain: --timeout > 0\n")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_bench(args))


async def _bench(args: argparse.Namespace) -> int:
    from ..devcluster import DevCluster
    from ..devcluster.paths import cache_root
    from ..sim.admin import SimAdmin
    from .kube import BenchKube, apply_crds
    from .manifests import CRDS
    from .procs import sim_url, start_simulator

    started = time.monotonic()
    state_dir = cache_root() / "bench-cluster"
    stamp(f"dev cluster in {state_dir} (started if needed)", started)
    cluster, ours = await asyncio.to_thread(
        DevCluster.ensure_running, state_dir, progress=lambda m: stamp(m, started)
    )
    sim = None
    try:
        await asyncio.to_thread(apply_crds, cluster.kubeconfig, CRDS)
        sim = await start_simulator(
            args.out, args.latency_ms, args.job_duration_ms,
            extra=("--deploy-duration-ms", f"{args.deploy_duration_ms:g}"),
        )  # fmt: skip
        opts = Options(
            count=args.count,
            latency_ms=args.latency_ms,
            job_duration_ms=args.job_duration_ms,
            out=args.out,
            timeout=args.timeout,
        )
        url = sim_url(sim)
        ctx = Context(
            opts, BenchKube(cluster.kubeconfig), SimAdmin(url), url, secrets.token_hex(3),
            cluster.kubeconfig, started,
        )  # fmt: skip
        ctx.pids = {p.name: p.pid for p in cluster.processes} | {"simulator": sim.pid}
        try:
            figures = await _measure(ctx, args)
        finally:
            await ctx.kube.aclose()
            await ctx.admin.aclose()
    finally:
        if sim is not None:
            sim.stop()
        if ours:
            stamp(f"stopping the dev cluster this bench started ({state_dir})", started)
            await asyncio.to_thread(cluster.stop, progress=lambda m: stamp(m, started))
    report = figures.summary() | {
        "options": {
            "latency_ms": args.latency_ms,
            "job_duration_ms": args.job_duration_ms,
            "deploy_duration_ms": args.deploy_duration_ms,
            "seed": args.seed,
        },
        # Each step waits for the one before: the model's job, the service's, the deployment's
        # job, then the deployment running. Below this no operator can go.
        "floor_seconds": round((3 * args.job_duration_ms + args.deploy_duration_ms) / 1000, 2),
    }
    (args.out / "chain.json").write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(render(report))
    stamp(f"wrote {args.out / 'chain.json'}; logs in {args.out}", started)
    return 1 if figures.failures else 0


async def _measure(ctx: Context, args: argparse.Namespace) -> ChainFigures:
    from ..sim.config import SimConfig
    from . import apimetrics
    from .runs import SECRET, OperatorHandle

    kube, n = ctx.kube, ctx.opts.count
    figures = ChainFigures(count=n)
    ns = ctx.namespace("chain")
    await kube.create_namespace(ns)
    seed = SimConfig()
    await kube.create_secret(ns, SECRET, {"accountName": seed.account, "password": seed.password})
    handle = OperatorHandle(ctx, ns, 0)
    try:
        ctx.say(f"operator ready in {await handle.start():.1f} s; applying {n} chains to {ns}")
        objects = generate_chains(n)
        random.Random(args.seed).shuffle(objects)
        await ctx.admin.reset_counters()
        writes_before = apimetrics.write_counts(await kube.metrics_text(), CHAIN_RESOURCES)
        t0 = time.monotonic()
        tracker = asyncio.create_task(_track(ctx, ns, t0, figures, handle))
        await kube.create_all(ns, objects, CREATE_CONCURRENCY)
        figures.apply_seconds = time.monotonic() - t0
        ctx.say(f"{3 * n} objects created in {figures.apply_seconds:.1f} s")
        endpoints = await tracker
        t1 = time.monotonic()
        figures.endpoints_answering = await _call_endpoints(endpoints)
        ctx.say(f"{figures.endpoints_answering}/{n} endpoints answered "
                f"({time.monotonic() - t1:.1f} s for all)")  # fmt: skip
        counters = await ctx.admin.counters()
        figures.zstack_requests = apimetrics.zstack_totals(counters.requests)
        writes = apimetrics.write_counts(await kube.metrics_text(), CHAIN_RESOURCES)
        figures.k8s_writes = apimetrics.diff_counts(writes, writes_before)
        for plural in KINDS.values():  # the bench's own creates are not the operator's cost
            figures.k8s_writes = apimetrics.subtract(figures.k8s_writes, plural, "POST", n)
        figures.peak_rss_kib = handle.child.peak_rss_kib()
        figures.records = {
            "instance groups": len(await ctx.admin.instance_groups()),
            "model services": len(await ctx.admin.services()),
            "distinct group uuids in status": len(set(endpoints)),
            "most creates of one uuid": max(counters.created.values(), default=0),
        }
        _judge_creates(figures, n)
        await _delete_all(ctx, ns, objects, figures)
    except Exception as exc:  # report what was measured, then the failure
        figures.failures.append(f"stopped early: {type(exc).__name__}: {exc}")
        ctx.say(figures.failures[-1])
    finally:
        handle.child.stop()
        await kube.drop_namespace(ns)
    return figures


async def _track(
    ctx: Context, ns: str, t0: float, figures: ChainFigures, handle: Any
) -> dict[str, str]:
    """Poll the deployments' Table until all are Ready: group uuid -> endpoint."""
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{DEPLOYMENT_PLURAL}"
    next_report = 5.0
    while True:
        now = time.monotonic() - t0
        reply = await ctx.kube.call("GET", path, accept=_TABLE, params={"includeObject": "None"})
        rows = _rows(reply.json())
        for row in rows:
            if row["READY"] == "True":
                figures.ready_at.setdefault(row["NAME"], round(now, 2))
        ready = [r for r in rows if r["READY"] == "True"]
        if len(ready) == figures.count:
            ctx.say(f"all {figures.count} deployments Ready after {now:.1f} s")
            return {r["GROUP"]: r["ENDPOINT"] for r in ready}
        if now >= next_report:
            ctx.say(f"{len(ready)}/{figures.count} deployments Ready after {now:.0f} s")
            next_report += 5.0
        if now > ctx.opts.timeout:
            raise TimeoutError(f"only {len(ready)}/{figures.count} Ready after {now:.0f} s")
        handle.child.check()
        await asyncio.sleep(0.5)


def _rows(table: dict[str, Any]) -> list[dict[str, str]]:
    names = [str(c.get("name", "")).upper() for c in table.get("columnDefinitions", [])]
    return [dict(zip(names, map(str, row.get("cells", [])), strict=False))
            for row in table.get("rows") or []]  # fmt: skip


async def _call_endpoints(endpoints: dict[str, str]) -> int:
    """How many of the endpoints in status answer an HTTP GET with 200."""
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:

        async def answers(url: str) -> bool:
            try:
                return (await http.get(url)).status_code == 200
            except httpx.HTTPError:
                return False

        return sum(await asyncio.gather(*(answers(u) for u in endpoints.values())))


def _judge_creates(figures: ChainFigures, n: int) -> None:
    expected = {"AddModel": n, "AddModelService": n, "DeployModelService": n}
    for api, want in expected.items():
        got = figures.zstack_requests.get(api, 0)
        if got != want:
            figures.failures.append(f"{api}: {got} requests for {want} resources")
    for record, got in figures.records.items():
        want = 1 if record.startswith("most") else n
        if got != want:
            figures.failures.append(f"{record}: {got}, expected {want}")
    if figures.endpoints_answering != n:
        figures.failures.append(f"{figures.endpoints_answering}/{n} endpoints answered")


async def _delete_all(
    ctx: Context, ns: str, objects: list[dict[str, Any]], figures: ChainFigures
) -> None:
    """Delete every object at once; wait until they and their ZStack records are gone.

    The order is the apply's shuffled one, so models and services are often asked to go
    before what uses them. One DELETE per object, as ``kubectl delete -f`` sends them: a
    deletecollection would time the API server's serial marking of each object instead.
    """
    gate = asyncio.Semaphore(16)

    async def one(obj: dict[str, Any]) -> None:
        plural, name = KINDS[obj["kind"]], obj["metadata"]["name"]
        async with gate:
            await ctx.kube.call(
                "DELETE", f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{plural}/{name}", ok=(404,)
            )

    t0 = time.monotonic()
    await asyncio.gather(*(one(o) for o in objects))
    ctx.say(f"asked to delete the {3 * figures.count} objects in {time.monotonic() - t0:.1f} s")
    while time.monotonic() - t0 < ctx.opts.timeout:
        left = {
            plural: len(
                (await ctx.kube.call("GET", f"/apis/{GROUP}/{VERSION}/namespaces/{ns}/{plural}"))
                .json()
                .get("items", [])
            )
            for plural in KINDS.values()
        }
        left["instance groups"] = len(await ctx.admin.instance_groups())
        left["model services"] = len(await ctx.admin.services())
        if not any(left.values()):
            figures.left_after_delete = left
            figures.delete_seconds = round(time.monotonic() - t0, 2)
            ctx.say(f"everything deleted after {figures.delete_seconds:.1f} s")
            return
        figures.left_after_delete = left
        await asyncio.sleep(1.0)
    figures.failures.append(f"deletion left {figures.left_after_delete}")


def render(report: dict[str, Any]) -> str:
    """The human-readable table of a report."""
    lines = [
        f"chains                      {report['chains']}",
        f"floor (one chain, serial)   {report['floor_seconds']} s",
        f"all 3N objects created in   {report['apply_seconds']} s",
        f"first serving               {report['first_serving_seconds']} s",
        f"p50 serving                 {report['p50_serving_seconds']} s",
        f"p95 serving                 {report['p95_serving_seconds']} s",
        f"all serving                 {report['all_serving_seconds']} s",
        f"endpoints answering         {report['endpoints_answering']}/{report['chains']}",
        f"everything deleted in       {report['delete_seconds']} s",
        f"operator peak RSS           {report['operator_peak_rss_mib']} MiB",
        "ZStack requests             "
        + ", ".join(f"{api} {n}" for api, n in report["zstack_requests"].items()),
        "ZStack records              "
        + ", ".join(f"{k} {v}" for k, v in report["zstack_records"].items()),
        "Kubernetes writes           "
        + ", ".join(f"{res} {sum(v.values())}" for res, v in sorted(report["k8s_writes"].items())),
    ]
    lines += [f"FAILED: {f}" for f in report["failures"]] or ["all checks passed"]
    return "\n".join(lines) + "\n"
