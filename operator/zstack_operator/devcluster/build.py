"""Builds kube-apiserver, kube-controller-manager and kubectl v1.20.2 once per machine.

Called by ``zstack-operator dev-cluster build`` / ``up``, ``DevCluster.start`` and the pytest
plugin in ``tests/support/kube_fixtures.py``. The recipe is docs/CONTROL-PLANE.md: Debian's
``kubernetes`` source package, its vendored reflect2/json-iterator swapped for Debian's Go 1.18+
safe copies, one Go 1.16+ line fixed in kube-openapi, compiled the way ``debian/rules`` does.
The result lives under ``paths.kubernetes_dir()`` (named by ``paths.BUILD_REVISION``) with a
stamp; a file lock keeps two builds from sharing a tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from . import gomake, paths, system
from .system import Progress

log = logging.getLogger(__name__)

_STAMP = "stamp.json"
_VENDOR_SWAPS = {
    "vendor/github.com/modern-go/reflect2": "/usr/share/gocode/src/github.com/modern-go/reflect2",
    "vendor/github.com/json-iterator/go": "/usr/share/gocode/src/github.com/json-iterator/go",
}
#: (file, line, replacement). Each must match exactly once, or the build stops: a changed source
#: package must not silently lose a fix. Why each exists: docs/dev-cluster.md.
_SOURCE_PATCHES = (
    # The type check compares two reflect.Values with DeepEqual. Built with Go >= 1.16, an empty
    # string boxed in an interface and reflect.Zero share one zero buffer, so "" counts as null
    # and a custom resource with an empty string fails (`must be of type string: "null"`).
    # Upstream made the same change (kubernetes/kube-openapi#230, shipped in Kubernetes 1.21).
    (
        "vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go",
        "\tif data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), "
        "reflect.ValueOf(data)) {\n",
        "\tif data == nil {\n",
    ),
)


class BuildError(RuntimeError):
    """The build failed; the message names the step and the log to read."""


class NotBuiltError(RuntimeError):
    """The binaries are not in the cache yet (run ``zstack-operator dev-cluster build``)."""


def _log_progress(message: str) -> None:
    log.info("%s", message)


def is_built() -> bool:
    """Whether the cache holds a finished build of this version (stamp and every binary)."""
    stamp = paths.kubernetes_dir() / _STAMP
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if (data.get("version"), data.get("revision")) != (
        paths.KUBERNETES_VERSION,
        paths.BUILD_REVISION,
    ):
        return False
    return all(os.access(paths.bin_dir() / name, os.X_OK) for name in paths.BINARIES)


def cached_binaries() -> Path:
    """The cached ``bin/`` folder; raises :class:`NotBuiltError` when there is none yet."""
    if not is_built():
        raise NotBuiltError(
            f"Kubernetes {paths.KUBERNETES_VERSION} is not built in {paths.kubernetes_dir()}; "
            "run `zstack-operator dev-cluster build` (several minutes, once per machine)"
        )
    return paths.bin_dir()


def ensure_built(progress: Progress | None = None) -> Path:
    """Return the cached ``bin/`` folder, building it first if needed (minutes, once)."""
    say = progress or _log_progress
    if is_built():
        return paths.bin_dir()
    root = paths.cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root / f"{paths.build_name()}.lock", say):
        if is_built():
            say("another process finished the build meanwhile")
            return paths.bin_dir()
        _build(say)
    return paths.bin_dir()


@contextlib.contextmanager
def _exclusive(lock_path: Path, say: Progress) -> Iterator[None]:
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another build holds {lock_path}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _step(say: Progress, number: int, total: int, name: str) -> Iterator[None]:
    say(f"==> [{number}/{total}] {name}")
    started = time.monotonic()
    yield
    say(f"    {name}: done in {gomake.elapsed(time.monotonic() - started)}")


def _build(say: Progress) -> None:
    started = time.monotonic()
    target = paths.kubernetes_dir()
    work = paths.cache_root() / f"build-{paths.build_name()}"
    build_log = target / "build.log"
    say(f"building Kubernetes {paths.KUBERNETES_VERSION} into {target} (several minutes, once)")
    # A tree left by an interrupted build is not trusted: start from the pristine source.
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    work.mkdir(parents=True)
    target.mkdir(parents=True)
    try:
        with _step(say, 1, 5, "Debian prerequisites"):
            system.ensure_packages(system.BUILD_PACKAGES + system.RUNTIME_PACKAGES, say)
            system.ensure_kubernetes_source(say)
        with _step(say, 2, 5, "fetch source (apt-get source kubernetes)"):
            source = _fetch_source(work)
            say(f"    unpacked {source.name}")
        with _step(say, 3, 5, "swap vendored reflect2/json-iterator, patch kube-openapi"):
            _swap_vendor(source)
            _patch_source(source)
        with _step(say, 4, 5, f"compile (make; output in {build_log})"):
            try:
                gomake.run_make(source, build_log, say)
            except gomake.MakeError as exc:
                raise BuildError(str(exc)) from exc
        with _step(say, 5, 5, f"install binaries into {paths.bin_dir()}"):
            _install(source / "_output" / "bin")
            _write_stamp(source.name, time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"built in {gomake.elapsed(time.monotonic() - started)}")


def _fetch_source(work: Path) -> Path:
    result = subprocess.run(
        ["apt-get", "source", "-q", "kubernetes"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    trees = [p for p in work.glob("kubernetes-*") if p.is_dir()]
    if result.returncode != 0 or len(trees) != 1:
        raise BuildError(f"apt-get source kubernetes failed:\n{result.stderr.strip()[-2000:]}")
    source = trees[0]
    if not source.name.endswith(paths.KUBERNETES_VERSION.removeprefix("v")):
        raise BuildError(f"expected Kubernetes {paths.KUBERNETES_VERSION}, got {source.name}")
    return source


def _swap_vendor(source: Path) -> None:
    for vendored, debian in _VENDOR_SWAPS.items():
        if not Path(debian).is_dir():
            raise BuildError(f"{debian} is missing; its Debian -dev package is not installed")
        shutil.rmtree(source / vendored)
        shutil.copytree(debian, source / vendored)
        for test_file in (source / vendored).rglob("*_test.go"):
            test_file.unlink()


def _patch_source(source: Path) -> None:
    for relative, line, replacement in _SOURCE_PATCHES:
        path = source / relative
        text = path.read_text(encoding="utf-8")
        if text.count(line) != 1:
            raise BuildError(f"{relative}: expected exactly one {line.strip()!r} to patch")
        path.write_text(text.replace(line, replacement), encoding="utf-8")


def _install(output_bin: Path) -> None:
    staging = paths.kubernetes_dir() / "bin.partial"
    staging.mkdir()
    for name in paths.BINARIES:
        shutil.copy2(output_bin / name, staging / name)
        # kubectl has no --version flag; the server binaries have no `version` command.
        probe = ["version", "--client"] if name == "kubectl" else ["--version"]
        check = subprocess.run(
            [str(staging / name), *probe], capture_output=True, text=True, check=False
        )
        if paths.KUBERNETES_VERSION not in check.stdout:
            raise BuildError(f"{name} --version printed {check.stdout.strip()!r}")
    staging.rename(paths.bin_dir())


def _write_stamp(source_name: str, seconds: float) -> None:
    go = subprocess.run(
        ["go", "version"], env=gomake.go_env(), capture_output=True, text=True, check=False
    )
    stamp = {
        "version": paths.KUBERNETES_VERSION,
        "revision": paths.BUILD_REVISION,
        "source_package": source_name,
        "go": go.stdout.strip(),
        "build_seconds": round(seconds, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (paths.kubernetes_dir() / _STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
