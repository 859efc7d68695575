"""Fault injection and traffic counters of the simulator.

Owned here: ``Faults`` (the runtime knobs ``PUT /_sim/faults`` changes: latency, error, reset and
throttle rates, outage, job duration, holding jobs, how long deployments take and how many
fail) with the dice that pick a fault for one
request, and ``Counters`` (requests per API and outcome, create requests and creations per
resource uuid, in-flight and peak in-flight requests, logins). ``app`` applies both to every
``/zstack/v1`` request; ``admin`` exposes them; ``jobs`` reads the job knobs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .config import SimConfig

#: JSON name -> attribute of every knob ``PUT /_sim/faults`` accepts.
_FAULT_KEYS = {
    "latencyMs": "latency_ms",
    "errorRate": "error_rate",
    "resetRate": "reset_rate",
    "throttleRate": "throttle_rate",
    "retryAfter": "retry_after",
    "outage": "outage",
    "jobDurationMs": "job_duration_ms",
    "holdJobs": "hold_jobs",
    "deployDurationMs": "deploy_duration_ms",
    "deployFailRate": "deploy_fail_rate",
}
_RATES = frozenset({"error_rate", "reset_rate", "throttle_rate", "deploy_fail_rate"})
_FLAGS = frozenset({"outage", "hold_jobs"})


class Fault(Enum):
    """What happens to one request instead of being served."""

    NONE = "none"
    RESET = "reset"
    THROTTLE = "throttle"
    ERROR = "error"


@dataclass
class Faults:
    """The runtime fault knobs; they start from ``SimConfig`` and are changed by the admin API."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    reset_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    outage: bool = False
    job_duration_ms: float = 100.0
    hold_jobs: bool = False
    #: How long a new deployment takes from its Deploy job's end to Running (or Failed).
    deploy_duration_ms: float = 200.0
    #: Share of deployments that end Failed instead of Running (decided when each starts).
    deploy_fail_rate: float = 0.0

    @classmethod
    def from_config(cls, config: SimConfig) -> Faults:
        """The knobs a simulator starts with."""
        return cls(
            latency_ms=config.latency_ms,
            error_rate=config.error_rate,
            reset_rate=config.reset_rate,
            throttle_rate=config.throttle_rate,
            retry_after=config.retry_after,
            job_duration_ms=config.job_duration_ms,
            deploy_duration_ms=config.deploy_duration_ms,
            deploy_fail_rate=config.deploy_fail_rate,
        )

    def to_json(self) -> dict[str, Any]:
        """The knobs as ``GET /_sim/faults`` shows them."""
        return {key: getattr(self, attr) for key, attr in _FAULT_KEYS.items()}

    def merge(self, data: Mapping[str, Any]) -> None:
        """Apply a partial update; ValueError (nothing changed) when any value is wrong."""
        updates: dict[str, Any] = {}
        for key, value in data.items():
            attr = _FAULT_KEYS.get(key)
            if attr is None:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(_FAULT_KEYS)}")
            if attr in _FLAGS:
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a number >= 0")
            elif attr in _RATES and value > 1:
                raise ValueError(f"{key} is a probability between 0 and 1")
            updates[attr] = value
        for attr, value in updates.items():
            setattr(self, attr, value)

    def roll(self, rng: random.Random) -> Fault:
        """Pick this request's fault: one draw, split between reset, throttle and error."""
        draw = rng.random()
        for fault, rate in (
            (Fault.RESET, self.reset_rate),
            (Fault.THROTTLE, self.throttle_rate),
            (Fault.ERROR, self.error_rate),
        ):
            if draw < rate:
                return fault
            draw -= rate
        return Fault.NONE


class Counters:
    """What the simulator has seen since start or the last reset."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero everything except the requests still in flight (they will end and be counted)."""
        self.requests: defaultdict[str, defaultdict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self.create_requests: defaultdict[str, int] = defaultdict(int)
        self.created: defaultdict[str, int] = defaultdict(int)
        self.peak_in_flight = self.in_flight
        self.logins = 0

    def begin(self) -> None:
        """A request started."""
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def end(self, api: str, outcome: str) -> None:
        """A request ended with ``outcome`` (its HTTP status, or ``reset``)."""
        self.in_flight -= 1
        self.requests[api][outcome] += 1

    def to_json(self, *, resources: int, sessions_active: int) -> dict[str, Any]:
        """The ``GET /_sim/counters`` document."""
        return {
            "requests": {api: dict(outcomes) for api, outcomes in self.requests.items()},
            "createRequests": dict(self.create_requests),
            "created": dict(self.created),
            "inFlight": self.in_flight,
            "peakInFlight": self.peak_in_flight,
            "resources": resources,
            "logins": self.logins,
            "sessionsActive": sessions_active,
        }
