"""bench.report: the writes-per-create table and the slope table, from made-up runs."""

from __future__ import annotations

from zstack_operator.bench.context import RunResult
from zstack_operator.bench.report import render_slopes, writes_table
from zstack_operator.bench.targets import SizeFigures
from zstack_operator.bench.track import Timeline


def _run(name: str, writes: dict[str, dict[str, int]]) -> RunResult:
    return RunResult(name, Timeline(), k8s_writes=writes)


def test_writes_per_create_divides_every_verb_and_resource_by_n() -> None:
    runs = {
        "ideal": _run("ideal", {"modelservices/status": {"PATCH": 100}}),
        "operator": _run(
            "operator",
            {
                "events": {"POST": 100},
                "modelservices": {"PATCH": 200},
                "modelservices/status": {"PATCH": 250},
            },
        ),
    }
    lines = writes_table(runs, 100).splitlines()
    assert lines[0].split("  ")[0] == "K8s writes per create"
    # Columns follow the watched resources' order, whatever order the counts came in.
    assert [c.strip() for c in lines[0].split("  ") if c.strip()][1:] == [
        "total",
        "PATCH modelservices",
        "PATCH modelservices/status",
        "POST events",
    ]
    assert lines[2].split() == ["ideal", "1.00", "0.00", "1.00", "0.00"]
    assert lines[3].split() == ["operator", "5.50", "2.00", "2.50", "1.00"]


def test_a_run_with_no_writes_shows_only_a_zero_total() -> None:
    lines = writes_table({"barekopf": _run("barekopf", {})}, 10).splitlines()
    assert lines[2].split() == ["barekopf", "0.00"]


def test_slope_table_has_one_column_per_size_and_the_slope() -> None:
    sizes = [
        SizeFigures(3000, 30.0, 36.0, 130 * 1024, 80 * 1024, None),
        SizeFigures(1000, 10.0, 12.0, 110 * 1024, 70 * 1024, 75 * 1024),
    ]
    lines = render_slopes(sizes).splitlines()
    assert lines[0].split("  ")[0] == "peak RSS"
    assert lines[0].split()[2:4] == ["N=1000", "N=3000"]
    assert lines[2].split() == ["operator", "110", "MiB", "130", "MiB", "10.0"]
    assert lines[3].split() == ["barekopf", "70", "MiB", "80", "MiB", "5.0"]
    assert lines[4].split() == ["naive", "75", "MiB", "n/a", "n/a"]
