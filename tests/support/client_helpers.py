"""Helpers shared by the client tests (tests/client/test_client_*.py): params, observers.

Plain functions and classes, no fixtures: the simulator fixtures live in ``sim_fixtures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zstack_operator.sim import DEFAULT_MODEL_CENTER_UUID
from zstack_operator.zstack import AccountCredentials, RetryPolicy
from zstack_operator.zstack.models import AddModelServiceParam

PASSWORD = "password"
ADMIN = AccountCredentials(account_name="admin", password=PASSWORD)
#: The password every test tenant gets (``tenant``).
TENANT_PASSWORD = "tenant-password"


def tenant(name: str) -> AccountCredentials:
    """Credentials of a normal account created with ``TENANT_PASSWORD``."""
    return AccountCredentials(account_name=name, password=TENANT_PASSWORD)


#: Retries quick enough for tests, patient enough for 30 % injected faults.
FAST_RETRY = RetryPolicy(attempts=8, base=0.005, cap=0.05)


def param(**overrides: Any) -> AddModelServiceParam:
    """A valid AddModelService param; keyword arguments replace fields (snake_case)."""
    values: dict[str, Any] = {
        "name": "llama",
        "yaml": "services:\n  - name: api\n",
        "request_cpu": 2,
        "request_memory": 1024,
        "model_center_uuid": DEFAULT_MODEL_CENTER_UUID,
        "install_path": "/models/llama",
        "start_command": "python serve.py",
    }
    values.update(overrides)
    return AddModelServiceParam(**values)


@dataclass
class RecordingObserver:
    """A ``RequestObserver`` that remembers what it was told."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0

    def on_request(self, api: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.requests.append((api, outcome))

    def on_in_flight(self, delta: int) -> None:
        self.in_flight += delta
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def on_job_poll(self, api: str) -> None:
        self.polls.append(api)
