"""``Kube``: the e2e tests' handle on a cluster, spoken through kubectl and JSON.

Built by the ``kube`` fixture (tests/support/kube_fixtures.py) for the dev cluster or for the
user's own cluster (``KUBECONFIG``). Users other than admin get their own kubeconfig on the dev
cluster; on a foreign cluster the admin impersonates them (``--as``), so RBAC tests run on both.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from zstack_operator.devcluster import DevCluster, kubectl_path

T = TypeVar("T")


class KubectlError(AssertionError):
    """kubectl exited non-zero; the message holds the command and its stderr."""

    def __init__(self, args: list[str], result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        super().__init__(
            f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr.strip()}"
        )


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 30.0,
    interval: float = 0.5,
    message: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    A bounded wait for an eventually-consistent system, not a timing assertion: ``timeout``
    only decides when to give up and report ``message`` with the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"{message}: still not true after {timeout:.0f}s (last: {value!r})"
            )
        time.sleep(interval)


@dataclass(frozen=True)
class Kube:
    """A cluster reachable with ``kubeconfig`` (admin) and per-user kubeconfigs if any."""

    kubeconfig: Path
    user_kubeconfigs: Mapping[str, Path] = field(default_factory=dict)
    kubectl_binary: Path = field(default_factory=kubectl_path)
    #: State dir of the dev cluster the fixtures started (None for a KUBECONFIG cluster).
    dev_cluster_dir: Path | None = None

    @property
    def is_dev_cluster(self) -> bool:
        """True for the cluster the fixtures started (real token users, v1.20)."""
        return bool(self.user_kubeconfigs)

    @functools.cached_property
    def server_minor(self) -> int:
        """The API server's minor version (20 for the dev cluster)."""
        version = json.loads(self.kubectl("get", "--raw", "/version").stdout)
        return int(re.sub(r"\D.*", "", str(version["minor"])))

    def restart_apiserver(self) -> None:
        """Restart only kube-apiserver, same port, etcd kept (dev cluster only); ready on return."""
        if self.dev_cluster_dir is None:
            raise RuntimeError("only the dev cluster the fixtures started can be restarted")
        cluster = DevCluster.attach(self.dev_cluster_dir)
        if cluster is None:
            raise RuntimeError(f"no dev cluster is recorded in {self.dev_cluster_dir}")
        cluster.restart_apiserver()

    def _identity(self, user: str) -> list[str]:
        if user == "admin":
            return ["--kubeconfig", str(self.kubeconfig)]
        if user in self.user_kubeconfigs:
            return ["--kubeconfig", str(self.user_kubeconfigs[user])]
        return ["--kubeconfig", str(self.kubeconfig), f"--as={user}"]

    def kubectl(
        self,
        *args: str,
        namespace: str | None = None,
        input: str | None = None,
        check: bool = True,
        user: str = "admin",
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl as ``user``; with ``check``, a non-zero exit raises with its stderr."""
        argv = [*self._identity(user)]
        if namespace is not None:
            argv += ["--namespace", namespace]
        argv += args
        result = subprocess.run(
            [str(self.kubectl_binary), *argv],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise KubectlError(list(args), result)
        return result

    def apply(
        self, manifest: str | Path, namespace: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl apply`` a file or folder (a ``Path``) or YAML text (a ``str``)."""
        if isinstance(manifest, Path):
            return self.kubectl("apply", "-f", str(manifest), namespace=namespace)
        return self.kubectl("apply", "-f", "-", namespace=namespace, input=manifest)

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """One object as a dict; raises if it does not exist."""
        found = self.get_or_none(resource, name, namespace)
        if found is None:
            where = f" in namespace {namespace}" if namespace else ""
            raise AssertionError(f"{resource}/{name} not found{where}")
        return found

    def get_or_none(
        self, resource: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """One object as a dict, or ``None`` if the server says it does not exist."""
        result = self.kubectl(
            "get", resource, name, "--ignore-not-found", "-o", "json", namespace=namespace
        )
        if not result.stdout.strip():
            return None
        obj: dict[str, Any] = json.loads(result.stdout)
        return obj

    def events(self, namespace: str, involved_name: str | None = None) -> list[dict[str, Any]]:
        """core/v1 Events of ``namespace`` (optionally about one object), oldest first."""
        args = ["get", "events", "-o", "json"]
        if involved_name is not None:
            args.append(f"--field-selector=involvedObject.name={involved_name}")
        items: list[dict[str, Any]] = json.loads(self.kubectl(*args, namespace=namespace).stdout)[
            "items"
        ]
        return sorted(items, key=_event_time)

    def wait_until(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 30.0,
        interval: float = 0.5,
        message: str = "condition",
    ) -> T:
        """Same as the module-level :func:`wait_until`, for fixtures that only hold a ``Kube``."""
        return wait_until(predicate, timeout=timeout, interval=interval, message=message)


def _event_time(event: Mapping[str, Any]) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("metadata", {}).get("creationTimestamp")
        or ""
    )
