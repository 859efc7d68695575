"""The bench's targets (issue 6) and the table that says whether each is met.

Pure: ``Measured`` holds the figures a run produced, ``evaluate`` judges them, ``render`` lays
out the stdout table. Called by ``bench.cli``; unit-tested with made-up figures. A target whose
figure was not measured (``--skip-steady``, a run that timed out) is reported as ``n/a``,
never as met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Time to all Ready may be at most this multiple of the ideal floor.
READY_RATIO_LIMIT = 1.3
#: Peak RSS may be at most this multiple of the bare kopf operator's.
RSS_RATIO_LIMIT = 1.2
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
    """Every target of issue 6, judged."""
    ready_ratio = _ratio(m.operator_seconds, m.ideal_seconds)
    rss_ratio = _ratio(m.operator_rss_kib, m.barekopf_rss_kib)
    restart: bool | None = None
    if None not in (m.restart_zstack_writes, m.restart_k8s_writes, m.restart_zstack_requests):
        restart = (
            m.restart_zstack_writes == 0
            and m.restart_k8s_writes == 0
            and (m.restart_zstack_requests or 0) <= RESTART_REQUEST_LIMIT
        )
    ready_value = "n/a"
    if ready_ratio is not None:
        ready_value = f"{m.operator_seconds:.1f} s / {m.ideal_seconds:.1f} s = {ready_ratio:.2f}x"
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
