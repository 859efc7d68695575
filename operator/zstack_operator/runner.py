"""The ``zstack-operator run`` subcommand: parse settings, then hand over to kopf.

Bad configuration ends here with one line on stderr and exit code 2, before kopf starts. A
plain-http endpoint that was opted into is warned about here, once, before anything connects.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``run`` to the command line."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run the operator (watch ModelServices and reconcile them with ZStack)",
        description="Run the operator. Every flag has an environment variable equivalent.",
    )
    from .settings import add_arguments

    add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .settings import ConfigError, load_settings

    try:
        settings = load_settings(args)
    except ConfigError as exc:
        sys.stderr.write(f"zstack-operator: configuration error: {exc}\n")
        return 2
    from .endpoints import warn_if_insecure

    # Before kopf configures logging, so Python's last-resort handler prints it to stderr as it
    # is: one line that stands out, whatever the log format.
    warn_if_insecure(settings.endpoint, "the operator's default connection")
    from . import handlers

    return handlers.run(settings)
