"""The Grafana dashboard and the alert rules query only what the operator exports.

deploy/grafana/zstack-operator.json and deploy/prometheus/zstack-operator-rules.yaml (rendered
from the chart's PrometheusRule template) are checked against ``metrics.REGISTRY``: every
``zstack_operator_*`` series they name exists, every label they match or group by is one the
series carries (or one Prometheus adds to every target), and every expression parses as PromQL.
The PrometheusRule's shape and the chart's ``prometheusRule`` values are checked here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from zstack_operator import metrics
from zstack_operator import resources as r
from zstack_operator.resources import deployment as rd
from zstack_operator.resources import model as rm

from tests.support.helm_chart import CHART, NS, render

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "zstack-operator.json"
RULES = ROOT / "deploy" / "prometheus" / "zstack-operator-rules.yaml"

#: Labels Prometheus attaches to every scraped series (Kubernetes service discovery included).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "service", "endpoint", "container"}
#: Grafana's variables, replaced by what Grafana would put there before PromQL sees them.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$job": ".+"}

NAME = re.compile(r"\bzstack_operator_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(zstack_operator_[a-z0-9_]+|up)\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def series_names(family: Any) -> list[str]:
    """The names a metric family is exposed under (``_created`` left out: nothing reads it)."""
    ends: dict[str, list[str]] = {
        "counter": ["_total"],
        "gauge": [""],
        "histogram": ["_bucket", "_sum", "_count"],
    }
    return [family.name + end for end in ends[family.type]]


def operator_families() -> list[Any]:
    """The operator's own families (the registry also holds the standard process_*/python_*)."""
    return [f for f in metrics.REGISTRY.collect() if f.name.startswith("zstack_operator_")]


def exported() -> dict[str, set[str]]:
    """Every ``zstack_operator_*`` series name the registry can expose, with its labels."""
    # Labelled metrics have no samples until first used, and prometheus_client keeps their
    # label names only on the metric objects.
    labels = {
        value._name.removesuffix("_total"): set(value._labelnames)
        for value in vars(metrics).values()
        if isinstance(value, MetricWrapperBase)
    }
    return {
        name: labels[family.name] | ({"le"} if name.endswith("_bucket") else set())
        for family in operator_families()
        for name in series_names(family)
    }


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return doc


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            yield f"dashboard panel {panel['title']!r}", expr


def rules_doc() -> dict[str, Any]:
    (doc,) = [d for d in yaml.safe_load_all(RULES.read_text(encoding="utf-8")) if d]
    assert isinstance(doc, dict)
    return doc


def rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in doc["spec"]["groups"] for rule in group["rules"]]


def all_exprs() -> list[tuple[str, str]]:
    from_rules = [(f"alert {r['alert']}", str(r["expr"])) for r in rules(rules_doc())]
    return [*dashboard_exprs(), *from_rules]


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


def test_every_metric_named_is_exported_and_the_dashboard_shows_every_family() -> None:
    series = exported()
    for where, expr in all_exprs():
        unknown = set(NAME.findall(expr)) - set(series)
        assert not unknown, f"{where}: {sorted(unknown)} not in metrics.REGISTRY"
    on_dashboard = {name for _, expr in dashboard_exprs() for name in NAME.findall(expr)}
    for family in operator_families():
        assert on_dashboard & set(series_names(family)), f"no panel shows {family.name}"


def test_every_expression_parses_as_promql() -> None:
    for where, expr in all_exprs():
        try:
            promql_parser.parse(expr)
        except ValueError as exc:
            pytest.fail(f"{where}: {exc}\n{expr}")


def test_matchers_and_groupings_name_labels_the_series_carry() -> None:
    series = exported()
    series["up"] = set()
    for where, expr in all_exprs():
        for name, matchers in SELECTOR.findall(expr):
            known = series[name] | TARGET_LABELS
            assert set(MATCHER.findall(matchers)) <= known, f"{where}: {name}{{{matchers}}}"
        in_expr = set().union(*(series[n] for n in NAME.findall(expr))) | TARGET_LABELS
        for grouping in GROUPING.findall(expr):
            grouped = {label.strip() for label in grouping.split(",") if label.strip()}
            assert grouped <= in_expr, f"{where}: by ({grouping})"


def test_the_dashboard_shows_rates_errors_latency_and_conditions() -> None:
    doc = dashboard()
    panels = doc["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"]
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    by_title = {p["title"]: [t["expr"] for t in p["targets"]] for p in panels}
    latency = by_title["ZStack latency p50 / p95 / p99"]
    quantiles = [re.findall(r"^histogram_quantile\(([0-9.]+),", e) for e in latency]
    assert quantiles == [["0.5"], ["0.95"], ["0.99"]]
    assert 'outcome!~"2.."' in by_title["ZStack errors by API and outcome"][0]
    assert "sum by (kind, result)" in by_title["Reconciles by kind and result"][0]
    by_condition = by_title["Resources by kind and condition"][0]
    assert "sum by (kind, condition, status, reason)" in by_condition
    assert "sum by (api)" in by_title["ZStack requests by API"][0]


