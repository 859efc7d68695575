#!/usr/bin/env python3
"""Render the plain-YAML install artifacts from the Helm chart and the generated CRDs.

The Helm chart is the one source of the operator's Deployment, RBAC and Service; ``crds/`` is
the one source of the CRDs (``modelservice.yaml``, ``zstackconnection.yaml``,
``clusterzstackconnection.yaml``, ``model.yaml`` and ``modelservicedeployment.yaml``, generated
by ``zstack_operator.crdgen``). This script derives:

- ``deploy/helm/zstack-operator/crds/*.yaml``: byte-for-byte copies, because Helm installs only
  CRDs that sit inside the chart.
- ``deploy/kustomize/base/crds/*.yaml``: the same copies, because kustomize refuses files
  outside the kustomization's own directory.
- ``deploy/kustomize/base/zstack-operator.yaml``: the chart rendered with its default values
  into namespace ``zstack-system``, Helm's bookkeeping labels removed, plus the Namespace.
- ``deploy/manifests/install.yaml``: the CRDs and all of the above in one file for
  ``kubectl apply -f``.
- ``deploy/argocd/argocd-cm.yaml``: ``deploy/argocd/health.lua`` (ModelService, Model and
  ModelServiceDeployment) and ``deploy/argocd/connection/health.lua`` (both connection kinds)
  wrapped in the argocd-cm keys Argo CD reads them from.
- ``deploy/prometheus/zstack-operator-rules.yaml``: the chart's PrometheusRule
  (``prometheusRule.enabled``) for the default install, for those who install without Helm.

Run it after changing the chart or the CRD: ``.venv/bin/python hack/render-manifests.py``.
``--check`` writes nothing and exits 1 when a file is stale; tests/unit/test_deploy_artifacts.py
calls :func:`render` to the same end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import helm_python
import yaml

ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "crds"
#: The files ``python -m zstack_operator.crdgen`` writes, in the order install.yaml holds them.
CRD_FILES = (
    "modelservice.yaml",
    "zstackconnection.yaml",
    "clusterzstackconnection.yaml",
    "model.yaml",
    "modelservicedeployment.yaml",
)
CHART = ROOT / "deploy" / "helm" / "zstack-operator"
HEALTH_LUA = ROOT / "deploy" / "argocd" / "health.lua"
CONNECTION_HEALTH_LUA = ROOT / "deploy" / "argocd" / "connection" / "health.lua"
#: Argo CD kind -> the health script it runs (argocd-cm key ``...health.ai.zstack.io_<kind>``).
HEALTH_CHECKS = {
    "ModelService": HEALTH_LUA,
    "ZStackConnection": CONNECTION_HEALTH_LUA,
    "ClusterZStackConnection": CONNECTION_HEALTH_LUA,
    "Model": HEALTH_LUA,
    "ModelServiceDeployment": HEALTH_LUA,
}
RELEASE = "zstack-operator"
NAMESPACE = "zstack-system"

#: Helm's own install order (pkg/release/util/kind_sorter.go), trimmed to the kinds we render,
#: so `kubectl apply -f install.yaml` creates what others refer to first.
KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "Deployment",
    "PodDisruptionBudget",
    "ServiceMonitor",
    "PrometheusRule",
)

#: Lines that only make sense for a Helm release; plain manifests are not managed by Helm.
HELM_ONLY_LABELS = ("helm.sh/chart: ", "app.kubernetes.io/managed-by: Helm")

NAMESPACE_DOC = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
  labels:
    app.kubernetes.io/part-of: zstack-operator
    # The operator's pod meets the "restricted" Pod Security Standard (Kubernetes >= 1.23).
    pod-security.kubernetes.io/enforce: restricted
"""


def _documents(rendered: dict[str, str]) -> list[tuple[str, str]]:
    """Split the chart's rendered templates into (kind, text) pairs in Helm's install order."""
    found: list[tuple[int, int, str, str]] = []
    for template, text in sorted(rendered.items()):
        if not template.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        source = template.split("/", 1)[1]
        for chunk in text.split("\n---\n"):
            body = "\n".join(
                line
                for line in chunk.strip("\n").removeprefix("---\n").splitlines()
                if not line.strip().startswith(HELM_ONLY_LABELS)
            )
            parsed = yaml.safe_load(body)
            if not parsed:
                continue  # a template switched off by its values
            kind = str(parsed["kind"])
            if kind not in KIND_ORDER:
                raise SystemExit(f"{template}: kind {kind} has no place in KIND_ORDER")
            doc = f"# Source: {source}\n{body}\n"
            found.append((KIND_ORDER.index(kind), len(found), kind, doc))
    return [(kind, doc) for _, _, kind, doc in sorted(found)]


