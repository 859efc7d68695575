"""The ``zstack-operator`` command: a table of subcommands, each one imported only when chosen.

Owned here: ``COMMANDS`` (name, help line and module of every subcommand, in ``--help`` order),
the top-level parser and ``main``. A subcommand module exposes ``register(subparsers)`` and
``main`` imports just that one module. Why lazily: the tooling (simulator, bench, dev cluster,
demo) must never load in ``zstack-operator run``, and the runtime image does not even contain it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Command:
    """One subcommand: what ``--help`` shows without importing it, and where it lives."""

    name: str
    module: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command(
        "sim",
        "zstack_operator.sim.cli",
        "run the ZStack API simulator (model services, sessions, async jobs, faults)",
    ),
    Command(
        "dev-cluster",
        "zstack_operator.devcluster.cli",
        "a local kube-apiserver v1.20 + etcd + kube-controller-manager on loopback",
    ),
    Command("crd", "zstack_operator.crdgen", "print the ModelService CRD YAML"),
    Command(
        "run",
        "zstack_operator.runner",
        "run the operator (watch ModelServices and reconcile them with ZStack)",
    ),
    Command(
        "model-centers",
        "zstack_operator.model_centers",
        "list the model centers the operator's own connection sees (uuid, name, status, url)",
    ),
    Command(
        "demo",
        "zstack_operator.demo",
        "run everything locally: control plane, ZStack simulator, operator, samples",
    ),
    Command(
        "bench-client",
        "zstack_operator.bench_client",
        "benchmark the ZStack client against a local simulator",
    ),
    Command(
        "bench",
        "zstack_operator.bench.cli",
        "benchmark the operator against the ideal floor, bare kopf and a naive operator",
    ),
    Command(
        "bench-chain",
        "zstack_operator.bench.chain",
        "time from one apply to N serving deployments (model, service, deployment) and back",
    ),
)
#: The subcommand modules, in ``--help`` order.
COMMAND_MODULES: tuple[str, ...] = tuple(c.module for c in COMMANDS)


class CommandNotInstalledError(Exception):
    """The chosen subcommand's module is not installed (the runtime image drops the tooling)."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported, to register its own arguments.

    Raises ``CommandNotInstalledError`` when that module is not installed.
    """
    parser = argparse.ArgumentParser(
        prog="zstack-operator",
        description="Manage ZStack AI model services as Kubernetes ModelService resources.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for entry in COMMANDS:
        if entry.name == command:
            _import(entry).register(sub)
        else:
            sub.add_parser(entry.name, help=entry.help)
    return parser


def _import(entry: Command) -> ModuleType:
    try:
        return importlib.import_module(entry.module)
    except ModuleNotFoundError as exc:
        # Only the module itself (or its package) being absent means "not installed"; a missing
        # import inside it is a bug and keeps its traceback.
        if exc.name is None or not (entry.module + ".").startswith(exc.name + "."):
            raise
        raise CommandNotInstalledError(
            f"the {entry.name} command is not installed here ({entry.module} is missing; "
            "the operator image ships only run, crd and model-centers: install from source for the "
            "tooling)"
        ) from exc


def _chosen(argv: Sequence[str]) -> str | None:
    # The top-level parser has no option but --help, so the first word that is not an option
    # is the subcommand's name.
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(_chosen(args_list))
    except CommandNotInstalledError as exc:
        sys.stderr.write(f"zstack-operator: {exc}\n")
        return 2
    args = parser.parse_args(args_list)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
