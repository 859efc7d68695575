"""Which kubectl talks to the dev cluster: chosen once here so tests and docs agree.

Called by ``tests/support/kube.py`` and usable by demos. A kubectl on PATH of v1.20 or newer
is preferred (checked here against the v1.20 server: v1.20, v1.32 and v1.33 all handle
``apply`` incl. ``--server-side`` and ``--dry-run=server``, ``get -o json``, ``explain`` of a
CRD field, ``wait --for=condition``, ``patch --subresource=status`` (1.24+) and ``delete
--wait``); otherwise the v1.20 kubectl the build caches. docs/dev-cluster.md has the details.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from . import build

#: Older clients predate server-side apply going beta; 1.20 is what the cache itself ships.
MIN_CLIENT_MINOR = 20


@functools.cache
def client_minor(kubectl: Path) -> int:
    """The client's minor version (``32`` for v1.32.4), or -1 when it cannot tell."""
    try:
        result = subprocess.run(
            [str(kubectl), "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        info = json.loads(result.stdout)["clientVersion"]
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError):
        return -1
    match = re.match(r"\d+", str(info.get("minor", "")))
    return int(match.group()) if match and str(info.get("major")) == "1" else -1


def kubectl_path() -> Path:
    """``$ZSTACK_OPERATOR_KUBECTL``, else a kubectl >= v1.20 on PATH, else the cached v1.20."""
    override = os.environ.get("ZSTACK_OPERATOR_KUBECTL")
    if override:
        return Path(override)
    found = shutil.which("kubectl")
    if found and client_minor(Path(found)) >= MIN_CLIENT_MINOR:
        return Path(found)
    return build.cached_binaries() / "kubectl"