def _argocd_cm(scripts: dict[str, str]) -> str:
    """The argocd-cm patch that installs each kind's health check (kind -> Lua source)."""
    data = ""
    for kind, script in scripts.items():
        body = "".join(f"    {line}" if line.strip() else "\n" for line in script.splitlines(True))
        data += f"  resource.customizations.health.ai.zstack.io_{kind}: |\n" + body
    return (
        "# Argo CD health checks for ai.zstack.io's ModelService, ZStackConnection,\n"
        "# ClusterZStackConnection, Model and ModelServiceDeployment. Merge them into your\n"
        "# argocd-cm:\n"
        "#   kubectl -n argocd patch configmap argocd-cm \\\n"
        "#     --patch-file deploy/argocd/argocd-cm.yaml\n"
        "# or copy the keys into the Argo CD Helm chart's configs.cm values. Generated from\n"
        "# health.lua and connection/health.lua by hack/render-manifests.py; edit those instead.\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: argocd-cm\n"
        "  namespace: argocd\n"
        "  labels:\n"
        "    app.kubernetes.io/name: argocd-cm\n"
        "    app.kubernetes.io/part-of: argocd\n"
        "data:\n" + data
    )


def render() -> dict[Path, str]:
    """Every generated file (path under the repository root -> content)."""
    crds = {name: (CRDS / name).read_text(encoding="utf-8") for name in CRD_FILES}
    with helm_python.Chart.load(CHART) as chart:
        rendered = chart.render(name=RELEASE, namespace=NAMESPACE, is_install=True)
        rules_on = {"prometheusRule": {"enabled": True}}
        with_rules = chart.render(rules_on, name=RELEASE, namespace=NAMESPACE, is_install=True)
        version = chart.metadata["appVersion"]
    (rules,) = [doc for kind, doc in _documents(with_rules) if kind == "PrometheusRule"]
    operator_docs = [doc for _, doc in _documents(rendered)]
    generated_by = (
        "# Generated by hack/render-manifests.py from the Helm chart's default values; do not\n"
        "# edit: change deploy/helm/zstack-operator and run the script again.\n"
    )
    base = generated_by + "---\n".join([NAMESPACE_DOC, *operator_docs])
    install = (
        f"# zstack-operator {version}: the ModelService, ZStackConnection,\n"
        "# ClusterZStackConnection, Model and ModelServiceDeployment CRDs, namespace\n"
        f"# {NAMESPACE}, RBAC and the operator.\n"
        "# Install or upgrade with: kubectl apply --server-side -f install.yaml\n"
        + generated_by
        + "---\n".join([NAMESPACE_DOC, *crds.values(), *operator_docs])
    )
    prometheus_rules = (
        f"# Alerts for zstack-operator in namespace {NAMESPACE} (install.yaml, the kustomize base\n"
        f"# or a Helm release named {RELEASE}), scraped through its metrics Service. Prometheus\n"
        "# Operator: kubectl apply -f this file; plain Prometheus: spec.groups is a rule file.\n"
        "# Generated by hack/render-manifests.py from the Helm chart with prometheusRule.enabled;\n"
        "# do not edit: change templates/prometheusrule.yaml and run the script again.\n"
        "---\n" + rules
    )
    health = {kind: script.read_text("utf-8") for kind, script in HEALTH_CHECKS.items()}
    return {
        ROOT / "deploy" / "prometheus" / "zstack-operator-rules.yaml": prometheus_rules,
        **{CHART / "crds" / name: text for name, text in crds.items()},
        **{ROOT / "deploy" / "kustomize" / "base" / "crds" / name: t for name, t in crds.items()},
        ROOT / "deploy" / "kustomize" / "base" / "zstack-operator.yaml": base,
        ROOT / "deploy" / "manifests" / "install.yaml": install,
        ROOT / "deploy" / "argocd" / "argocd-cm.yaml": _argocd_cm(health),
    }


def stale(files: dict[Path, str]) -> list[Path]:
    """The generated files whose content on disk differs from ``files`` (or that are missing)."""
    return [
        path
        for path, text in files.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    """Write the generated files, or with ``--check`` report the stale ones and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    files = render()
    outdated = stale(files)
    if args.check:
        for path in outdated:
            sys.stderr.write(f"stale: {path.relative_to(ROOT)} (run hack/render-manifests.py)\n")
        return 1 if outdated else 0
    for path in outdated:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