#: The series whose ``kind`` label tells ModelServices, Models and ModelServiceDeployments apart.
BY_KIND = ("zstack_operator_resources", "zstack_operator_reconciles_total")


def test_every_query_of_a_kind_labelled_series_keeps_the_kinds_apart() -> None:
    """Summed over every kind, a count of Ready objects or of retries would mix a Model with a
    deployment: each query groups by kind or picks one."""
    for where, expr in all_exprs():
        if not any(name in expr for name in BY_KIND):
            continue
        grouped = any("kind" in {x.strip() for x in g.split(",")} for g in GROUPING.findall(expr))
        picked = any("kind" in MATCHER.findall(m) for _, m in SELECTOR.findall(expr))
        assert grouped or picked, f"{where}: {expr}"


def test_the_resource_alerts_fire_per_kind_and_name_it() -> None:
    alerts = {rule["alert"]: rule for rule in rules(rules_doc())}
    for name in (
        "ZStackModelServiceNotReady",
        "ZStackModelServiceDeletionStuck",
        "ZStackModelServiceReconcileErrors",
    ):
        rule = alerts[name]
        assert rule["expr"].startswith("sum by (kind"), name
        for text in rule["annotations"].values():
            assert "{{ $labels.kind }}" in text, name
    listing = "kubectl get {{ $labels.kind | toLower }}s.ai.zstack.io -A"
    assert listing in alerts["ZStackModelServiceNotReady"]["annotations"]["description"]
    # The listing spells each kind's plural (the CRD's name) from the kind label.
    for kind, plural in (
        (r.KIND, r.PLURAL),
        (rm.MODEL_KIND, rm.MODEL_PLURAL),
        (rd.DEPLOYMENT_KIND, rd.DEPLOYMENT_PLURAL),
    ):
        assert f"{kind.lower()}s" == plural


def test_the_rules_file_is_a_prometheus_rule() -> None:
    doc = rules_doc()
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["name"] == "zstack-operator"
    assert doc["metadata"]["namespace"] == "zstack-system"
    assert set(doc["spec"]) == {"groups"}
    for group in doc["spec"]["groups"]:
        assert set(group) == {"name", "rules"}
    alerts = {rule["alert"]: rule for rule in rules(doc)}
    assert len(alerts) == len(rules(doc))
    assert set(alerts) == {
        "ZStackOperatorDown",
        "ZStackModelServiceNotReady",
        "ZStackModelServiceDeletionStuck",
        "ZStackModelServiceReconcileErrors",
        "ZStackRequestErrorRateHigh",
        "ZStackOperatorLeadership",
    }
    assert alerts["ZStackOperatorLeadership"]["expr"].endswith(") != 1")
    for name, rule in alerts.items():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, name
        assert re.fullmatch(r"[A-Z][A-Za-z]+", name)
        assert re.fullmatch(r"[0-9]+[smh]", rule["for"]), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert set(rule["annotations"]) == {"summary", "description"}, name
        text = " ".join(rule["annotations"].values())
        assert "`{{" not in text  # Helm passed Prometheus' own templates through unquoted
        # Scoped to the default install's metrics Service (what the ServiceMonitor scrapes).
        assert 'job="zstack-operator-metrics", namespace="zstack-system"' in rule["expr"]
    assert alerts["ZStackOperatorDown"]["labels"]["severity"] == "critical"
    assert alerts["ZStackModelServiceNotReady"]["for"] == "15m"
    assert 'reason!="Deleting"' in alerts["ZStackModelServiceNotReady"]["expr"]
    assert 'reason="Deleting"' in alerts["ZStackModelServiceDeletionStuck"]["expr"]
    assert (
        "{{ $labels.reason }}" in alerts["ZStackModelServiceNotReady"]["annotations"]["description"]
    )


def test_prometheus_rule_is_off_by_default(chart: helm_python.Chart) -> None:
    assert not [key for key in render(chart) if key[0] == "PrometheusRule"]


def test_prometheus_rule_follows_the_release_and_lints(chart: helm_python.Chart) -> None:
    values = {
        "prometheusRule": {"enabled": True, "labels": {"release": "prom"}},
        "metrics": {"serviceMonitor": {"enabled": True}},
    }
    objects = render(chart, values, release="zso")
    rule = objects["PrometheusRule", "zso-zstack-operator", NS]
    service = objects["Service", "zso-zstack-operator-metrics", NS]
    assert rule["metadata"]["labels"]["release"] == "prom"
    assert rule["metadata"]["labels"]["app.kubernetes.io/instance"] == "zso"
    target = f'job="{service["metadata"]["name"]}", namespace="{NS}"'
    assert all(target in r["expr"] for r in rules(rule))
    report = helm_python.lint(CHART, values, strict=True, namespace=NS, kube_version="v1.20.2")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []


def test_prometheus_rule_values_are_checked(chart: helm_python.Chart) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="/prometheusRule/enabled"):
        render(chart, {"prometheusRule": {"enabled": "yes"}})
    with pytest.raises(helm_python.HelmValuesError, match="prometheusRule"):
        render(chart, {"prometheusRule": {"enabled": True, "for": "15m"}})
