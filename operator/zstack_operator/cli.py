"""The ``zstack-operator`` command: one subcommand per job, each registered by its own module.

Subcommand modules expose ``register(subparsers)``; they import their heavy dependencies
(kopf, aiohttp, ...) only when run, so ``zstack-operator sim --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules that register a subcommand, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "zstack_operator.sim.cli",
    "zstack_operator.devcluster.cli",
    "zstack_operator.crdgen",
    "zstack_operator.runner",
    "zstack_operator.demo",
    "zstack_operator.bench_client",
    "zstack_operator.bench.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="zstack-operator",
        description="Manage ZStack AI model services as Kubernetes ModelService resources.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
