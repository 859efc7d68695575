"""The Helm chart's shape: lint, the default install, the Deployment, RBAC modes, NOTES.

Rendered by Helm's own code (tests/support/helm_chart.py); each test asserts on the objects a
cluster would receive.
"""

from __future__ import annotations

from collections.abc import Iterator

import helm_python
import pytest

from tests.support.helm_chart import (
    CHART,
    CLUSTER_RULES,
    NS,
    WATCH_RULES,
    container,
    env,
    lease_rules,
    render,
    secret_rule,
)

#: What every default render passes for leader election (the Lease is the release's name).
ELECTION_ENV = {
    "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
    "POD_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    "ZSTACK_OPERATOR_LEADER_ELECT": "true",
    "ZSTACK_OPERATOR_LEASE_NAME": "zstack-operator",
    "ZSTACK_OPERATOR_LEASE_DURATION": "15",
}


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def test_lint_reports_nothing_above_info() -> None:
    for values in (
        None,
        {"watchNamespaces": ["team-a"], "metrics": {"serviceMonitor": {"enabled": True}}},
    ):
        report = helm_python.lint(CHART, values, strict=True, namespace=NS, kube_version="v1.20.2")
        assert report["errors"] == []
        assert [m for m in report["messages"] if m["severity"] > 1] == []


def test_default_render_is_exactly_the_cluster_wide_install(chart: helm_python.Chart) -> None:
    objects = render(chart)
    assert set(objects) == {
        ("ServiceAccount", "zstack-operator", NS),
        ("ClusterRole", "zstack-operator", None),
        ("ClusterRoleBinding", "zstack-operator", None),
        ("Role", "zstack-operator-credentials-reader", NS),
        ("RoleBinding", "zstack-operator-credentials-reader", NS),
        ("Role", "zstack-operator-leader-election", NS),
        ("RoleBinding", "zstack-operator-leader-election", NS),
        ("Service", "zstack-operator-metrics", NS),
        ("Deployment", "zstack-operator", NS),
        ("PodDisruptionBudget", "zstack-operator", NS),
    }
    assert objects["ClusterRole", "zstack-operator", None]["rules"] == CLUSTER_RULES
    assert objects["Role", "zstack-operator-leader-election", NS]["rules"] == lease_rules(
        "zstack-operator"
    )
    assert objects["ClusterRoleBinding", "zstack-operator", None]["subjects"] == [
        {"kind": "ServiceAccount", "name": "zstack-operator", "namespace": NS}
    ]
    reader = objects["Role", "zstack-operator-credentials-reader", NS]
    assert reader["rules"] == secret_rule("zstack-operator-credentials")
    assert objects["RoleBinding", "zstack-operator-credentials-reader", NS]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "zstack-operator-credentials-reader",
    }


