"""The chart's security switches: the plain-http opt-in and the NetworkPolicy.

Rendered and linted by Helm's own code (tests/support/helm_chart.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import helm_python
import pytest

from tests.support.helm_chart import CHART, NS, env, render


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def notes(chart: helm_python.Chart, values: dict[str, Any]) -> str:
    rendered = chart.render(values, name="zstack-operator", namespace=NS)
    text: str = rendered["zstack-operator/templates/NOTES.txt"]
    return text


def test_plain_http_is_an_explicit_opt_in(chart: helm_python.Chart) -> None:
    http = {"endpoint": "http://zstack.example:8080"}
    assert "ZSTACK_ALLOW_INSECURE_HTTP" not in env(render(chart, {"zstack": http}))
    opted_in = env(render(chart, {"zstack": {**http, "allowInsecureHTTP": True}}))
    assert opted_in["ZSTACK_ALLOW_INSECURE_HTTP"] == "true"
    assert opted_in["ZSTACK_ENDPOINT"] == "http://zstack.example:8080"


def test_notes_warn_that_http_without_the_opt_in_will_not_start(chart: helm_python.Chart) -> None:
    warning = "zstack.endpoint is plain http and zstack.allowInsecureHTTP is false"
    assert warning in notes(chart, {"zstack": {"endpoint": "http://z:8080"}})
    opted_in = {"zstack": {"endpoint": "http://z:8080", "allowInsecureHTTP": True}}
    assert warning not in notes(chart, opted_in)
    assert warning not in notes(chart, {"zstack": {"endpoint": "https://z:8443"}})


def test_the_opt_in_is_a_checked_boolean(chart: helm_python.Chart) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="/zstack/allowInsecureHTTP"):
        render(chart, {"zstack": {"allowInsecureHTTP": "yes"}})


def test_extra_env_cannot_set_the_opt_in_behind_the_value(chart: helm_python.Chart) -> None:
    values = {"operator": {"extraEnv": [{"name": "ZSTACK_ALLOW_INSECURE_HTTP", "value": "true"}]}}
    with pytest.raises(helm_python.HelmRenderError, match="ZSTACK_ALLOW_INSECURE_HTTP"):
        render(chart, values)
