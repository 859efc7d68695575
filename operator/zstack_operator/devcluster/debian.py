"""A private APT root for Debian packages the host release lacks: fetched, unpacked, not installed.

Used by ``modern`` to get Debian sid's Go 1.26, the Kubernetes 1.36 Go source packages and
kubectl 1.36 on a bookworm machine. Its own apt configuration, sources, lists and cache live in
one folder that ``APT_CONFIG`` points at, so the system's sources, preferences and dpkg database
are never read or written: a system-wide trixie/sid source would offer upgrades of the whole
machine and make the v1.20 build's ``apt-get source kubernetes`` fetch the kubectl-only source
(docs/kubernetes-versions.md). The packages are unpacked with ``dpkg-deb -x`` into a folder, which
is all a Go build needs; nothing is configured or registered anywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import system
from .system import Progress

#: Go 1.26 and the Kubernetes 1.36 Go packages are in sid; trixie and its backports carry the
#: older dependencies some of the pinned versions still come from.
SUITES = ("trixie", "trixie-backports", "sid")


class AptError(RuntimeError):
    """apt or dpkg-deb failed; the message holds the command and the tail of its stderr."""


class MirrorError(AptError):
    """The mirror could not provide the packages (unreachable, or a suite or package missing).

    Told apart from every other failure so that a machine without a Debian mirror can skip what
    needs these packages, while a broken build still fails (``dev-cluster build-modern`` exits
    2 for this, 1 otherwise).
    """


@dataclass(frozen=True)
class Pin:
    """One ``package=version`` line of a pin list."""

    package: str
    version: str

    @classmethod
    def parse(cls, line: str) -> Pin:
        """``golang-k8s-api-dev=0.36.4-1`` (the format ``apt-get download`` takes)."""
        package, sep, version = line.strip().partition("=")
        if not sep or not package or not version:
            raise ValueError(f"not a package=version pin: {line!r}")
        return cls(package, version)

    def __str__(self) -> str:
        return f"{self.package}={self.version}"


def read_pins(path: Path) -> list[Pin]:
    """The pins of a file: one ``package=version`` a line; ``#`` comments and blanks skipped."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text("utf-8").splitlines())
    return [Pin.parse(line) for line in lines if line]