def test_deployment_is_two_restricted_replicas_that_roll(chart: helm_python.Chart) -> None:
    objects = render(chart)
    spec = objects["Deployment", "zstack-operator", NS]["spec"]
    assert spec["replicas"] == 2
    # The new pod stands by (ready) before an old one goes; the old leader hands the Lease over.
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    selector = {
        "app.kubernetes.io/name": "zstack-operator",
        "app.kubernetes.io/instance": "zstack-operator",
    }
    assert objects["PodDisruptionBudget", "zstack-operator", NS]["apiVersion"] == "policy/v1"
    assert objects["PodDisruptionBudget", "zstack-operator", NS]["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": selector},
    }
    pod = spec["template"]["spec"]
    assert pod["affinity"] == {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": selector},
                    },
                }
            ]
        }
    }
    assert pod["serviceAccountName"] == "zstack-operator"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    operator = container(objects)
    assert operator["image"] == "zstack-operator:0.1.0"
    assert operator["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert operator["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert operator["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]


def test_probes_hit_the_health_port(chart: helm_python.Chart) -> None:
    operator = container(render(chart, {"healthPort": 9090}))
    assert operator["ports"] == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert operator["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert env(render(chart, {"healthPort": 9090}))["ZSTACK_OPERATOR_HEALTH_ADDRESS"] == (
        "0.0.0.0:9090"
    )


def test_default_settings_reach_the_operator_as_environment(chart: helm_python.Chart) -> None:
    objects = render(chart)
    assert "args" not in container(objects)
    assert env(objects) == {
        **ELECTION_ENV,
        "ZSTACK_CREDENTIALS_SECRET": "$(POD_NAMESPACE)/zstack-operator-credentials",
        "ZSTACK_DRIFT_INTERVAL": "600",
        "ZSTACK_MAX_IN_FLIGHT": "16",
        "ZSTACK_OPERATOR_HEALTH_ADDRESS": "0.0.0.0:8080",
        "ZSTACK_OPERATOR_LOG_FORMAT": "json",
        "ZSTACK_OPERATOR_LOG_LEVEL": "INFO",
    }


def test_every_setting_and_extra_args(chart: helm_python.Chart) -> None:
    values = {
        "zstack": {"endpoint": "https://zstack.internal:8443", "tls": {"insecureSkipVerify": True}},
        "operator": {
            "driftInterval": 120,
            "maxInFlight": 4,
            "logFormat": "text",
            "logLevel": "DEBUG",
            "extraArgs": ["--log-level=WARNING"],
            "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        },
        "image": {"repository": "registry.example/zso", "digest": "sha256:" + "ab" * 32},
    }
    objects = render(chart, values)
    operator = container(objects)
    assert operator["args"] == ["--log-level=WARNING"]
    assert operator["image"] == "registry.example/zso@sha256:" + "ab" * 32
    assert env(objects) == {
        **ELECTION_ENV,
        "ZSTACK_ENDPOINT": "https://zstack.internal:8443",
        "ZSTACK_CREDENTIALS_SECRET": "$(POD_NAMESPACE)/zstack-operator-credentials",
        "ZSTACK_INSECURE_SKIP_TLS_VERIFY": "true",
        "ZSTACK_DRIFT_INTERVAL": "120",
        "ZSTACK_MAX_IN_FLIGHT": "4",
        "ZSTACK_OPERATOR_HEALTH_ADDRESS": "0.0.0.0:8080",
        "ZSTACK_OPERATOR_LOG_FORMAT": "text",
        "ZSTACK_OPERATOR_LOG_LEVEL": "DEBUG",
        "HTTPS_PROXY": "http://proxy:3128",
    }


def test_namespaced_mode_grants_nothing_cluster_wide(chart: helm_python.Chart) -> None:
    objects = render(chart, {"watchNamespaces": ["team-a", "team-b"]})
    assert not [key for key in objects if key[0].startswith("Cluster")]
    for ns in ("team-a", "team-b"):
        assert objects["Role", "zstack-operator", ns]["rules"] == WATCH_RULES
        assert objects["RoleBinding", "zstack-operator", ns]["subjects"] == [
            {"kind": "ServiceAccount", "name": "zstack-operator", "namespace": NS}
        ]
    assert env(objects)["ZSTACK_OPERATOR_NAMESPACES"] == "team-a,team-b"
    assert objects["Role", "zstack-operator-credentials-reader", NS]["rules"] == secret_rule(
        "zstack-operator-credentials"
    )


@pytest.mark.parametrize("values", [None, {"watchNamespaces": ["team-a"]}], ids=["cluster", "ns"])
def test_the_model_chain_kinds_have_exactly_the_modelservice_grants(
    chart: helm_python.Chart, values: dict[str, list[str]] | None
) -> None:
    """Models and ModelServiceDeployments: the verbs of ModelServices, on the object and on its
    status, and nothing on any other subresource."""
    objects = render(chart, values)
    (role,) = [doc for (kind, name, _), doc in objects.items() if name == "zstack-operator"
               and kind in ("ClusterRole", "Role")]  # fmt: skip
    verbs: dict[str, list[str]] = {}
    for rule in role["rules"]:
        if rule["apiGroups"] == ["ai.zstack.io"]:
            (resource,) = rule["resources"]
            verbs[resource] = rule["verbs"]
    for plural in ("models", "modelservicedeployments"):
        assert verbs[plural] == verbs["modelservices"] == ["get", "list", "watch", "patch"]
        assert verbs[f"{plural}/status"] == verbs["modelservices/status"] == ["patch"]
    chain = {r for r in verbs if r.split("/")[0] in ("models", "modelservicedeployments")}
    assert chain == {"models", "models/status", "modelservicedeployments",
                     "modelservicedeployments/status"}  # fmt: skip


def test_existing_service_account_and_no_rbac(chart: helm_python.Chart) -> None:
    values = {"serviceAccount": {"create": False, "name": "platform-sa"}, "rbac": {"create": False}}
    objects = render(chart, values)
    assert {key[0] for key in objects} == {"Service", "Deployment", "PodDisruptionBudget"}
    pod = objects["Deployment", "zstack-operator", NS]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "platform-sa"


def test_notes_warn_about_a_missing_endpoint(chart: helm_python.Chart) -> None:
    notes = chart.render(name="zstack-operator", namespace=NS)[
        "zstack-operator/templates/NOTES.txt"
    ]
    assert "WARNING: zstack.endpoint is empty" in notes
    assert "create secret generic zstack-operator-credentials" in notes
    configured = chart.render(
        {
            "zstack": {"endpoint": "https://z:8443"},
            "credentials": {"create": True, "accountName": "a", "password": "p"},
        },
        name="zstack-operator",
        namespace=NS,
    )["zstack-operator/templates/NOTES.txt"]
    assert "WARNING" not in configured
    assert "create secret" not in configured
    assert "kubectl apply --server-side --force-conflicts -f <chart>/crds/" in configured


def test_one_replica_without_election_is_recreated_and_has_no_budget(
    chart: helm_python.Chart,
) -> None:
    objects = render(chart, {"replicaCount": 1, "leaderElection": {"enabled": False}})
    spec = objects["Deployment", "zstack-operator", NS]["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert "affinity" not in spec["template"]["spec"]
    assert not [key for key in objects if key[0] == "PodDisruptionBudget"]
    assert not [key for key in objects if "leader-election" in key[1]]
    assert env(objects)["ZSTACK_OPERATOR_LEADER_ELECT"] == "false"
    assert "ZSTACK_OPERATOR_LEASE_NAME" not in env(objects)


def test_several_replicas_need_leader_election(chart: helm_python.Chart) -> None:
    with pytest.raises(helm_python.HelmRenderError, match="replicaCount > 1 needs leaderElection"):
        render(chart, {"leaderElection": {"enabled": False}})


def test_the_lease_is_named_after_the_release(chart: helm_python.Chart) -> None:
    values = {"leaderElection": {"leaseDuration": 30}}
    objects = render(chart, release="zso", values=values)
    fullname = "zso-zstack-operator"
    assert env(objects, fullname)["ZSTACK_OPERATOR_LEASE_NAME"] == fullname
    assert env(objects, fullname)["ZSTACK_OPERATOR_LEASE_DURATION"] == "30"
    assert objects["Role", f"{fullname}-leader-election", NS]["rules"] == lease_rules(fullname)
