"""The Helm chart's values: credentials, CA bundle, ServiceMonitor, what the schema refuses.

Rendered by Helm's own code (tests/support/helm_chart.py); a refused value must fail the
install with a message naming it, never render something half-configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import helm_python
import pytest

from tests.support.helm_chart import CHART, NS, container, env, render, secret_rule


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def test_existing_secret_in_another_namespace(chart: helm_python.Chart) -> None:
    values = {"credentials": {"existingSecret": "zstack-login", "existingSecretNamespace": "vault"}}
    objects = render(chart, values)
    assert not [key for key in objects if key[0] == "Secret"]
    assert objects["Role", "zstack-operator-credentials-reader", "vault"]["rules"] == secret_rule(
        "zstack-login"
    )
    binding = objects["RoleBinding", "zstack-operator-credentials-reader", "vault"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "zstack-operator", "namespace": NS}
    ]
    assert env(objects)["ZSTACK_CREDENTIALS_SECRET"] == "vault/zstack-login"


@pytest.mark.parametrize(
    "login",
    [
        {"accountName": "admin", "password": "s3cret"},
        {"accessKeyId": "AKID", "accessKeySecret": "AKSECRET"},
    ],
    ids=["account", "access-key"],
)
def test_created_secret_holds_only_the_given_login(
    chart: helm_python.Chart, login: dict[str, str]
) -> None:
    objects = render(chart, {"credentials": {"create": True, **login}}, release="zso")
    secret = objects["Secret", "zso-zstack-operator-credentials", NS]
    assert secret["stringData"] == login
    assert objects["Role", "zso-zstack-operator-credentials-reader", NS]["rules"] == secret_rule(
        "zso-zstack-operator-credentials"
    )
    assert env(objects, "zso-zstack-operator")["ZSTACK_CREDENTIALS_SECRET"] == (
        "$(POD_NAMESPACE)/zso-zstack-operator-credentials"
    )


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"credentials": {"create": True, "accountName": "admin"}}, "anyOf"),
        (
            {
                "credentials": {
                    "create": True,
                    "existingSecret": "x",
                    "accessKeyId": "a",
                    "accessKeySecret": "b",
                }
            },
            "/credentials/existingSecret",
        ),
        ({"zstack": {"endpoint": "zstack:8080"}}, "/zstack/endpoint"),
        ({"operator": {"logLevel": "TRACE"}}, "/operator/logLevel"),
        ({"replicaCount": 0}, "replicaCount"),
    ],
    ids=["half-a-login", "create-and-existing", "endpoint-without-scheme", "log-level", "replicas"],
)
def test_schema_rejects_bad_values(
    chart: helm_python.Chart, values: dict[str, Any], error: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=error):
        render(chart, values)


def test_extra_env_cannot_shadow_a_chart_setting(chart: helm_python.Chart) -> None:
    shadow = {"operator": {"extraEnv": [{"name": "ZSTACK_OPERATOR_NAMESPACES", "value": "x"}]}}
    with pytest.raises(helm_python.HelmRenderError, match="ZSTACK_OPERATOR_NAMESPACES"):
        render(chart, shadow)
    # The endpoint alone may come from elsewhere (a ConfigMap, say) when the value is unset.
    from_config_map = {"configMapKeyRef": {"name": "zstack", "key": "endpoint"}}
    objects = render(
        chart,
        {"operator": {"extraEnv": [{"name": "ZSTACK_ENDPOINT", "valueFrom": from_config_map}]}},
    )
    assert env(objects)["ZSTACK_ENDPOINT"] == from_config_map


def test_ca_bundle_is_mounted_and_rolls_the_pod(chart: helm_python.Chart) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    objects = render(chart, {"zstack": {"tls": {"caBundle": pem}}})
    assert objects["ConfigMap", "zstack-operator-ca", NS]["data"] == {"ca.crt": pem}
    pod = objects["Deployment", "zstack-operator", NS]["spec"]["template"]
    assert len(pod["metadata"]["annotations"]["checksum/ca-bundle"]) == 64
    assert {"name": "ca-bundle", "configMap": {"name": "zstack-operator-ca"}} in pod["spec"][
        "volumes"
    ]
    operator = container(objects)
    assert {"name": "ca-bundle", "mountPath": "/etc/zstack-operator/ca", "readOnly": True} in (
        operator["volumeMounts"]
    )
    assert env(objects)["ZSTACK_CA_BUNDLE"] == "/etc/zstack-operator/ca/ca.crt"


def test_existing_ca_config_map(chart: helm_python.Chart) -> None:
    values = {
        "zstack": {"tls": {"existingCaBundleConfigMap": {"name": "corp-ca", "key": "root.pem"}}}
    }
    objects = render(chart, values)
    assert not [key for key in objects if key[0] == "ConfigMap"]
    volumes = objects["Deployment", "zstack-operator", NS]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "ca-bundle", "configMap": {"name": "corp-ca"}} in volumes
    assert env(objects)["ZSTACK_CA_BUNDLE"] == "/etc/zstack-operator/ca/root.pem"


def test_service_monitor_scrapes_the_metrics_service(chart: helm_python.Chart) -> None:
    values = {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}}
    objects = render(chart, values)
    monitor = objects["ServiceMonitor", "zstack-operator", NS]
    service = objects["Service", "zstack-operator-metrics", NS]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NS]}
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    pod_labels = objects["Deployment", "zstack-operator", NS]["spec"]["template"]["metadata"]
    assert service["spec"]["selector"].items() <= pod_labels["labels"].items()


def test_service_monitor_without_service_is_refused(chart: helm_python.Chart) -> None:
    values = {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}}
    with pytest.raises(helm_python.HelmRenderError, match=r"metrics\.service\.enabled"):
        render(chart, values)