@dataclass(frozen=True)
class PrivateApt:
    """An apt setup confined to ``root`` (config, sources, lists, cache)."""

    root: Path

    @property
    def config_file(self) -> Path:
        """What ``APT_CONFIG`` names for every apt call made here."""
        return self.root / "apt.conf"

    def setup(self) -> None:
        """Write the configuration: the host's Debian mirror and key, suites ``SUITES``."""
        for sub in ("etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("lists/partial", "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # The same mirror and Signed-By the system uses: a machine that reaches only a local
        # mirror or a proxy keeps working, and every index is still verified with Debian's key.
        uris, keyring = system._debian_stanza()
        (self.root / "etc/sources.list.d/debian.sources").write_text(
            f"Types: deb\nURIs: {uris}\nSuites: {' '.join(SUITES)}\nComponents: main\n"
            f"Signed-By: {keyring}\n"
            # A snapshot mirror serves Release files past their Valid-Until date (sid's expires
            # after a week); signatures are still checked, only the freshness date is not.
            "Check-Valid-Until: no\n",
            encoding="utf-8",
        )
        self.config_file.write_text(self._config_text(), encoding="utf-8")

    def _config_text(self) -> str:
        root = self.root
        lines = [
            f'Dir::Etc "{root}/etc/";',
            # No sources.list at all: only our deb822 file, never the system's.
            'Dir::Etc::sourcelist "/dev/null";',
            f'Dir::Etc::sourceparts "{root}/etc/sources.list.d/";',
            f'Dir::State "{root}/";',
            f'Dir::State::lists "{root}/lists/";',
            # An empty dpkg status: apt must neither consider nor touch what the host has.
            'Dir::State::status "/dev/null";',
            f'Dir::Cache "{root}/cache/";',
            f'APT::Architecture "{_host_architecture()}";',
            f'APT::Architectures {{ "{_host_architecture()}"; }};',
            # Descriptions in other languages and AppStream data are never read here.
            'Acquire::Languages "none";',
            'Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";',
        ]
        if os.geteuid() == 0:
            # Our folders are under root's home, which the _apt user cannot enter; apt would fall
            # back to root after a warning anyway.
            lines.append('APT::Sandbox::User "root";')
        # The system's apt.conf.d is not read under APT_CONFIG with its own Dir::Etc: carry over
        # the proxy settings, the one thing a machine may need to reach the mirror at all.
        lines += _system_proxy_lines()
        return "\n".join(lines) + "\n"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "APT_CONFIG": str(self.config_file), "LC_ALL": "C"}

    def _run(
        self, argv: Sequence[str], cwd: Path | None = None, error: type[AptError] = AptError
    ) -> str:
        result = subprocess.run(
            list(argv), cwd=cwd, env=self._env(), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise error(f"`{' '.join(argv)}` failed ({result.returncode}):\n{tail}")
        return result.stdout

    def update(self) -> None:
        """``apt-get update`` of the private lists (a few seconds; ~125 MB of indexes)."""
        out = self._run(["apt-get", "update", "-q"], error=MirrorError)
        # apt exits 0 when a suite could not be fetched; a missing sid would surface later as
        # a confusing "no such package", so say it here.
        if "Err:" in out:
            errors = [line for line in out.splitlines() if line.startswith(("Err:", " "))]
            raise MirrorError("apt-get update could not fetch every suite:\n" + "\n".join(errors))

    def available(self, packages: Sequence[str]) -> dict[str, set[str]]:
        """Every version of each package any configured suite offers."""
        found: dict[str, set[str]] = {name: set() for name in packages}
        out = self._run(["apt-cache", "madison", *packages], error=MirrorError)
        for line in out.splitlines():
            parts = [part.strip() for part in line.split("|")]
            if len(parts) >= 2 and parts[0] in found:
                found[parts[0]].add(parts[1])
        return found

    def resolve(self, pins: Sequence[Pin], say: Progress) -> list[str]:
        """``apt-get download`` arguments: each pin, or the package alone if sid dropped it.

        sid moves on and removes old versions; the newest then usually builds as well
        (docs/kubernetes-versions.md), so it is taken and said, rather than failing the build.
        """
        offered = self.available([pin.package for pin in pins])
        specs = []
        for pin in pins:
            versions = offered[pin.package]
            if pin.version in versions:
                specs.append(str(pin))
            elif versions:
                say(
                    f"    {pin} is no longer in {'/'.join(SUITES)}; taking the newest "
                    f"({', '.join(sorted(versions))} offered)"
                )
                specs.append(pin.package)
            else:
                raise MirrorError(f"no suite of {'/'.join(SUITES)} has package {pin.package}")
        return specs

    def download(self, specs: Sequence[str], folder: Path) -> list[Path]:
        """``apt-get download`` into ``folder``; the .deb files fetched."""
        folder.mkdir(parents=True, exist_ok=True)
        self._run(["apt-get", "download", "-q", *specs], cwd=folder, error=MirrorError)
        debs = sorted(folder.glob("*.deb"))
        if len(debs) != len(specs):
            raise AptError(f"asked apt-get download for {len(specs)} packages, got {len(debs)}")
        return debs


def deb_version(deb: Path) -> tuple[str, str]:
    """``(package, version)`` from a .deb's control file."""
    result = subprocess.run(
        ["dpkg-deb", "--show", "--showformat=${Package}\t${Version}", str(deb)],
        capture_output=True,
        text=True,
        check=False,
    )
    package, _, version = result.stdout.partition("\t")
    if result.returncode != 0 or not version:
        raise AptError(f"dpkg-deb --show {deb.name} failed: {result.stderr.strip()}")
    return package, version


def extract(debs: Sequence[Path], target: Path) -> None:
    """``dpkg-deb -x`` each package into ``target``: files only, no maintainer script runs."""
    target.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        result = subprocess.run(
            ["dpkg-deb", "-x", str(deb), str(target)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise AptError(f"dpkg-deb -x {deb.name} failed: {result.stderr.strip()}")


def _host_architecture() -> str:
    result = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or "amd64"


_PROXY = re.compile(r'^(Acquire::(?:https?|ftp)::Proxy(?:::[^ ]+)?) "([^"]*)";$')


def _system_proxy_lines() -> list[str]:
    # `apt-config dump` without APT_CONFIG shows the system's merged configuration.
    env = {key: value for key, value in os.environ.items() if key != "APT_CONFIG"}
    result = subprocess.run(
        ["apt-config", "dump"], env=env, capture_output=True, text=True, check=False
    )
    return [line for line in result.stdout.splitlines() if _PROXY.match(line)]
