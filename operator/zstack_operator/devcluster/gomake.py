"""Runs Kubernetes' ``make`` the way debian/rules does, with a heartbeat and clean interrupts.

Called only by ``build._build``. Go prints nothing for minutes while it compiles and links
kube-apiserver, so a line every ``HEARTBEAT_SECONDS`` (elapsed time, Go build cache size, last
make output) shows the build is alive; an interrupt kills make's whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from . import paths
from .system import Progress

#: Often enough that CI logs and people do not think the build hung.
HEARTBEAT_SECONDS = 30.0


class MakeError(RuntimeError):
    """make exited non-zero; the message holds the tail of its log."""


def elapsed(seconds: float) -> str:
    """``4m55s``, or ``2.7s`` under a minute."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"


def go_env() -> dict[str, str]:
    """Our environment with Debian's Go first on PATH and no user Go settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        # A user's module settings would flip the GOPATH-mode build into module mode.
        if key not in {"GOFLAGS", "GO111MODULE", "GOPATH", "GOROOT", "GOCACHE"}
    }
    # Debian's Go first, as debian/rules does: another Go on PATH may not build 1.20.
    env["PATH"] = f"/usr/lib/go/bin:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def _make_env(source: Path) -> dict[str, str]:
    env = go_env()
    env["GOPATH"] = str(source / ".go")
    env["CGO_ENABLED"] = "0"
    return env


def run_make(source: Path, build_log: Path, say: Progress) -> None:
    """``make WHAT=...`` in ``source``, output to ``build_log``, a heartbeat every 30 s."""
    gopath_link = source / ".go" / "src" / "k8s.io" / "kubernetes"
    gopath_link.parent.mkdir(parents=True)
    gopath_link.symlink_to(Path("..") / ".." / "..")
    what = " ".join(f"cmd/{name}" for name in paths.BINARIES)
    # hack/lib/golang.sh points GOCACHE here; its growth is the only sign of progress go gives.
    go_cache = source / "_output" / "local" / "go" / "cache"
    started = time.monotonic()
    with build_log.open("w", encoding="utf-8") as out, _signals_interrupt():
        proc = subprocess.Popen(
            ["make", f"WHAT={what}"],
            cwd=source,
            env=_make_env(source),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own group, so one killpg reaches make, build.sh and every go compiler.
            process_group=0,
        )
        try:
            while True:
                try:
                    code = proc.wait(timeout=HEARTBEAT_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    say(
                        f"    still compiling ({elapsed(time.monotonic() - started)}); "
                        f"Go build cache {_megabytes(go_cache)} MB; "
                        f"last output: {_last_line(build_log)}"
                    )
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM, test timeout): take make and its children with us.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if code != 0:
        tail = "\n".join(build_log.read_text(errors="replace").splitlines()[-25:])
        raise MakeError(f"make failed with exit code {code}; see {build_log}:\n{tail}")


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so the compiler group is cleaned up too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    received: list[int] = []

    def interrupt(signum: int, frame: FrameType | None) -> None:
        # Once only: a second TERM (timeout(1) signals the whole group too) must not cut
        # short the cleanup the first one started.
        if not received:
            received.append(signum)
            raise KeyboardInterrupt(f"received signal {signum}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _megabytes(folder: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total // 1_000_000


def _last_line(log_path: Path) -> str:
    with log_path.open("rb") as handle:
        handle.seek(max(0, log_path.stat().st_size - 4096))
        lines = handle.read().decode(errors="replace").strip().splitlines()
    return lines[-1][:160] if lines else "(nothing yet)"
