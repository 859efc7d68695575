"""The bare kopf operator of the bench: it only marks each new ModelService Ready in its status.

Run by ``bench.runs`` as its own process: ``python -m zstack_operator.bench.barekopf
--namespace NS --ready-file PATH``. It is the baseline of kopf's own cost (watching, handler
scheduling, its patches) for the operator's time and memory, so it is configured like
``handlers.run`` configures kopf (standalone, no scanning, progress and diff-base in
annotations, kopf's per-object INFO logs not posted as Events) and does nothing else. It is
the one bench module that imports kopf (the import-linter contract names it as the exception),
and it imports nothing else from this package, so its memory is kopf's and Python's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kopf

#: ModelService's API coordinates, spelled out: importing ``resources`` would load pydantic and
#: the models into this process and inflate the very baseline it exists to measure.
_RESOURCE = ("ai.zstack.io", "v1alpha1", "modelservices")


def _ready_condition() -> dict[str, str]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"type": "Ready", "status": "True", "reason": "Available",
            "message": "bare kopf", "lastTransitionTime": now}  # fmt: skip


def _registry(ready_file: Path) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage()
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage()
        settings.posting.level = logging.INFO
        settings.scanning.disabled = True
        ready_file.touch()

    @kopf.on.create(*_RESOURCE, registry=registry)
    async def mark_ready(patch: kopf.Patch, meta: kopf.Meta, **_: Any) -> None:
        patch.status["observedGeneration"] = meta.get("generation")
        patch.status["conditions"] = [_ready_condition()]

    return registry


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m zstack_operator.bench.barekopf")
    parser.add_argument("--namespace", required=True, help="the only namespace to watch")
    parser.add_argument("--ready-file", type=Path, required=True, help="touched once started")
    args = parser.parse_args(argv)
    registry = _registry(args.ready_file)
    kopf.configure(log_format=kopf.LogFormat.FULL)
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    asyncio.run(
        kopf.operator(
            registry=registry, standalone=True, clusterwide=False, namespaces=[args.namespace]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
