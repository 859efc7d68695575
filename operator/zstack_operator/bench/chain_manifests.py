"""The N chains of ``bench-chain``, generated from the shipped ``deploy/samples/chain/`` folder.

Used by ``bench.chain``. Chain i is the folder's Model, ModelService and deployment, all three
named ``chain-<i>`` (a kind's objects need distinct names, different kinds may share one), with
the references and ZStack names rewritten to match; the rest of each spec is the sample's, so
the bench measures what the quick start applies.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ..chain.refs import PLURALS
from ..resources import KIND
from ..resources.deployment import DEPLOYMENT_KIND
from .manifests import REPO_ROOT

CHAIN_SAMPLES = REPO_ROOT / "deploy" / "samples" / "chain"
#: Kind -> plural of the three kinds of a chain (the references' own table).
KINDS = PLURALS


def load_chain(folder: Path = CHAIN_SAMPLES) -> dict[str, dict[str, Any]]:
    """Kind -> the one object of that kind in ``folder``'s YAML files."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") in KINDS:
                found[doc["kind"]] = doc
    missing = sorted(set(KINDS) - set(found))
    if missing:
        raise ValueError(f"{folder} has no {', '.join(missing)}")
    return found


def generate_chains(
    count: int, samples: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """``count`` chains, 3 * ``count`` objects, in chain order (the caller shuffles)."""
    samples = samples or load_chain()
    width = max(5, len(str(count - 1)))
    out: list[dict[str, Any]] = []
    for i in range(count):
        name = f"chain-{i:0{width}d}"
        for kind in KINDS:
            obj = copy.deepcopy(samples[kind])
            obj["metadata"] = {"name": name}
            spec = obj["spec"]
            spec["name"] = name
            if kind == KIND:
                spec["modelRefs"] = [{"name": name}]
            if kind == DEPLOYMENT_KIND:
                spec["modelServiceRef"] = {"name": name}
                spec["modelRef"] = {"name": name}
            out.append(obj)
    return out
