"""Identities of the dev cluster: service-account key pair, static tokens, kubeconfig files.

Used by ``cluster.DevCluster.start``. Tokens are random per cluster, live only in files of mode
0600 inside the state dir, and never appear in reprs, logs or exception text.
"""

from __future__ import annotations

import base64
import csv
import os
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ADMIN = "admin"


@dataclass(frozen=True)
class User:
    """A token-authenticated user of the static token file."""

    name: str
    groups: tuple[str, ...]
    token: str = field(repr=False)


def new_users() -> tuple[User, ...]:
    """The cluster's users with fresh tokens.

    ``admin`` is in ``system:masters`` (RBAC cannot deny it); ``zstack-operator`` and
    ``viewer`` have no groups besides ``system:authenticated``, so tests see exactly what RBAC
    grants them (the cluster binds ``viewer`` to the built-in ``view`` ClusterRole).
    """
    return (
        User(ADMIN, ("system:masters",), secrets.token_hex(24)),
        User("zstack-operator", (), secrets.token_hex(24)),
        User("viewer", (), secrets.token_hex(24)),
    )


def _private_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_token_file(path: Path, users: Sequence[User]) -> None:
    """The ``--token-auth-file`` CSV: ``token,user,uid[,"group1,group2"]``."""
    lines = []
    for user in users:
        row = f"{user.token},{user.name},{user.name}"
        if user.groups:
            row += f',"{",".join(user.groups)}"'
        lines.append(row)
    _private_file(path, "\n".join(lines) + "\n")


def read_token_file(path: Path) -> tuple[User, ...]:
    """The users back from a ``--token-auth-file`` CSV, in file order (admin first)."""
    users = []
    for row in csv.reader(path.read_text(encoding="utf-8").splitlines()):
        if len(row) >= 3:
            groups = tuple(g for g in row[3].split(",") if g) if len(row) > 3 else ()
            users.append(User(row[1], groups, row[0]))
    return tuple(users)


def read_admin_token(path: Path) -> str:
    """The admin token back from the token file (for probes after ``attach``)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        token, name, *_ = line.split(",")
        if name == ADMIN:
            return token
    raise LookupError(f"no {ADMIN} user in {path}")


def write_service_account_keys(private_key: Path, public_key: Path) -> None:
    """An RSA key pair: the API server verifies and the controller-manager signs SA tokens."""
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private_key), "2048"], capture_output=True, check=True
    )
    private_key.chmod(0o600)
    subprocess.run(
        ["openssl", "rsa", "-in", str(private_key), "-pubout", "-out", str(public_key)],
        capture_output=True,
        check=True,
    )


def kubeconfig_name(user: str) -> str:
    """``kubeconfig`` for the admin, ``kubeconfig-<user>`` for everyone else."""
    return "kubeconfig" if user == ADMIN else f"kubeconfig-{user}"


def write_kubeconfig(path: Path, server: str, ca_pem: bytes, user: User) -> None:
    """A self-contained kubeconfig (CA embedded) that kubectl, kopf and clients accept."""
    context = f"dev-cluster-{user.name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "dev-cluster",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user.name, "user": {"token": user.token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": "dev-cluster", "user": user.name, "namespace": "default"},
            }
        ],
        "current-context": context,
        "preferences": {},
    }
    _private_file(path, yaml.safe_dump(config, sort_keys=False))
