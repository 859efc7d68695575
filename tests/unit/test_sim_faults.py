"""Fault knobs and counters of the simulator."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from zstack_operator.sim.config import SimConfig
from zstack_operator.sim.faults import Counters, Fault, Faults


def test_faults_start_from_the_config_and_show_as_camel_case() -> None:
    faults = Faults.from_config(
        SimConfig(latency_ms=5, error_rate=0.5, job_duration_ms=7, deploy_duration_ms=9)
    )
    assert faults.to_json() == {
        "latencyMs": 5,
        "errorRate": 0.5,
        "resetRate": 0.0,
        "throttleRate": 0.0,
        "retryAfter": 1.0,
        "outage": False,
        "jobDurationMs": 7,
        "holdJobs": False,
        "deployDurationMs": 9,
        "deployFailRate": 0.0,
    }


def test_merge_changes_only_the_given_knobs() -> None:
    faults = Faults()
    faults.merge({"outage": True, "throttleRate": 0.25, "retryAfter": 3})
    assert (faults.outage, faults.throttle_rate, faults.retry_after) == (True, 0.25, 3)
    assert faults.error_rate == 0.0


@pytest.mark.parametrize(
    "update",
    [
        {"errorRate": 1.5},
        {"latencyMs": -1},
        {"outage": 1},
        {"holdJobs": "yes"},
        {"deployFailRate": 2},
        {"deployDurationMs": -5},
        {"bogus": 1},
        {"errorRate": True},
    ],
)
def test_merge_refuses_bad_values_and_changes_nothing(update: dict[str, object]) -> None:
    faults = Faults()
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for humans
        faults.merge({"resetRate": 0.5, **update})
    assert faults == Faults()


def test_roll_splits_one_draw_between_the_faults() -> None:
    faults = Faults(reset_rate=0.2, throttle_rate=0.3, error_rate=0.1)
    rng = random.Random(7)
    seen = Counter(faults.roll(rng) for _ in range(10_000))
    assert abs(seen[Fault.RESET] / 10_000 - 0.2) < 0.03
    assert abs(seen[Fault.THROTTLE] / 10_000 - 0.3) < 0.03
    assert abs(seen[Fault.ERROR] / 10_000 - 0.1) < 0.03
    assert Faults().roll(rng) is Fault.NONE
    assert Faults(error_rate=1.0).roll(rng) is Fault.ERROR


def test_counters_track_requests_and_peak_concurrency() -> None:
    counters = Counters()
    counters.begin()
    counters.begin()
    counters.end("AddModelService", "202")
    counters.begin()
    counters.end("AddModelService", "reset")
    counters.create_requests["u1"] += 2
    counters.created["u1"] += 1
    doc = counters.to_json(resources=1, sessions_active=0)
    assert doc == {
        "requests": {"AddModelService": {"202": 1, "reset": 1}},
        "createRequests": {"u1": 2},
        "created": {"u1": 1},
        "inFlight": 1,
        "peakInFlight": 2,
        "resources": 1,
        "logins": 0,
        "sessionsActive": 0,
    }
    counters.reset()
    assert counters.to_json(resources=0, sessions_active=0)["peakInFlight"] == 1
    counters.end("QueryModelService", "200")
    assert counters.in_flight == 0
