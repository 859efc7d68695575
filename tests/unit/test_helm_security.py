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


def network_policy(chart: helm_python.Chart, values: dict[str, Any]) -> dict[str, Any]:
    objects = render(chart, {"networkPolicy": {"enabled": True, **values.pop("np", {})}, **values})
    policy: dict[str, Any] = objects["NetworkPolicy", "zstack-operator", NS]
    pod = objects["Deployment", "zstack-operator", NS]["spec"]["template"]["metadata"]
    # It selects exactly the operator's pod.
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["labels"].items()
    return policy


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"port": port, "protocol": "TCP"} for port in ports]


def test_no_network_policy_unless_enabled(chart: helm_python.Chart) -> None:
    assert not [key for key in render(chart) if key[0] == "NetworkPolicy"]


def test_network_policy_admits_only_the_health_port_from_the_chosen_peers(
    chart: helm_python.Chart,
) -> None:
    monitoring = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    prometheus = {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    outside = {"ipBlock": {"cidr": "198.51.100.0/24"}}
    values = {
        "healthPort": 9090,
        "zstack": {"endpoint": "https://zstack.example:8443"},
        "np": {
            "ingress": {
                "namespaceSelector": monitoring,
                "podSelector": prometheus,
                "from": [outside],
            }
        },
    }
    spec = network_policy(chart, values)["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [
        {
            "ports": tcp(9090),
            "from": [{"namespaceSelector": monitoring, "podSelector": prometheus}, outside],
        }
    ]


def test_network_policy_ingress_without_peers_opens_only_the_port(
    chart: helm_python.Chart,
) -> None:
    spec = network_policy(chart, {"zstack": {"endpoint": "https://z:8443"}})["spec"]
    assert spec["ingress"] == [{"ports": tcp(8080)}]


def test_network_policy_egress_is_dns_the_api_server_and_zstack(chart: helm_python.Chart) -> None:
    values = {
        "zstack": {"endpoint": "https://zstack.example:8443"},
        "np": {
            "egress": {
                "kubernetesAPI": {"cidrs": ["10.0.0.10/32", "fd00::10/128"]},
                "zstack": {"cidrs": ["192.0.2.10/32"], "ports": [8443, 8080]},
                "extra": [{"to": [{"ipBlock": {"cidr": "10.1.0.5/32"}}], "ports": tcp(3128)}],
            }
        },
    }
    dns, api, zstack, proxy = network_policy(chart, values)["spec"]["egress"]
    assert dns == {
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
    }
    assert api == {
        "ports": tcp(443, 6443),
        "to": [{"ipBlock": {"cidr": "10.0.0.10/32"}}, {"ipBlock": {"cidr": "fd00::10/128"}}],
    }
    assert zstack == {"ports": tcp(8443, 8080), "to": [{"ipBlock": {"cidr": "192.0.2.10/32"}}]}
    assert proxy == {"to": [{"ipBlock": {"cidr": "10.1.0.5/32"}}], "ports": tcp(3128)}


@pytest.mark.parametrize(
    ("endpoint", "port"),
    [
        ("https://zstack.example:8443/", 8443),
        ("https://zstack.example", 443),
        ("http://zstack.example", 80),
        ("http://[fd00::1]:9000/zstack", 9000),
    ],
)
def test_the_zstack_port_follows_the_endpoint_unless_listed(
    chart: helm_python.Chart, endpoint: str, port: int
) -> None:
    values = {"zstack": {"endpoint": endpoint, "allowInsecureHTTP": True}}
    egress = network_policy(chart, values)["spec"]["egress"]
    assert egress[2] == {"ports": tcp(port)}  # no cidrs: that port to any address


def test_network_policy_without_a_zstack_port_to_take_says_what_to_set(
    chart: helm_python.Chart,
) -> None:
    with pytest.raises(
        helm_python.HelmRenderError, match=r"networkPolicy\.egress\.zstack\.ports is empty"
    ):
        render(chart, {"networkPolicy": {"enabled": True}})


def test_dns_rule_can_be_opened_or_dropped(chart: helm_python.Chart) -> None:
    endpoint = {"zstack": {"endpoint": "https://z:8443"}}
    anywhere = network_policy(chart, {**endpoint, "np": {"egress": {"dns": {"to": []}}}})
    assert anywhere["spec"]["egress"][0] == {
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    }
    off = network_policy(chart, {**endpoint, "np": {"egress": {"dns": {"enabled": False}}}})
    assert [rule["ports"][0]["port"] for rule in off["spec"]["egress"]] == [443, 8443]


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"enabled": "yes"}, "/networkPolicy/enabled"),
        ({"ingress": {"podSelector": {"app": "prometheus"}}}, "/networkPolicy/ingress/podSelector"),
        ({"egress": {"zstack": {"ports": [0]}}}, "/networkPolicy/egress/zstack/ports/0"),
        ({"egress": {"kubernetesAPI": {"cidrs": ["10.0.0.1"]}}}, "kubernetesAPI/cidrs/0"),
        ({"egress": {"zstack": {"hosts": ["zstack"]}}}, "/networkPolicy/egress/zstack"),
        ({"ingres": {}}, "/networkPolicy"),
    ],
)
def test_network_policy_values_are_checked(
    chart: helm_python.Chart, values: dict[str, Any], where: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=where):
        render(chart, {"networkPolicy": values})


def test_network_policy_lints_clean() -> None:
    values = {
        "zstack": {"endpoint": "https://zstack.example:8443"},
        "networkPolicy": {
            "enabled": True,
            "ingress": {"namespaceSelector": {"matchLabels": {"team": "monitoring"}}},
            "egress": {
                "kubernetesAPI": {"cidrs": ["10.0.0.10/32"]},
                "zstack": {"cidrs": ["192.0.2.10/32"]},
            },
        },
    }
    report = helm_python.lint(CHART, values, strict=True, namespace=NS, kube_version="v1.20.2")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []
