"""The N ModelServices of a bench run, generated from ``deploy/samples/modelservice-basic.yaml``.

Used by ``bench.cli``. Each copy gets its own ``metadata.name`` (``bench-00042``) and the same
``spec.name``, so ZStack sees distinct names, and otherwise keeps the sample's spec unchanged:
the bench measures the resource users start from.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

#: The repository root (the bench runs from a checkout: it needs crds/ and deploy/samples/).
REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLE = REPO_ROOT / "deploy" / "samples" / "modelservice-basic.yaml"
CRDS = REPO_ROOT / "crds"


def load_sample(path: Path = SAMPLE) -> dict[str, Any]:
    """The first ModelService document of ``path``."""
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if isinstance(doc, dict) and doc.get("kind") == "ModelService":
            return doc
    raise ValueError(f"{path} holds no ModelService")


def generate(sample: dict[str, Any], count: int, prefix: str = "bench") -> list[dict[str, Any]]:
    """``count`` copies of ``sample`` named ``<prefix>-00000`` ... (namespace: from the URL)."""
    width = max(5, len(str(count - 1)))
    out = []
    for i in range(count):
        obj = copy.deepcopy(sample)
        name = f"{prefix}-{i:0{width}d}"
        obj["metadata"] = {"name": name}
        obj["spec"]["name"] = name
        out.append(obj)
    return out
