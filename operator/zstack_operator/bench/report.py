"""The bench's outputs: the stdout tables, the JSON files and the Ready-over-time plot.

Used by ``bench.cli`` once every run is done. matplotlib is imported here, inside ``plot``,
and only when the bench gets that far (Agg backend: no display needed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import apimetrics
from .context import Options, Phase, RunResult
from .targets import (
    Check,
    Measured,
    SizeFigures,
    evaluate,
    evaluate_scale,
    render,
    render_checks,
    rss_slopes,
)


def _writes_text(writes: apimetrics.WriteCounts) -> str:
    parts = [
        f"{verb} {resource} {n}"
        for resource in apimetrics.WATCHED_RESOURCES
        for verb, n in sorted(writes.get(resource, {}).items())
    ]
    return ", ".join(parts) or "none"


def _zstack_text(requests: dict[str, dict[str, int]]) -> str:
    totals = apimetrics.zstack_totals(requests)
    return ", ".join(f"{api} {n}" for api, n in totals.items()) or "none"


def _mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f} MiB"


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def measured(
    opts: Options,
    runs: dict[str, RunResult],
    restart: Phase | None,
    steady: Phase | None,
) -> Measured:
    """The figures the targets judge, from whatever runs finished."""
    ideal, bare, op = runs.get("ideal"), runs.get("barekopf"), runs.get("operator")
    phases = [p for p in (restart, steady) if p is not None]
    peaks = [p.peak_in_flight for p in phases] + ([op.peak_in_flight] if op else [])
    rss = [r for r in [op.peak_rss_kib if op else None, *(p.peak_rss_kib for p in phases)] if r]
    return Measured(
        count=opts.count,
        ideal_seconds=ideal.seconds if ideal else None,
        operator_seconds=op.seconds if op else None,
        operator_rss_kib=max(rss) if rss else None,
        barekopf_rss_kib=bare.peak_rss_kib if bare else None,
        peak_in_flight=max((p for p in peaks if p is not None), default=None),
        restart_zstack_writes=apimetrics.zstack_writes(restart.zstack_requests)
        if restart
        else None,
        restart_zstack_requests=restart.requests if restart else None,
        restart_k8s_writes=apimetrics.total(restart.k8s_writes) if restart else None,
        steady_requests=steady.extra["busiest_interval_requests"] if steady else None,
        naive_seconds=runs["naive"].seconds if "naive" in runs else None,
        operator_k8s_writes=apimetrics.total(op.k8s_writes) if op else None,
    )


def size_figures(m: Measured, runs: dict[str, RunResult], restart: Phase | None) -> SizeFigures:
    """What the scale targets need from one size."""
    naive = runs.get("naive")
    return SizeFigures(
        count=m.count,
        ideal_seconds=m.ideal_seconds,
        operator_seconds=m.operator_seconds,
        operator_rss_kib=m.operator_rss_kib,
        barekopf_rss_kib=m.barekopf_rss_kib,
        naive_rss_kib=naive.peak_rss_kib if naive else None,
        restart_cpu_seconds=restart.extra.get("operator_cpu_after_ready") if restart else None,
        restart_zstack_requests=m.restart_zstack_requests,
    )


def runs_table(runs: dict[str, RunResult], restart: Phase | None, steady: Phase | None) -> str:
    """Per-run details: times, requests by API, writes by resource and verb, memory."""
    rows = []
    for run in runs.values():
        rows.append([
            run.name, _secs(run.seconds), _secs(run.apply_seconds) if run.apply_seconds else "-",
            _zstack_text(run.zstack_requests), _writes_text(run.k8s_writes),
            _mib(run.peak_rss_kib),
        ])  # fmt: skip
    for phase in (restart, steady):
        if phase is not None:
            rows.append([
                phase.name, _secs(phase.seconds), "-", _zstack_text(phase.zstack_requests),
                _writes_text(phase.k8s_writes), _mib(phase.peak_rss_kib),
            ])  # fmt: skip
    header = ["run", "all Ready / idle", "create", "ZStack requests", "K8s writes", "peak RSS"]
    return render(rows, header)


def writes_table(runs: dict[str, RunResult], count: int) -> str:
    """Kubernetes writes per created object, in total and by verb and resource."""
    keys = sorted(
        {(resource, verb) for run in runs.values() for resource, verbs in run.k8s_writes.items()
         for verb in verbs},
        key=lambda rv: (apimetrics.WATCHED_RESOURCES.index(rv[0]), rv[1]),
    )  # fmt: skip
    rows = []
    for run in runs.values():
        cells = [run.k8s_writes.get(resource, {}).get(verb, 0) / count for resource, verb in keys]
        total = apimetrics.total(run.k8s_writes) / count
        rows.append([run.name, f"{total:.2f}", *(f"{c:.2f}" for c in cells)])
    header = ["K8s writes per create", "total", *(f"{verb} {res}" for res, verb in keys)]
    return render(rows, header)


#: CPU columns of the per-run CPU table, in order (the run's own process first).
_CPU_COLUMNS = ("kube-apiserver", "etcd", "kube-controller-manager", "simulator", "bench")


def cpu_table(runs: dict[str, RunResult], restart: Phase | None, steady: Phase | None) -> str:
    """CPU seconds each process used during each run: where the machine's time went."""
    rows = []
    entries = [(r.name, r.extra) for r in runs.values()]
    entries += [(p.name, p.extra) for p in (restart, steady) if p is not None]
    for name, extra in entries:
        cpu: dict[str, float] = extra.get("cpu_seconds", {})
        own = next((v for k, v in cpu.items() if k not in _CPU_COLUMNS), None)
        cells = [_show_cpu(own), *(_show_cpu(cpu.get(c)) for c in _CPU_COLUMNS)]
        rows.append([name, *cells])
    return render(rows, ["CPU seconds", "run process", *_CPU_COLUMNS])


