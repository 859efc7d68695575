"""Trampoline that starts one control-plane process detached, prints its pid and exits.

Run by ``procs.spawn`` as ``python -m zstack_operator.devcluster.detach LOG -- PROGRAM ARGS...``.
Going through this short-lived middle process means the daemon is never a child of the caller:
it survives ``zstack-operator dev-cluster up`` returning, the caller never has to reap it, and
``down`` from another shell stops it the same way as the pytest fixture does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Spawn ``argv[2:]`` in a new session with stdout/stderr appended to ``argv[0]``."""
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: python -m zstack_operator.devcluster.detach LOG -- PROGRAM ...\n")
        return 2
    log_path, command = argv[0], list(argv[2:])
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    pid = os.posix_spawn(
        command[0],
        command,
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log_fd, 1),
            (os.POSIX_SPAWN_DUP2, log_fd, 2),
        ],
        # Its own session: a Ctrl-C in the terminal that ran `up` must not reach the cluster.
        setsid=True,
    )
    sys.stdout.write(f"{pid}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
