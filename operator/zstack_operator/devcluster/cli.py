"""``zstack-operator dev-cluster {build,up,down,status}``: the local control plane from a shell.

Registered by ``zstack_operator.cli`` (``COMMAND_MODULES``). Progress goes to stderr; ``up``
prints the admin kubeconfig path as its last stdout line, so
``export KUBECONFIG=$(zstack-operator dev-cluster up)`` works. ``build-modern``, ``up-modern``
and ``down-modern`` do the same for the v1.36 CRD server (``modern``, ``crdserver``;
docs/kubernetes-versions.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def _progress(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def register(subparsers: Any) -> None:
    """Add ``dev-cluster`` and its actions (v1.20 cluster, v1.36 CRD server) to the parser."""
    parser = subparsers.add_parser(
        "dev-cluster",
        help="a local kube-apiserver v1.20 + etcd + kube-controller-manager on loopback",
        description=(
            "Build (once per machine) and run a real Kubernetes control plane on 127.0.0.1 "
            "without containers. See docs/dev-cluster.md."
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="build and cache the binaries (minutes, once)")
    build.set_defaults(func=_build)
    for name, func, text in (
        ("up", _up, "start the control plane (building first if needed)"),
        ("down", _down, "stop the processes `up` started and remove the state dir"),
        ("status", _status, "show what runs; exit 0 when the cluster is up"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--state-dir",
            type=Path,
            default=None,
            help="where keys, kubeconfigs, etcd data and logs live "
            "(default ~/.cache/zstack-operator/dev-cluster)",
        )
        action.set_defaults(func=func)
    modern = actions.add_parser(
        "build-modern",
        help="build and cache the v1.36 apiextensions API server and kubectl (minutes, once)",
    )
    modern.set_defaults(func=_build_modern)
    for name, func, text in (
        ("up-modern", _up_modern, "start the v1.36 CRD server (etcd + apiextensions API server)"),
        ("down-modern", _down_modern, "stop the processes `up-modern` started"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "--state-dir",
            type=Path,
            default=None,
            help="where certificates, the kubeconfig, etcd data and logs live "
            "(default ~/.cache/zstack-operator/crd-server)",
        )
        action.set_defaults(func=func, default_state="crd-server")


def _state_dir(args: argparse.Namespace) -> Path:
    from . import paths

    chosen: Path | None = args.state_dir
    if chosen is None and getattr(args, "default_state", None):
        chosen = paths.cache_root() / str(args.default_state)
    return (chosen or paths.default_state_dir()).expanduser().absolute()


def _build(args: argparse.Namespace) -> int:
    from .build import BuildError, ensure_built, is_built
    from .system import PrerequisiteError

    started = time.monotonic()
    cached = is_built()
    try:
        bin_dir = ensure_built(_progress)
    except (BuildError, PrerequisiteError) as exc:
        _progress(f"dev-cluster build failed: {exc}")
        return 1
    except KeyboardInterrupt:
        _progress("dev-cluster build interrupted; the partial build was removed")
        return 130
    state = "cached" if cached else "built"
    _progress(f"Kubernetes binaries {state} in {bin_dir} ({time.monotonic() - started:.1f}s)")
    return 0


def _up(args: argparse.Namespace) -> int:
    from .build import BuildError
    from .cluster import ClusterError, DevCluster
    from .system import PrerequisiteError

    state_dir = _state_dir(args)
    started = time.monotonic()
    try:
        cluster, fresh = DevCluster.ensure_running(state_dir, progress=_progress)
    except (BuildError, ClusterError, PrerequisiteError) as exc:
        _progress(f"dev-cluster up failed: {exc}")
        return 1
    except KeyboardInterrupt:
        _progress("dev-cluster up interrupted")
        return 130
    if fresh:
        _progress(f"dev cluster up at {cluster.server} ({time.monotonic() - started:.1f}s)")
    else:
        _progress(f"dev cluster already up at {cluster.server}")
    _progress(f"users: {', '.join(cluster.users)}; state and logs in {cluster.state_dir}")
    sys.stdout.write(f"{cluster.kubeconfig}\n")
    return 0


def _down(args: argparse.Namespace) -> int:
    from .cluster import DevCluster

    state_dir = _state_dir(args)
    if not DevCluster.stop_recorded(state_dir, progress=_progress):
        _progress(f"no dev cluster recorded in {state_dir}")
        return 0
    _progress(f"dev cluster stopped; removed {state_dir}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from .cluster import DevCluster

    state_dir = _state_dir(args)
    cluster = DevCluster.attach(state_dir)
    if cluster is None:
        sys.stdout.write(f"down: no dev cluster recorded in {state_dir}\n")
        return 1
    ready = cluster.is_ready()
    sys.stdout.write(f"{'up' if ready else 'degraded'}: {cluster.server}\n")
    sys.stdout.write(f"kubeconfig: {cluster.kubeconfig}\n")
    for proc in cluster.processes:
        state = "running" if proc.is_running() else "not running"
        sys.stdout.write(f"  {proc.name:<24} pid {proc.pid:<8} {state}  log {proc.log}\n")
    return 0 if ready else 1


def _build_modern(args: argparse.Namespace) -> int:
    from . import modern
    from .build import BuildError
    from .debian import AptError, MirrorError
    from .system import PrerequisiteError

    started = time.monotonic()
    try:
        cached = modern.is_built()
        bin_dir = modern.ensure_built(_progress)
    except MirrorError as exc:
        # Exit 2: hack/test.sh may skip the v1.36 tests (loudly) on a machine without a mirror.
        _progress(f"dev-cluster build-modern: the Debian packages are not available: {exc}")
        return 2
    except (BuildError, AptError, PrerequisiteError) as exc:
        _progress(f"dev-cluster build-modern failed: {exc}")
        return 1
    except KeyboardInterrupt:
        _progress("dev-cluster build-modern interrupted; the partial build was removed")
        return 130
    state = "cached" if cached else "built"
    _progress(
        f"Kubernetes {modern.kubernetes_version()} apiextensions API server and kubectl {state} "
        f"in {bin_dir} ({time.monotonic() - started:.1f}s)"
    )
    return 0


def _up_modern(args: argparse.Namespace) -> int:
    from . import modern
    from .build import BuildError
    from .crdserver import CrdServer, CrdServerError
    from .debian import AptError
    from .system import PrerequisiteError

    state_dir = _state_dir(args)
    started = time.monotonic()
    try:
        modern.ensure_built(_progress)
        server, fresh = CrdServer.ensure_running(state_dir, progress=_progress)
    except (BuildError, AptError, CrdServerError, PrerequisiteError) as exc:
        _progress(f"dev-cluster up-modern failed: {exc}")
        return 1
    except KeyboardInterrupt:
        _progress("dev-cluster up-modern interrupted")
        return 130
    if fresh:
        _progress(f"CRD server up at {server.server} ({time.monotonic() - started:.1f}s)")
    else:
        _progress(f"CRD server already up at {server.server}")
    _progress(f"no core API (CRDs and custom resources only); kubectl 1.36: {server.kubectl}")
    sys.stdout.write(f"{server.kubeconfig}\n")
    return 0


def _down_modern(args: argparse.Namespace) -> int:
    from .crdserver import CrdServer

    state_dir = _state_dir(args)
    if not CrdServer.stop_recorded(state_dir, progress=_progress):
        _progress(f"no CRD server recorded in {state_dir}")
        return 0
    _progress(f"CRD server stopped; removed {state_dir}")
    return 0
