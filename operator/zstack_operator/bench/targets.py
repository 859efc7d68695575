"""The bench's targets (issues 6 and 9) and the tables that say whether each is met.

Pure: ``Measured`` holds the figures of one size, ``evaluate`` judges them; ``SizeFigures`` and
``evaluate_scale`` do the same across the sizes of ``--sizes`` (with ``slope`` for memory growth);
``render`` lays out the stdout tables. Called by ``bench.report`` and ``bench.cli``; unit-tested
with made-up figures. A target whose figure was not measured (``--skip-steady``, a run that
timed out) is reported as ``n/a``, never as met.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Time to all Ready may be at most this multiple of the ideal floor.
READY_RATIO_LIMIT = 1.3
#: Time to all Ready may be at most this multiple of the naive kopf operator's.
NAIVE_RATIO_LIMIT = 1.1
#: Kubernetes writes (patches, status patches, Events, ...) per happy-path create.
WRITES_PER_CREATE_LIMIT = 3
#: Peak RSS may be at most this multiple of the bare kopf operator's.
RSS_RATIO_LIMIT = 1.2
#: Peak RSS growth per 1,000 objects may be at most this multiple of bare kopf's.
RSS_SLOPE_RATIO_LIMIT = 1.2
#: Requests a restart may cost at most: a login and a batched read, with one to spare.
RESTART_REQUEST_LIMIT = 3
#: The simulator must never see more concurrent requests than the operator's cap.
IN_FLIGHT_LIMIT = 16


@dataclass(frozen=True)
class Measured:
    """The figures the targets are judged on; None means not measured."""

    count: int
    ideal_seconds: float | None
    operator_seconds: float | None
    operator_rss_kib: int | None
    barekopf_rss_kib: int | None
    peak_in_flight: int | None
    restart_zstack_writes: int | None
    restart_zstack_requests: int | None
    restart_k8s_writes: int | None
    steady_requests: int | None
    naive_seconds: float | None = None
    #: Every write of the operator's create run on the watched resources (bench's POSTs removed).
    operator_k8s_writes: int | None = None


@dataclass(frozen=True)
class Check:
    """One row of the targets table."""

    target: str
    value: str
    limit: str
    met: bool | None

    @property
    def verdict(self) -> str:
        """``yes``, ``NO`` or ``n/a``."""
        return "n/a" if self.met is None else "yes" if self.met else "NO"


def steady_limit(count: int) -> int:
    """Requests allowed per drift interval: one batched query per 1,000 uuids, plus one."""
    return math.ceil(count / 1000) + 1


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0:
        return None
    return value / base


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _show(value: float | None, fmt: str = "{:g}") -> str:
    return "n/a" if value is None else fmt.format(value)


def evaluate(m: Measured) -> list[Check]:
    """Every target of one size (issues 6 and 9), judged."""
    ready_ratio = _ratio(m.operator_seconds, m.ideal_seconds)
    rss_ratio = _ratio(m.operator_rss_kib, m.barekopf_rss_kib)
    restart: bool | None = None
    if None not in (m.restart_zstack_writes, m.restart_k8s_writes, m.restart_zstack_requests):
        restart = (
            m.restart_zstack_writes == 0
            and m.restart_k8s_writes == 0
            and (m.restart_zstack_requests or 0) <= RESTART_REQUEST_LIMIT
        )
    naive_ratio = _ratio(m.operator_seconds, m.naive_seconds)
    per_create = _ratio(m.operator_k8s_writes, m.count)
    ready_value = "n/a"
    if ready_ratio is not None:
        ready_value = f"{m.operator_seconds:.1f} s / {m.ideal_seconds:.1f} s = {ready_ratio:.2f}x"
    naive_value = "n/a"
    if naive_ratio is not None:
        naive_value = f"{m.operator_seconds:.1f} s / {m.naive_seconds:.1f} s = {naive_ratio:.2f}x"
    writes_value = "n/a"
    if per_create is not None:
        writes_value = f"{m.operator_k8s_writes} / {m.count} = {per_create:.2f}"
    rss_value = "n/a"
    if rss_ratio is not None:
        rss_value = (
            f"{_mib(m.operator_rss_kib)} / {_mib(m.barekopf_rss_kib)} MiB = {rss_ratio:.2f}x"
        )
    restart_value = (
        f"{_show(m.restart_zstack_writes)} ZStack writes, {_show(m.restart_k8s_writes)} K8s "
        f"writes, {_show(m.restart_zstack_requests)} ZStack requests"
    )
    return [
        Check(
            f"time to all {m.count} Ready vs ideal",
            ready_value,
            f"<= {READY_RATIO_LIMIT}x",
            _at_most(ready_ratio, READY_RATIO_LIMIT),
        ),
        Check(
            f"time to all {m.count} Ready vs naive",
            naive_value,
            f"<= {NAIVE_RATIO_LIMIT}x",
            _at_most(naive_ratio, NAIVE_RATIO_LIMIT),
        ),
        Check(
            "K8s writes per happy-path create (Events included)",
            writes_value,
            f"<= {WRITES_PER_CREATE_LIMIT}",
            _at_most(per_create, WRITES_PER_CREATE_LIMIT),
        ),
        Check(
            "restart with all Ready",
            restart_value,
            f"0, 0, <= {RESTART_REQUEST_LIMIT}",
            restart,
        ),
        Check(
            "steady state, ZStack requests per drift interval",
            _show(m.steady_requests),
            f"<= {steady_limit(m.count)}",
            _at_most(m.steady_requests, steady_limit(m.count)),
        ),
        Check(
            "peak RSS, operator vs bare kopf",
            rss_value,
            f"<= {RSS_RATIO_LIMIT}x",
            _at_most(rss_ratio, RSS_RATIO_LIMIT),
        ),
        Check(
            "simulator peakInFlight during the operator runs",
            _show(m.peak_in_flight),
            f"<= {IN_FLIGHT_LIMIT}",
            _at_most(m.peak_in_flight, IN_FLIGHT_LIMIT),
        ),
    ]


@dataclass(frozen=True)
class SizeFigures:
    """What the scale targets need from one size of ``--sizes``; None means not measured."""

    count: int
    ideal_seconds: float | None
    operator_seconds: float | None
    operator_rss_kib: int | None
    barekopf_rss_kib: int | None
    naive_rss_kib: int | None = None
    #: The restarted operator's CPU seconds from /readyz until idle.
    restart_cpu_seconds: float | None = None
    restart_zstack_requests: int | None = None

    @property
    def restart_cpu_per_object(self) -> float | None:
        """Restart CPU seconds per object."""
        return None if self.restart_cpu_seconds is None else self.restart_cpu_seconds / self.count


def slope(points: Sequence[tuple[int, float | None]]) -> float | None:
    """Least-squares slope of value over count, per 1,000 objects.

    None unless every point is measured and there are two distinct counts: a slope through a
    subset of the sizes would not compare with one through all of them.
    """
    if any(v is None for _, v in points) or len({n for n, _ in points}) < 2:
        return None
    known = [(float(n), float(v)) for n, v in points if v is not None]
    mean_n = sum(n for n, _ in known) / len(known)
    mean_v = sum(v for _, v in known) / len(known)
    num = sum((n - mean_n) * (v - mean_v) for n, v in known)
    den = sum((n - mean_n) ** 2 for n, _ in known)
    return 1000.0 * num / den


def _rss_mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024


def rss_slopes(sizes: Sequence[SizeFigures]) -> dict[str, float | None]:
    """Peak RSS growth in MiB per 1,000 objects of the operator, bare kopf and naive."""
    return {
        "operator": slope([(s.count, _rss_mib(s.operator_rss_kib)) for s in sizes]),
        "barekopf": slope([(s.count, _rss_mib(s.barekopf_rss_kib)) for s in sizes]),
        "naive": slope([(s.count, _rss_mib(s.naive_rss_kib)) for s in sizes]),
    }


def _every(verdicts: Sequence[bool | None]) -> bool | None:
    """One missed is NO; otherwise one unmeasured (or none at all) is n/a."""
    if False in verdicts:
        return False
    return None if None in verdicts or not verdicts else True


def evaluate_scale(sizes: Sequence[SizeFigures]) -> list[Check]:
    """The targets across sizes (issue 9): memory slope, ratio, restart cost at every size."""
    sizes = sorted(sizes, key=lambda s: s.count)
    slopes = rss_slopes(sizes)
    op, bare = slopes["operator"], slopes["barekopf"]
    slope_value, slope_met = "n/a", None
    if op is not None and bare is not None:
        slope_value = f"{op:.1f} / {bare:.1f} MiB per 1,000"
        if bare > 0:
            slope_value += f" = {op / bare:.2f}x"
        # Bare kopf's memory may even shrink between sizes (noise); it grants no negative limit.
        slope_met = op <= RSS_SLOPE_RATIO_LIMIT * max(bare, 0.0)
    ratios = [_ratio(s.operator_seconds, s.ideal_seconds) for s in sizes]
    per_object = [s.restart_cpu_per_object for s in sizes]
    per_object_ms = [None if c is None else 1000 * c for c in per_object]
    cpu_met = None
    if len(sizes) >= 2 and per_object[0] is not None and per_object[-1] is not None:
        cpu_met = per_object[-1] <= per_object[0]
    requests = [s.restart_zstack_requests for s in sizes]
    return [
        Check(
            "peak RSS slope, operator vs bare kopf",
            slope_value,
            f"<= {RSS_SLOPE_RATIO_LIMIT}x",
            slope_met,
        ),
        Check(
            "time to all Ready vs ideal, every size",
            _per_size(ratios, sizes, "{:.2f}x"),
            f"<= {READY_RATIO_LIMIT}x",
            _every([_at_most(r, READY_RATIO_LIMIT) for r in ratios]),
        ),
        Check(
            "restart CPU per object, largest vs smallest size",
            _per_size(per_object_ms, sizes, "{:.2f} ms"),
            "largest <= smallest",
            cpu_met,
        ),
        Check(
            "restart ZStack requests, every size",
            _per_size(requests, sizes),
            f"<= {RESTART_REQUEST_LIMIT}",
            _every([_at_most(r, RESTART_REQUEST_LIMIT) for r in requests]),
        ),
    ]


def _per_size(
    values: Sequence[float | None], sizes: Sequence[SizeFigures], fmt: str = "{:g}"
) -> str:
    """``1.25x at 1000, n/a at 3000``."""
    cells = [f"{_show(v, fmt)} at {s.count}" for v, s in zip(values, sizes, strict=True)]
    return ", ".join(cells) or "n/a"


def _mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f}"


def render(rows: list[list[str]], header: list[str]) -> str:
    """A plain fixed-width table: a header, a rule, the rows."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def render_checks(checks: list[Check]) -> str:
    """The targets table."""
    return render(
        [[c.target, c.value, c.limit, c.verdict] for c in checks],
        ["target", "measured", "limit", "met"],
    )
