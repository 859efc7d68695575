"""Debian prerequisites of the dev cluster: source indexes and packages, added only when missing.

Called by ``build.ensure_built`` (everything) and ``cluster.DevCluster.start`` (the runtime
packages). Runs ``apt-get`` directly as root and through ``sudo`` otherwise, so a bare CI machine
and a developer's laptop take the same path; a machine that already has everything runs nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

Progress = Callable[[str], None]

#: Needed to fetch and compile Kubernetes (see docs/CONTROL-PLANE.md, "Build").
BUILD_PACKAGES = (
    "dpkg-dev",
    "golang-go",
    "rsync",
    "jq",
    "golang-github-modern-go-reflect2-dev",
    "golang-github-json-iterator-go-dev",
)
#: Needed to run the cluster: etcd itself, and openssl for the service-account key pair.
RUNTIME_PACKAGES = ("etcd-server", "openssl")

#: The kubernetes source package is taken from bookworm whatever the host release, so the
#: cached build is the same everywhere.
SOURCE_SUITE = "bookworm"
SOURCES_FILE = Path("/etc/apt/sources.list.d/zstack-operator-deb-src.sources")
_DEFAULT_URI = "http://deb.debian.org/debian"
_DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


class PrerequisiteError(RuntimeError):
    """A package or source index could not be provided."""


def _privileged(argv: Sequence[str]) -> list[str]:
    """``argv`` itself as root, else prefixed with ``sudo`` (which must exist)."""
    if os.geteuid() == 0:
        return list(argv)
    if shutil.which("sudo") is None:
        raise PrerequisiteError(f"need root to run {argv[0]!r} and sudo is not installed")
    return ["sudo", "-n", *argv] if not os.isatty(0) else ["sudo", *argv]


def _run_apt(argv: Sequence[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = _privileged(argv)
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise PrerequisiteError(f"`{' '.join(cmd)}` failed ({result.returncode}):\n{tail}")


def missing_packages(names: Sequence[str]) -> list[str]:
    """The subset of ``names`` that dpkg does not report as installed."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\n", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = {
        line.split("\t", 1)[0]
        for line in result.stdout.splitlines()
        if line.split("\t", 1)[-1].startswith("ii")
    }
    return [name for name in names if name not in installed]


def ensure_packages(names: Sequence[str], progress: Progress) -> None:
    """Install whichever of ``names`` are missing (one ``apt-get update`` first)."""
    missing = missing_packages(names)
    if not missing:
        return
    progress(f"installing Debian packages: {' '.join(missing)}")
    _run_apt(["apt-get", "update", "-q"])
    _run_apt(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing])
    still = missing_packages(missing)
    if still:
        raise PrerequisiteError(f"packages still missing after apt-get install: {still}")


def has_kubernetes_source() -> bool:
    """Whether apt already knows the ``kubernetes`` source package (deb-src configured)."""
    result = subprocess.run(
        ["apt-cache", "showsrc", "--only-source", "kubernetes"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and "Package: kubernetes" in result.stdout


def _debian_stanza() -> tuple[str, str]:
    """URIs and Signed-By of the host's main Debian deb822 source, or the public defaults."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text(encoding="utf-8").split("\n\n"):
            fields = {
                key.strip(): value.strip()
                for key, sep, value in (line.partition(":") for line in stanza.splitlines())
                if sep and not key.startswith("#")
            }
            uris = fields.get("URIs", "")
            if "deb" in fields.get("Types", "").split() and uris.rstrip("/").endswith("/debian"):
                return uris, fields.get("Signed-By", _DEFAULT_KEYRING)
    return _DEFAULT_URI, _DEFAULT_KEYRING


def ensure_kubernetes_source(progress: Progress) -> None:
    """Add a deb-src entry for bookworm's main component if apt cannot see the source yet."""
    if has_kubernetes_source():
        return
    uris, keyring = _debian_stanza()
    text = (
        f"Types: deb-src\nURIs: {uris}\nSuites: {SOURCE_SUITE}\nComponents: main\n"
        f"Signed-By: {keyring}\n"
    )
    progress(f"enabling Debian source packages in {SOURCES_FILE}")
    cmd = _privileged(["tee", str(SOURCES_FILE)])
    written = subprocess.run(cmd, input=text, capture_output=True, text=True, check=False)
    if written.returncode != 0:
        raise PrerequisiteError(f"could not write {SOURCES_FILE}: {written.stderr.strip()}")
    _run_apt(["apt-get", "update", "-q"])
    if not has_kubernetes_source():
        raise PrerequisiteError(
            f"apt still cannot see the kubernetes source package after adding {SOURCES_FILE}"
        )
