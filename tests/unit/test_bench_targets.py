"""bench.targets: judging the issue-6 and issue-9 targets, the slopes, and the tables."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from zstack_operator.bench.manifests import generate, load_sample
from zstack_operator.bench.targets import (
    Measured,
    SizeFigures,
    evaluate,
    evaluate_scale,
    render_checks,
    rss_slopes,
    slope,
    steady_limit,
)

GOOD = Measured(
    count=1000,
    ideal_seconds=10.0,
    operator_seconds=12.5,
    operator_rss_kib=60 * 1024,
    barekopf_rss_kib=55 * 1024,
    peak_in_flight=16,
    restart_zstack_writes=0,
    restart_zstack_requests=2,
    restart_k8s_writes=0,
    steady_requests=2,
    naive_seconds=12.0,
    operator_k8s_writes=3000,
)
#: Index of each check in ``evaluate``'s answer.
READY, NAIVE, WRITES, RESTART, STEADY, RSS, IN_FLIGHT = range(7)


def _verdicts(m: Measured) -> list[bool | None]:
    return [c.met for c in evaluate(m)]


def test_every_target_met() -> None:
    assert _verdicts(GOOD) == [True] * 7


def test_each_limit_is_inclusive() -> None:
    at_limits = dataclasses.replace(
        GOOD,
        operator_seconds=13.0,
        naive_seconds=13.0 / 1.1,
        operator_rss_kib=66 * 1024,
        restart_zstack_requests=3,
    )
    assert _verdicts(at_limits) == [True] * 7


@pytest.mark.parametrize(
    ("change", "index"),
    [
        ({"operator_seconds": 13.01}, READY),
        ({"naive_seconds": 11.0}, NAIVE),  # 12.5 s against 11 s is 1.14x
        ({"operator_k8s_writes": 3001}, WRITES),  # one write over 3 per create
        ({"operator_k8s_writes": 5000}, WRITES),  # today's five writes per create
        ({"restart_zstack_requests": 4}, RESTART),
        ({"restart_zstack_writes": 1}, RESTART),
        ({"restart_k8s_writes": 1}, RESTART),
        ({"steady_requests": 3}, STEADY),
        ({"operator_rss_kib": 67 * 1024}, RSS),
        ({"peak_in_flight": 17}, IN_FLIGHT),
    ],
)
def test_one_step_beyond_a_limit_fails_that_target_only(change: dict[str, Any], index: int) -> None:
    verdicts = _verdicts(dataclasses.replace(GOOD, **change))
    assert verdicts[index] is False
    assert verdicts.count(False) == 1


def test_steady_limit_is_one_query_per_thousand_plus_one() -> None:
    assert [steady_limit(n) for n in (1, 100, 1000, 1001, 2500)] == [2, 2, 2, 3, 4]


def test_unmeasured_figures_are_not_applicable_never_met() -> None:
    skipped = dataclasses.replace(
        GOOD, steady_requests=None, restart_k8s_writes=None, ideal_seconds=None
    )
    checks = evaluate(skipped)
    assert [c.met for c in checks] == [None, True, True, None, None, True, True]
    assert [checks[i].verdict for i in (READY, RESTART, STEADY)] == ["n/a", "n/a", "n/a"]
    no_naive = evaluate(dataclasses.replace(GOOD, naive_seconds=None, operator_k8s_writes=None))
    assert [no_naive[i].value for i in (NAIVE, WRITES)] == ["n/a", "n/a"]
    assert [no_naive[i].met for i in (NAIVE, WRITES)] == [None, None]


def test_table_shows_ratio_and_verdicts() -> None:
    slow = dataclasses.replace(GOOD, operator_seconds=30.0)
    table = render_checks(evaluate(slow))
    lines = table.splitlines()
    assert lines[0].split() == ["target", "measured", "limit", "met"]
    assert "30.0 s / 10.0 s = 3.00x" in lines[2]
    assert lines[2].endswith("NO")
    assert "30.0 s / 12.0 s = 2.50x" in lines[3]
    assert lines[3].endswith("NO")
    assert "3000 / 1000 = 3.00" in lines[4]
    assert lines[4].endswith("yes")


@pytest.mark.parametrize(
    ("points", "expected", "reason"),
    [
        ([(1000, 100.0), (3000, 200.0)], 50.0, "two sizes: rise over run, per 1,000"),
        ([(3000, 200.0), (1000, 100.0)], 50.0, "order does not matter"),
        ([(1000, 80.0), (3000, 80.0)], 0.0, "flat"),
        ([(1000, 90.0), (3000, 86.0)], -2.0, "shrinking is a negative slope"),
        ([(1000, 10.0), (2000, 30.0), (3000, 30.0)], 10.0, "three sizes: least squares"),
        ([(100, 60.0), (1100, 61.5)], 1.5, "small sizes scale up to 1,000"),
        ([(1000, 10.0)], None, "one size has no slope"),
        ([(1000, 10.0), (1000, 20.0)], None, "one distinct count has no slope"),
        ([(1000, 10.0), (3000, None)], None, "a size not measured: no slope"),
        ([], None, "nothing measured"),
    ],
)
def test_slope_per_thousand_objects(
    points: list[tuple[int, float | None]], expected: float | None, reason: str
) -> None:
    got = slope(points)
    assert got == pytest.approx(expected) if expected is not None else got is None, reason


def _size(count: int, **changes: Any) -> SizeFigures:
    """A size that meets every scale target: memory grows 10 MiB per 1,000 for both."""
    base = SizeFigures(
        count=count,
        ideal_seconds=count / 100,
        operator_seconds=1.2 * count / 100,
        operator_rss_kib=(100 + 10 * count // 1000) * 1024,
        barekopf_rss_kib=(60 + 10 * count // 1000) * 1024,
        naive_rss_kib=(70 + 12 * count // 1000) * 1024,
        restart_cpu_seconds=0.002 * count,
        restart_zstack_requests=2,
    )
    return dataclasses.replace(base, **changes)


#: Index of each check in ``evaluate_scale``'s answer.
SLOPE, EVERY_READY, RESTART_CPU, EVERY_RESTART = range(4)


@pytest.mark.parametrize(
    ("small", "large", "expected", "reason"),
    [
        ({}, {}, [True, True, True, True], "linear in everything"),
        ({}, {"operator_rss_kib": 134 * 1024}, [True, True, True, True],
         "operator 12 MiB per 1,000 against 10: exactly 1.2x"),
        ({}, {"operator_rss_kib": 135 * 1024}, [False, True, True, True],
         "operator 12.5 MiB per 1,000 against 10: 1.25x"),
        ({"barekopf_rss_kib": 100 * 1024}, {"operator_rss_kib": 110 * 1024}, [True] * 4,
         "bare kopf shrinks, the operator is flat: a zero slope is allowed"),
        ({"barekopf_rss_kib": 100 * 1024}, {}, [False, True, True, True],
         "bare kopf shrinks: it grants no room for any operator growth"),
        ({}, {"operator_seconds": 40.0}, [True, False, True, True],
         "1.33x ideal at the larger size only"),
        ({"operator_seconds": 13.1}, {}, [True, False, True, True],
         "1.31x ideal at the smaller size only"),
        ({}, {"restart_cpu_seconds": 6.03}, [True, True, False, True],
         "restart CPU per object grows from 2.00 to 2.01 ms"),
        ({"restart_cpu_seconds": 4.2}, {"restart_cpu_seconds": 55.6}, [True, True, False, True],
         "issue 9's figures: 4.2 ms to 18.5 ms per object"),
        ({}, {"restart_cpu_seconds": 3.0}, [True, True, True, True],
         "restart CPU per object falls with N"),
        ({}, {"restart_zstack_requests": 4}, [True, True, True, False],
         "four restart requests at 3000 (issue 9's figure)"),
        ({"restart_zstack_requests": 3}, {"restart_zstack_requests": 3}, [True] * 4,
         "three requests is the limit, inclusive"),
        ({"barekopf_rss_kib": None}, {}, [None, True, True, True],
         "bare kopf not measured at one size: no slope to compare"),
        ({}, {"ideal_seconds": None}, [True, None, True, True],
         "a ratio not measured is n/a"),
        ({"ideal_seconds": None}, {"operator_seconds": 40.0}, [True, False, True, True],
         "one size missed outweighs one not measured"),
        ({}, {"restart_cpu_seconds": None, "restart_zstack_requests": None},
         [True, True, None, None], "the restart of the larger size failed"),
    ],
)  # fmt: skip
def test_scale_targets(
    small: dict[str, Any], large: dict[str, Any], expected: list[bool | None], reason: str
) -> None:
    checks = evaluate_scale([_size(3000, **large), _size(1000, **small)])
    assert [c.met for c in checks] == expected, reason


def test_scale_table_values_read_per_size_in_order() -> None:
    checks = evaluate_scale([_size(3000, restart_zstack_requests=4), _size(1000)])
    assert checks[SLOPE].value == "10.0 / 10.0 MiB per 1,000 = 1.00x"
    assert checks[EVERY_READY].value == "1.20x at 1000, 1.20x at 3000"
    assert checks[RESTART_CPU].value == "2.00 ms at 1000, 2.00 ms at 3000"
    assert checks[EVERY_RESTART].value == "2 at 1000, 4 at 3000"
    assert [c.verdict for c in checks] == ["yes", "yes", "yes", "NO"]


def test_one_size_judges_no_slope_and_no_cpu_growth() -> None:
    checks = evaluate_scale([_size(1000)])
    assert [c.met for c in checks] == [None, True, None, True]


def test_rss_slopes_of_all_three_programs_in_mib() -> None:
    slopes = rss_slopes([_size(1000), _size(3000)])
    assert slopes == pytest.approx({"operator": 10.0, "barekopf": 10.0, "naive": 12.0})


def test_generated_objects_copy_the_sample_with_distinct_names() -> None:
    sample = load_sample()
    objects = generate(sample, 3)
    assert [o["metadata"] for o in objects] == [
        {"name": "bench-00000"},
        {"name": "bench-00001"},
        {"name": "bench-00002"},
    ]
    assert [o["spec"]["name"] for o in objects] == ["bench-00000", "bench-00001", "bench-00002"]
    assert objects[0]["spec"]["yaml"] == sample["spec"]["yaml"]
    assert sample["spec"]["name"] != "bench-00000"  # the sample itself is left alone
