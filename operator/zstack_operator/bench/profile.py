"""``--profile``: sample the operator with py-spy during its create run; summarise where CPU went.

Used by ``bench.runs``. py-spy (``pip install py-spy``; in the dev extra) attaches to the
operator's pid and writes collapsed stacks (``operator-create.folded``, one
``frame;frame;... count`` line per distinct stack; feed it to flamegraph.pl or speedscope).
``summarise`` is pure: self and inclusive samples per function and self samples per top-level
package, which answers "which calls dominate" without a viewer.
"""

from __future__ import annotations

import re
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from .procs import Child, child_env

#: Frames under every sample (the event loop, ``python -m``): left out of the inclusive list.
_SCAFFOLDING = frozenset({"asyncio", "runpy"})
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The py-spy executable beside this interpreter, else on PATH, else None."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_profiler(pid: int, folded: Path, log: Path) -> Child:
    """``py-spy record`` of ``pid`` until stopped with SIGINT (100 samples/s, non-blocking)."""
    exe = py_spy()
    if exe is None:
        raise FileNotFoundError("--profile needs py-spy: pip install py-spy")
    args = [exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "100",
            "--nonblocking", "--output", str(folded)]  # fmt: skip
    child = Child("py-spy", args, log, child_env())
    child.start()
    return child


def stop_profiler(child: Child) -> None:
    """SIGINT makes py-spy write its file; it exits by itself."""
    child.stop(sig=signal.SIGINT)


def _split(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match.group("func"), match.group("path")


def _package(path: str) -> str:
    if not path:
        return "(native)"
    head = path.split("/", 1)[0]
    return head.removesuffix(".py")


def summarise(folded: str, top: int = 15) -> dict[str, Any]:
    """Samples in total, and the top functions (self, inclusive) and packages (self)."""
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    self_pkg: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_split(f) for f in stack.split(";")]
        names = [f"{func} ({path})" if path else func for func, path in frames]
        for name, (_, path) in set(zip(names, frames, strict=True)):
            if _package(path) not in _SCAFFOLDING and not name.startswith("<module>"):
                incl_fn[name] += count
        self_fn[names[-1]] += count
        self_pkg[_package(frames[-1][1])] += count

    def share(counter: Counter[str]) -> list[tuple[str, int, float]]:
        return [(k, n, round(100.0 * n / total, 1)) for k, n in counter.most_common(top)]

    return {
        "samples": total,
        "self_by_package": share(self_pkg),
        "self_by_function": share(self_fn),
        "inclusive_by_function": share(incl_fn),
    }
