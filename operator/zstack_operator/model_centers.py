"""The ``zstack-operator model-centers`` subcommand: the model centers of the operator's own login.

A ZStackConnection or ClusterZStackConnection lists the model centers its account sees in
``status.modelCenters``; the operator's own connection (its flags) has no object to carry them.
This command logs in as ``run`` would — the same flags and environment, the credentials Secret
read with the Pod's service account or the kubeconfig — asks QueryModelCenter once, prints
uuid, name, status and url, and logs out. It changes nothing. In the operator's Pod, whose
environment holds the settings: ``kubectl exec deploy/zstack-operator -- zstack-operator
model-centers``. Registered by ``cli``; shipped in the image (it is not tooling).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from .connections import OPERATOR_DEFAULT, ConnectionPool, CredentialsError
from .endpoints import warn_if_insecure
from .kubeapi import KubeAPI, KubeError, load_kubeconfig
from .settings import ConfigError, Settings, add_arguments, load_settings
from .status import describe
from .zstack.ai_models import ModelCenterInventory
from .zstack.errors import ZStackError

HELP = "list the model centers the operator's own connection sees (uuid, name, status, url)"
_COLUMNS = ("UUID", "NAME", "STATUS", "URL")


def register(subparsers: Any) -> None:
    """Add ``model-centers`` to the command line."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "model-centers",
        help=HELP,
        description="List the model centers the operator's own connection sees, to find a "
        "Model's spec.modelCenterUuid. Takes run's flags and environment (only the connection "
        "ones matter). A connection object lists its own: kubectl get zstackconnection NAME "
        "-o jsonpath='{.status.modelCenters}'.",
    )
    add_arguments(parser)
    parser.set_defaults(func=_run)


def open_kube() -> KubeAPI:
    """The Kubernetes API the credentials Secret is read from (in-cluster, else kubeconfig)."""
    return KubeAPI(load_kubeconfig())


async def list_centers(settings: Settings, kube: KubeAPI) -> list[ModelCenterInventory]:
    """Log in with ``settings``' connection and read its model centers, sorted by name."""
    pool = ConnectionPool(settings, kube, lambda _key: ())
    try:
        conn = await pool.get(OPERATOR_DEFAULT)
        found = await conn.client.ai.query_model_centers(sort="+name")
    finally:
        await pool.aclose()  # logs out
    return sorted(found, key=lambda c: ((c.name or "").casefold(), c.name or "", c.uuid))


def table(centers: Sequence[ModelCenterInventory]) -> str:
    """As kubectl prints: a header, columns three spaces apart, the last one unpadded."""
    rows = [_COLUMNS, *((c.uuid, c.name or "", c.status or "", c.url or "") for c in centers)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    lines = (
        "   ".join([*(v.ljust(w) for v, w in zip(r, widths, strict=False)), r[-1]]) for r in rows
    )
    return "".join(line.rstrip() + "\n" for line in lines)


async def _list(settings: Settings) -> list[ModelCenterInventory]:
    kube = open_kube()
    try:
        return await list_centers(settings, kube)
    finally:
        await kube.aclose()


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        sys.stderr.write(f"zstack-operator: configuration error: {exc}\n")
        return 2
    warn_if_insecure(settings.endpoint, "the operator's default connection")
    try:
        centers = asyncio.run(_list(settings))
    except (CredentialsError, KubeError, ZStackError, OSError) as exc:
        sys.stderr.write(f"zstack-operator: cannot list model centers: {describe(exc)}\n")
        return 1
    if not centers:
        sys.stderr.write("No model centers found.\n")
        return 0
    sys.stdout.write(table(centers))
    return 0
