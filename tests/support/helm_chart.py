"""Render the Helm chart with Helm's own Go code and index the objects it would create.

Shared by tests/unit/test_helm_chart.py and tests/unit/test_helm_values.py. ``helm_python`` binds
libhelm (Helm v4's SDK), so values-schema validation and template rendering are Helm's, not an
imitation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "zstack-operator"
NS = "zstack-system"

Objects = dict[tuple[str, str, str | None], dict[str, Any]]


def _watched(resource: str, *verbs: str) -> list[dict[str, Any]]:
    """The two rules of a kind kopf watches: the object, and its status subresource."""
    return [
        {
            "apiGroups": ["ai.zstack.io"],
            "resources": [resource],
            "verbs": list(verbs or ("list", "watch", "patch")),
        },
        {"apiGroups": ["ai.zstack.io"], "resources": [f"{resource}/status"], "verbs": ["patch"]},
    ]


#: The operator's whole Kubernetes API footprint besides Secrets, in the chart's order.
#: In every Role and the ClusterRole (the drift loop also gets each object of the model chain).
WATCH_RULES = [
    *_watched("modelservices", "get", "list", "watch", "patch"),
    *_watched("models", "get", "list", "watch", "patch"),
    *_watched("modelservicedeployments", "get", "list", "watch", "patch"),
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    *_watched("zstackconnections"),
]
#: Only in the ClusterRole: cluster-scoped objects cannot be granted by a Role.
CLUSTER_RULES = [*WATCH_RULES, *_watched("clusterzstackconnections")]

#: The rule tenancy.secretNamespaces adds, in a Role per namespace or (``*``) the ClusterRole.
CONNECTION_SECRET_RULES = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch"]}]


def lease_rules(name: str) -> list[dict[str, Any]]:
    """The leader-election Role's rules: create any Lease, read and write one by name."""
    group = "coordination.k8s.io"
    return [
        {"apiGroups": [group], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": [group],
            "resources": ["leases"],
            "resourceNames": [name],
            "verbs": ["get", "update"],
        },
    ]


def secret_rule(name: str) -> list[dict[str, Any]]:
    """The one rule of the credentials Role: the Secret ``name``, read and watched by name."""
    return [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": [name],
            "verbs": ["get", "watch"],
        }
    ]


def render(
    chart: helm_python.Chart,
    values: dict[str, Any] | None = None,
    release: str = "zstack-operator",
    namespace: str = NS,
) -> Objects:
    """The rendered objects keyed by (kind, name, namespace)."""
    manifests = chart.render(values, name=release, namespace=namespace, is_install=True)
    objects: Objects = {}
    for template, text in manifests.items():
        if not template.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                key = (doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace"))
                assert key not in objects, f"{key} rendered twice"
                objects[key] = doc
    return objects


def container(objects: Objects, name: str = "zstack-operator") -> dict[str, Any]:
    pod = objects["Deployment", name, NS]["spec"]["template"]["spec"]
    (only,) = pod["containers"]
    assert isinstance(only, dict)
    return only


def env(objects: Objects, name: str = "zstack-operator") -> dict[str, Any]:
    pairs = container(objects, name)["env"]
    names = [item["name"] for item in pairs]
    assert len(names) == len(set(names)), f"duplicate env names: {names}"
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in pairs}


RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def rbac_bound_to_user(docs: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    """The chart's (Cluster)Roles and bindings from ``docs``, bound to ``user`` instead of the
    ServiceAccount, so a process holding that user's credentials (the dev cluster's static-token
    ``zstack-operator``) runs with exactly the chart's permissions."""
    subject = {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}
    bound = []
    for doc in docs:
        if doc["kind"] in RBAC_KINDS:
            if doc["kind"].endswith("Binding"):
                doc = {**doc, "subjects": [subject]}
            bound.append(doc)
    return bound