def _show_cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def source_fingerprint() -> dict[str, str]:
    """Which operator code was measured: a hash of its sources and their newest change.

    The bench itself is left out, so changing the bench does not look like a new operator.
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    newest = 0.0
    for path in sorted(root.rglob("*.py")):
        if "bench" in path.relative_to(root).parts:
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    changed = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"sha256": digest.hexdigest()[:16], "newest_change": changed}


def write_json(
    path: Path,
    opts: Options,
    runs: dict[str, RunResult],
    restart: Phase | None,
    steady: Phase | None,
    checks: list[Check],
    machine: dict[str, Any],
    source: dict[str, str],
) -> None:
    """Everything measured, for comparisons across runs."""

    def plain(obj: Any) -> Any:
        data = dataclasses.asdict(obj)
        if isinstance(obj, RunResult):
            data["seconds"] = obj.seconds
        return data

    doc = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()},
        "operator_source": source,
        "machine": {"cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(), **machine},
        "runs": {name: plain(run) for name, run in runs.items()},
        "restart": plain(restart) if restart else None,
        "steady": plain(steady) if steady else None,
        "targets": [dataclasses.asdict(c) | {"verdict": c.verdict} for c in checks],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def plot(path: Path, count: int, runs: dict[str, RunResult]) -> None:
    """Resources Ready over time, one panel per run, sharing the y axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(runs), figsize=(5 * len(runs), 4), sharex=True, sharey=True, squeeze=False
    )
    for ax, run in zip(axes[0], runs.values(), strict=True):
        xs = [0.0, *(t for t, _ in run.timeline.points)]
        ys = [0, *(n for _, n in run.timeline.points)]
        ax.step(xs, ys, where="post")
        title = run.name if run.seconds is None else f"{run.name}: {run.seconds:.1f} s"
        ax.set_title(title)
        ax.set_xlabel("seconds since start")
        ax.axhline(count, color="grey", linewidth=0.5)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("ModelServices Ready")
    fig.suptitle(f"{count} ModelServices Ready over time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(
    opts: Options, runs: dict[str, RunResult], restart: Phase | None, steady: Phase | None
) -> tuple[str, list[Check]]:
    """The text printed on stdout, and the judged targets."""
    checks = evaluate(measured(opts, runs, restart, steady))
    tables = [runs_table(runs, restart, steady), writes_table(runs, opts.count)]
    tables.append(cpu_table(runs, restart, steady))
    text = "\n\n".join([*tables, render_checks(checks)])
    return text + "\n", checks


def render_slopes(sizes: list[SizeFigures]) -> str:
    """Peak RSS at each size and its growth per 1,000 objects (least squares)."""
    sizes = sorted(sizes, key=lambda s: s.count)
    slopes = rss_slopes(sizes)
    rows = []
    for name, kib in (
        ("operator", [s.operator_rss_kib for s in sizes]),
        ("barekopf", [s.barekopf_rss_kib for s in sizes]),
        ("naive", [s.naive_rss_kib for s in sizes]),
    ):
        slope = slopes[name]
        rows.append([name, *map(_mib, kib), "n/a" if slope is None else f"{slope:.1f}"])
    header = ["peak RSS", *(f"N={s.count}" for s in sizes), "MiB per 1,000 objects"]
    return render(rows, header)


def scale_summary(sizes: list[SizeFigures], path: Path) -> tuple[str, list[Check]]:
    """The slope table and the scale targets as text; both also go to ``path`` (JSON)."""
    checks = evaluate_scale(sizes)
    doc = {
        "sizes": [dataclasses.asdict(s) for s in sizes],
        "rss_slopes_mib_per_1000": rss_slopes(sorted(sizes, key=lambda s: s.count)),
        "targets": [dataclasses.asdict(c) | {"verdict": c.verdict} for c in checks],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return render_slopes(sizes) + "\n\n" + render_checks(checks) + "\n", checks
