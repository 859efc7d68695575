"""``zstack-operator model-centers`` against the simulator over real loopback HTTP.

The credentials Secret comes from a stand-in for the Kubernetes API (the command reads it the
way the operator does, through the connection pool); everything else is the real command:
flags, settings, login, QueryModelCenter, logout, the table.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from zstack_operator import cli, model_centers
from zstack_operator.sim import DEFAULT_MODEL_CENTER_UUID, Simulator

from tests.support.client_helpers import PASSWORD
from tests.support.sim_fixtures import SimFactory


class SecretKube:
    """The one call the command makes to Kubernetes: read the credentials Secret."""

    def __init__(self, **data: str) -> None:
        self.data = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.read: list[tuple[str, str]] = []
        self.closed = False

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.read.append((namespace, name))
        return {"metadata": {"resourceVersion": "1"}, "data": self.data}

    async def aclose(self) -> None:
        self.closed = True


def command(sim: Simulator) -> list[str]:
    return [
        "model-centers",
        "--zstack-endpoint",
        sim.url,
        "--credentials-secret",
        "zstack-system/zstack-credentials",
        "--allow-insecure-http",  # the simulator serves plain http on loopback
    ]


async def run(argv: list[str]) -> int:
    # The command runs its own event loop (asyncio.run), so not on the test's, which serves
    # the simulator.
    return await asyncio.to_thread(cli.main, argv)


async def test_it_lists_every_center_by_name_and_logs_out(
    sim_factory: SimFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = await sim_factory()
    extra = await sim.admin.add_model_center("0" * 31 + "1")  # named center-00000000
    kube = SecretKube(accountName="admin", password=PASSWORD)
    monkeypatch.setattr(model_centers, "open_kube", lambda: kube)
    await sim.admin.reset_counters()
    assert await run(command(sim)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["UUID", "NAME", "STATUS", "URL"]
    rows = [line.split() for line in out[1:]]
    assert [row[:2] for row in rows] == [
        [extra, "center-00000000"],
        [DEFAULT_MODEL_CENTER_UUID, "default"],
    ]
    assert rows[1][-1] == "http://127.0.0.1/model-center"
    assert out[0].index("NAME") == out[1].index("center-00000000")  # columns line up
    assert kube.read == [("zstack-system", "zstack-credentials")]
    assert kube.closed
    counters = await sim.admin.counters()
    assert counters.count("QueryModelCenter", "200") == 1
    assert (counters.logins, counters.sessions_active) == (1, 0)  # logged out


async def test_a_refused_login_is_one_line_and_no_password(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "not-the-Pw-4711"
    monkeypatch.setattr(model_centers, "open_kube", lambda: SecretKube(accountName="admin",
                                                                      password=wrong))  # fmt: skip
    assert await run(command(sim)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("zstack-operator: cannot list model centers: ")
    assert captured.err.count("\n") == 1
    assert wrong not in captured.err


async def test_configuration_errors_end_before_any_request(
    sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    await sim.admin.reset_counters()
    no_http = [a for a in command(sim) if a != "--allow-insecure-http"]
    assert await run(no_http) == 2
    assert "configuration error" in capsys.readouterr().err
    assert (await sim.admin.counters()).requests == {}
