"""bench.apimetrics: kube-apiserver write counters, VmHWM, Table rows, simulator totals."""

from __future__ import annotations

import pytest
from zstack_operator.bench import apimetrics

LABELS = 'component="apiserver",contentType="application/json",dry_run="",group="ai.zstack.io"'


def _line(verb: str, resource: str, sub: str, code: str, value: str) -> str:
    return (
        f'apiserver_request_total{{code="{code}",{LABELS},resource="{resource}",'
        f'scope="resource",subresource="{sub}",verb="{verb}",version="v1alpha1"}} {value}'
    )


METRICS = "\n".join(
    [
        "# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out ...",
        "# TYPE apiserver_request_total counter",
        _line("PATCH", "modelservices", "", "200", "40"),
        _line("PATCH", "modelservices", "", "409", "3"),
        _line("PATCH", "modelservices", "status", "200", "2000"),
        _line("POST", "modelservices", "", "201", "1000"),
        _line("GET", "modelservices", "", "200", "77"),
        _line("LIST", "modelservices", "", "200", "12"),
        _line("DELETE", "modelservices", "", "200", "5"),
        _line("POST", "events", "", "201", "3000"),
        _line("PUT", "leases", "", "200", "90"),
        # A metric whose name starts like the one we read must not be mistaken for it.
        'apiserver_request_total_extra{verb="POST",resource="events",subresource=""} 999',
        'apiserver_request_duration_seconds_count{verb="PATCH",resource="events"} 5',
    ]
)


def test_write_counts_sum_codes_per_resource_and_verb_and_skip_reads() -> None:
    assert apimetrics.write_counts(METRICS) == {
        "modelservices": {"PATCH": 43, "POST": 1000, "DELETE": 5},
        "modelservices/status": {"PATCH": 2000},
        "events": {"POST": 3000},
    }


def test_failed_writes_counts_only_refused_writes_on_watched_resources() -> None:
    assert apimetrics.failed_writes(METRICS) == 3


def test_label_values_with_escaped_quotes_and_commas_parse() -> None:
    text = 'm{a="x\\"y,z",b="2"} 7.5 1700000000000'
    assert apimetrics.parse_samples(text, "m") == [({"a": 'x"y,z', "b": "2"}, 7.5)]


def test_diff_and_subtract_remove_earlier_and_own_writes() -> None:
    before = {"modelservices": {"PATCH": 10}, "events": {"POST": 1}}
    after = {"modelservices": {"PATCH": 30, "POST": 100}, "events": {"POST": 1}}
    delta = apimetrics.diff_counts(after, before)
    assert delta == {"modelservices": {"PATCH": 20, "POST": 100}}
    assert apimetrics.subtract(delta, "modelservices", "POST", 100) == {
        "modelservices": {"PATCH": 20}
    }
    assert apimetrics.subtract({"modelservices": {"POST": 3}}, "modelservices", "POST", 5) == {}
    assert apimetrics.total(delta) == 120


def test_vm_hwm_is_read_in_kib() -> None:
    status = "Name:\tpython\nVmPeak:\t  300000 kB\nVmHWM:\t   71680 kB\nVmRSS:\t   70000 kB\n"
    assert apimetrics.vm_hwm_kib(status) == 71680
    assert apimetrics.vm_hwm_kib("Name:\tkthreadd\n") is None


def test_ready_rows_reads_the_ready_column_of_a_table() -> None:
    table = {
        "kind": "Table",
        "columnDefinitions": [{"name": "Name"}, {"name": "UUID"}, {"name": "READY"}],
        "rows": [
            {"cells": ["a", "u1", "True"]},
            {"cells": ["b", "", "False"]},
            {"cells": ["c", "", ""]},
            {"cells": ["d", "u4", "True"]},
        ],
    }
    assert apimetrics.ready_rows(table) == 2
    assert apimetrics.ready_rows({"columnDefinitions": [{"name": "READY"}], "rows": None}) == 0
    with pytest.raises(ValueError, match="no READY column"):
        apimetrics.ready_rows({"columnDefinitions": [{"name": "Name"}], "rows": []})


def test_zstack_totals_and_writes_from_simulator_counters() -> None:
    requests = {
        "QueryApiJob": {"200": 1000, "202": 2000},
        "AddModelService": {"202": 1000, "503": 2},
        "LogInByAccount": {"200": 1},
        "QueryModelService": {"200": 1},
    }
    assert apimetrics.zstack_totals(requests) == {
        "AddModelService": 1002,
        "LogInByAccount": 1,
        "QueryApiJob": 3000,
        "QueryModelService": 1,
    }
    assert apimetrics.zstack_writes(requests) == 1002
    assert apimetrics.zstack_writes({"LogInByAccount": {"200": 1}}) == 0


def test_busiest_window_counts_requests_within_any_interval() -> None:
    # Cumulative requests sampled once a second: one burst of 2 at 10 s, one of 1 at 75 s.
    samples = [(float(t), 0 if t < 10 else 2 if t < 75 else 3) for t in range(121)]
    assert apimetrics.busiest_window(samples, 60.0) == 2
    assert apimetrics.busiest_window(samples, 70.0) == 3
    assert apimetrics.busiest_window([(0.0, 0)], 60.0) == 0


def _duration(suffix: str, verb: str, resource: str, sub: str, value: str) -> str:
    return (
        f'apiserver_request_duration_seconds_{suffix}{{component="apiserver",resource="{resource}",'
        f'scope="resource",subresource="{sub}",verb="{verb}"}} {value}'
    )


def test_mean_write_latency_between_two_snapshots() -> None:
    before = apimetrics.write_latency(
        "\n".join(
            [
                _duration("sum", "PATCH", "modelservices", "status", "2.0"),
                _duration("count", "PATCH", "modelservices", "status", "100"),
                _duration("sum", "GET", "modelservices", "", "50.0"),
                _duration("count", "GET", "modelservices", "", "10"),
            ]
        )
    )
    after = apimetrics.write_latency(
        "\n".join(
            [
                _duration("sum", "PATCH", "modelservices", "status", "12.0"),
                _duration("count", "PATCH", "modelservices", "status", "200"),
                _duration("sum", "POST", "events", "", "0.5"),
                _duration("count", "POST", "events", "", "10"),
            ]
        )
    )
    assert before == {"PATCH modelservices/status": (2.0, 100)}
    assert apimetrics.mean_latency_ms(after, before) == {
        "PATCH modelservices/status": 100.0,
        "POST events": 50.0,
    }


def test_cpu_ticks_add_user_and_system_time_after_the_command_name() -> None:
    # The command name may hold spaces and parentheses; utime and stime are fields 14 and 15.
    stat = "4242 (python (bench) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 3 0"
    assert apimetrics.cpu_ticks(stat) == 325
