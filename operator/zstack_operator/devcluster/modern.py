"""Builds the v1.36 apiextensions API server and fetches kubectl 1.36, once per machine.

Called by ``zstack-operator dev-cluster build-modern`` / ``up-modern``, ``crdserver.CrdServer``
and the pytest plugin in ``tests/support/modern_fixtures.py``. The recipe is
docs/kubernetes-versions.md: the Debian packages pinned in ``apiextensions/packages.txt``
(Go 1.26, the Kubernetes 1.36 Go sources, kubectl) fetched through ``debian.PrivateApt`` and
unpacked, our wrapper ``apiextensions/main.go`` compiled against them in GOPATH mode. The
result lives under ``modern_dir()``, a folder named by the Kubernetes version and a key over
the wrapper, the pins and this recipe, so a change to any of them rebuilds once; the unpacked
packages (700 MB) and the Go build cache are removed after the build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from . import build, debian, gomake, paths, system
from .system import Progress

log = logging.getLogger(__name__)

#: Bumped when this module changes what the binaries are (flags, ldflags, steps).
RECIPE_REVISION = 1
SERVER_BINARY = "zstack-apiextensions-apiserver"
BINARIES = (SERVER_BINARY, "kubectl")
SOURCE_DIR = Path(__file__).resolve().parent / "apiextensions"
PINS_FILE = SOURCE_DIR / "packages.txt"
#: Where the wrapper sits in the build's GOPATH; it never leaves the build folder.
_IMPORT_PATH = "zstack.io/apiextensions-apiserver"
_APIEXTENSIONS_PACKAGE = "golang-k8s-apiextensions-apiserver-dev"
_GO_PACKAGE_PREFIX = "golang-1.26-"
_STAMP = "stamp.json"


class NotBuiltError(build.NotBuiltError):
    """The v1.36 binaries are not cached yet (``zstack-operator dev-cluster build-modern``)."""


def kubernetes_version(package_version: str | None = None) -> str:
    """``v1.36.4`` for the Go package version ``0.36.4-1`` (staging repos are 0.minor.patch)."""
    if package_version is None:
        pins = {pin.package: pin.version for pin in debian.read_pins(PINS_FILE)}
        package_version = pins[_APIEXTENSIONS_PACKAGE]
    upstream = package_version.split(":", 1)[-1].split("-", 1)[0].split("+", 1)[0]
    major, minor, patch = upstream.split(".")[:3]
    if major != "0":
        raise ValueError(f"unexpected {_APIEXTENSIONS_PACKAGE} version {package_version}")
    return f"v1.{minor}.{patch}"


def build_key() -> str:
    """A digest of everything the binaries are made from that lives in this repository."""
    if not SOURCE_DIR.is_dir():
        # The wheel carries Python files only; the Go wrapper is in the source tree.
        raise build.BuildError(f"{SOURCE_DIR} is missing: build from a checkout (pip install -e)")
    digest = hashlib.sha256(f"recipe {RECIPE_REVISION}\n".encode())
    for source in sorted(SOURCE_DIR.iterdir()):
        if source.is_file():
            digest.update(f"{source.name}\n".encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def build_name() -> str:
    """``apiextensions-v1.36.4-<key>``: names the cache folder, its lock and its build tree."""
    return f"apiextensions-{kubernetes_version()}-{build_key()}"


def modern_dir() -> Path:
    """The finished build: ``bin/``, ``stamp.json``, ``build.log`` and ``packages.lock``."""
    return paths.cache_root() / build_name()


def bin_dir() -> Path:
    """Where ``zstack-apiextensions-apiserver`` and ``kubectl`` land."""
    return modern_dir() / "bin"


def is_built() -> bool:
    """Whether the cache holds a finished build of this key (stamp and every binary)."""
    try:
        data = json.loads((modern_dir() / _STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if data.get("key") != build_key():
        return False
    return all(os.access(bin_dir() / name, os.X_OK) for name in BINARIES)


def cached_binaries() -> Path:
    """The cached ``bin/``; raises :class:`NotBuiltError` when there is none yet."""
    if not is_built():
        raise NotBuiltError(
            f"the Kubernetes {kubernetes_version()} apiextensions server is not built in "
            f"{modern_dir()}; run `zstack-operator dev-cluster build-modern` (minutes, once)"
        )
    return bin_dir()


def ensure_built(progress: Progress | None = None) -> Path:
    """Return the cached ``bin/``, building it first if needed (minutes, once per key)."""
    say = progress or _log_progress
    if is_built():
        return bin_dir()
    root = paths.cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with build._exclusive(root / f"{build_name()}.lock", say):
        if is_built():
            say("another process finished the build meanwhile")
            return bin_dir()
        _build(say)
    return bin_dir()


def _log_progress(message: str) -> None:
    log.info("%s", message)


def _build(say: Progress) -> None:
    started = time.monotonic()
    target = modern_dir()
    work = paths.cache_root() / f"build-{build_name()}"
    build_log = target / "build.log"
    version = kubernetes_version()
    say(f"building the Kubernetes {version} apiextensions API server into {target} (once)")
    # A tree left by an interrupted build is not trusted.
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    work.mkdir(parents=True)
    target.mkdir(parents=True)
    apt = debian.PrivateApt(work / "apt")
    root = work / "root"
    total = 6
    try:
        with build._step(say, 1, total, "Debian prerequisites (etcd, openssl)"):
            system.ensure_packages(system.RUNTIME_PACKAGES, say)
        with build._step(say, 2, total, f"private apt index ({', '.join(debian.SUITES)})"):
            apt.setup()
            apt.update()
        with build._step(say, 3, total, "download packages"):
            pins = debian.read_pins(PINS_FILE)
            specs = apt.resolve(pins, say)
            debs = apt.download(specs, work / "debs")
            versions = dict(debian.deb_version(deb) for deb in debs)
            megabytes = sum(deb.stat().st_size for deb in debs) // 1_000_000
            say(f"    {len(debs)} packages, {megabytes} MB")
        with build._step(say, 4, total, "unpack (dpkg-deb -x)"):
            debian.extract(debs, root)
        with build._step(say, 5, total, f"compile (go build; output in {build_log})"):
            built_version = kubernetes_version(versions[_APIEXTENSIONS_PACKAGE])
            if built_version != version:
                say(f"    the sources are {built_version}, not the pinned {version}")
            staging = target / "bin.partial"
            staging.mkdir()
            server = staging / SERVER_BINARY
            go_version = _compile(root, work, server, built_version, build_log, say)
        with build._step(say, 6, total, f"install binaries into {bin_dir()}"):
            shutil.copy2(root / "usr" / "bin" / "kubectl", staging / "kubectl")
            _check_version(staging / SERVER_BINARY, ["--version"], built_version)
            _check_kubectl(staging / "kubectl", built_version)
            staging.rename(bin_dir())
            _write_lock(target, versions)
            _write_stamp(target, built_version, go_version, time.monotonic() - started)
    except BaseException:
        # Nothing half-built may look cached: is_built() needs the stamp, written last.
        shutil.rmtree(target / "bin.partial", ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"built in {gomake.elapsed(time.monotonic() - started)}")


def _go_env(root: Path, work: Path) -> dict[str, str]:
    goroot = root / "usr" / "lib" / "go-1.26"
    env = {
        key: value
        for key, value in os.environ.items()
        # A user's Go settings would switch modes, toolchains or proxies under us.
        if not key.startswith("GO") and key not in {"CGO_ENABLED", "CC", "CXX"}
    }
    env.update(
        {
            "PATH": f"{goroot / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "GOROOT": str(goroot),
            # Our wrapper first, then every Debian Go source package.
            "GOPATH": f"{work / 'gopath'}:{root / 'usr' / 'share' / 'gocode'}",
            "GOCACHE": str(work / "gocache"),
            # GOPATH mode: Debian ships sources, not a module cache; nothing may be fetched.
            "GO111MODULE": "off",
            "GOPROXY": "off",
            "GOTOOLCHAIN": "local",
            "GOENV": "off",
            "GOFLAGS": "",
            # A static binary, independent of the host's libc.
            "CGO_ENABLED": "0",
        }
    )
    return env


def _compile(
    root: Path, work: Path, output: Path, version: str, build_log: Path, say: Progress
) -> str:
    """``nice go build -trimpath`` of the wrapper; returns ``go version``'s answer."""
    package = work / "gopath" / "src" / _IMPORT_PATH
    package.mkdir(parents=True)
    shutil.copy2(SOURCE_DIR / "main.go", package / "main.go")
    env = _go_env(root, work)
    go = str(root / "usr" / "lib" / "go-1.26" / "bin" / "go")
    major, minor = version.removeprefix("v").split(".")[:2]
    stamp = "k8s.io/component-base/version"
    # What `make` sets for kube-apiserver: /version then reports v1.36.x, not v0.0.0-master.
    ldflags = " ".join(
        [
            f"-X {stamp}.gitVersion={version}",
            f"-X {stamp}.gitMajor={major}",
            f"-X {stamp}.gitMinor={minor}",
            f"-X {stamp}.gitTreeState=clean",
            "-s",
            "-w",
        ]
    )
    # -v names each package as it is compiled: the heartbeat's only sign of progress.
    argv = ["nice", "-n", "10", go, "build", "-v", "-trimpath", f"-ldflags={ldflags}"]
    argv += ["-o", str(output), "."]
    started = time.monotonic()
    with build_log.open("w", encoding="utf-8") as out, gomake._signals_interrupt():
        proc = subprocess.Popen(
            argv,
            cwd=package,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Its own group, so one killpg reaches go and every compiler it started.
            process_group=0,
        )
        try:
            while True:
                try:
                    code = proc.wait(timeout=gomake.HEARTBEAT_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    say(
                        f"    still compiling ({gomake.elapsed(time.monotonic() - started)}); "
                        f"Go build cache {gomake._megabytes(work / 'gocache')} MB; "
                        f"last package: {gomake._last_line(build_log)}"
                    )
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    if code != 0:
        tail = "\n".join(build_log.read_text(errors="replace").splitlines()[-25:])
        raise build.BuildError(f"go build failed with exit code {code}; see {build_log}:\n{tail}")
    result = subprocess.run([go, "version"], env=env, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def _check_version(binary: Path, argv: list[str], version: str) -> None:
    result = subprocess.run(
        [str(binary), *argv], capture_output=True, text=True, timeout=60, check=False
    )
    if version not in result.stdout.split():
        raise build.BuildError(f"{binary.name} --version printed {result.stdout.strip()!r}")


def _check_kubectl(kubectl: Path, version: str) -> None:
    minor = version.split(".")[1]
    result = subprocess.run(
        [str(kubectl), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        client = json.loads(result.stdout)["clientVersion"]
    except (ValueError, KeyError) as exc:
        raise build.BuildError(f"kubectl from Debian does not run: {result.stderr}") from exc
    # sid may have moved kubectl on by one minor: within the supported skew, still fine.
    client_minor = str(client.get("minor", "")).rstrip("+")
    if not client_minor.isdigit() or abs(int(client_minor) - int(minor)) > 1:
        raise build.BuildError(f"kubectl from Debian is {client.get('gitVersion')}, not 1.{minor}")


def _write_lock(target: Path, versions: dict[str, str]) -> None:
    # What this build really used: the pins, or the newer versions taken where sid moved on.
    lines = [f"{name}={versions[name]}" for name in sorted(versions)]
    (target / "packages.lock").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_stamp(target: Path, version: str, go_version: str, seconds: float) -> None:
    stamp = {
        "key": build_key(),
        "version": version,
        "recipe": RECIPE_REVISION,
        "go": go_version,
        "build_seconds": round(seconds, 1),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (target / _STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
