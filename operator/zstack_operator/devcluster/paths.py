"""Where the dev cluster keeps its files: the per-machine cache and the default state dir.

Used by ``build`` (binaries, build log, lock), ``cluster`` and ``cli`` (default state dir).
``ZSTACK_OPERATOR_CACHE`` overrides the cache root so CI or a test can point at a scratch dir;
otherwise the XDG cache convention applies.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The Kubernetes release Debian bookworm's ``kubernetes`` source package really contains
#: (``1.20.5+really1.20.2``); it names the cache folder so another version never mixes in.
KUBERNETES_VERSION = "v1.20.2"

#: Bumped whenever the recipe in ``build`` changes what the binaries do (a new vendor swap or
#: patch), so every machine rebuilds once into a new folder instead of trusting an old cache.
#: 1 (folder without suffix): reflect2/json-iterator swap. 2: also the kube-openapi
#: empty-string fix (docs/dev-cluster.md, "What the build patches").
BUILD_REVISION = 2

#: Binaries the build produces; etcd comes from Debian's ``etcd-server`` package instead.
BINARIES = ("kube-apiserver", "kube-controller-manager", "kubectl")


def cache_root() -> Path:
    """``$ZSTACK_OPERATOR_CACHE``, else ``$XDG_CACHE_HOME/zstack-operator``, else ``~/.cache/``."""
    override = os.environ.get("ZSTACK_OPERATOR_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "zstack-operator"


def build_name() -> str:
    """``kubernetes-v1.20.2-r2``: names the cache folder, its lock and its build tree."""
    return f"kubernetes-{KUBERNETES_VERSION}-r{BUILD_REVISION}"


def kubernetes_dir() -> Path:
    """The finished build: ``bin/``, ``stamp.json`` and ``build.log``."""
    return cache_root() / build_name()


def bin_dir() -> Path:
    """Where ``kube-apiserver``, ``kube-controller-manager`` and ``kubectl`` land."""
    return kubernetes_dir() / "bin"


def default_state_dir() -> Path:
    """State dir of ``zstack-operator dev-cluster up`` when ``--state-dir`` is not given."""
    return cache_root() / "dev-cluster"
