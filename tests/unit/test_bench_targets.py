"""bench.targets: judging the issue-6 targets, and the table that shows them."""

from __future__ import annotations

import dataclasses

from zstack_operator.bench.manifests import generate, load_sample
from zstack_operator.bench.targets import Measured, evaluate, render_checks, steady_limit

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
)


def _verdicts(m: Measured) -> list[bool | None]:
    return [c.met for c in evaluate(m)]


def test_every_target_met() -> None:
    assert _verdicts(GOOD) == [True, True, True, True, True]


def test_each_limit_is_inclusive_and_one_step_beyond_fails() -> None:
    at_limits = dataclasses.replace(
        GOOD, operator_seconds=13.0, operator_rss_kib=66 * 1024, restart_zstack_requests=3
    )
    assert _verdicts(at_limits) == [True, True, True, True, True]
    assert _verdicts(dataclasses.replace(GOOD, operator_seconds=13.01))[0] is False
    assert _verdicts(dataclasses.replace(GOOD, restart_zstack_requests=4))[1] is False
    assert _verdicts(dataclasses.replace(GOOD, restart_zstack_writes=1))[1] is False
    assert _verdicts(dataclasses.replace(GOOD, restart_k8s_writes=1))[1] is False
    assert _verdicts(dataclasses.replace(GOOD, steady_requests=3))[2] is False
    assert _verdicts(dataclasses.replace(GOOD, operator_rss_kib=67 * 1024))[3] is False
    assert _verdicts(dataclasses.replace(GOOD, peak_in_flight=17))[4] is False


def test_steady_limit_is_one_query_per_thousand_plus_one() -> None:
    assert [steady_limit(n) for n in (1, 100, 1000, 1001, 2500)] == [2, 2, 2, 3, 4]


def test_unmeasured_figures_are_not_applicable_never_met() -> None:
    skipped = dataclasses.replace(
        GOOD, steady_requests=None, restart_k8s_writes=None, ideal_seconds=None
    )
    checks = evaluate(skipped)
    assert [c.met for c in checks] == [None, None, None, True, True]
    assert [c.verdict for c in checks][:3] == ["n/a", "n/a", "n/a"]


def test_table_shows_ratio_and_verdicts() -> None:
    slow = dataclasses.replace(GOOD, operator_seconds=30.0)
    table = render_checks(evaluate(slow))
    lines = table.splitlines()
    assert lines[0].split() == ["target", "measured", "limit", "met"]
    assert "30.0 s / 10.0 s = 3.00x" in lines[2]
    assert lines[2].endswith("NO")
    assert lines[3].endswith("yes")


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
