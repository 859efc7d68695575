"""What a connection is made of, from a ZStackConnection, a ClusterZStackConnection or flags.

Owned here: ``Source`` (endpoint, Secret, TLS, request cap, adoption and namespace policy of
one connection, with the generation it was read at) and ``Registry``, the operator's in-memory
view of every connection resource, kept current by the connection handlers. Parsing is lenient
about extra fields and strict about what matters: a spec that cannot be used becomes a Source
whose ``problem`` says why, so ModelServices using it report that instead of a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..resources.spec import ConnectionKind
from ..settings import Settings
from .keys import OPERATOR_DEFAULT, key_of, shown


@dataclass(frozen=True)
class Source:
    """One connection's configuration."""

    key: str
    endpoint: str
    secret_namespace: str
    secret_name: str
    ca_bundle: str | None = None
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    allow_http: bool = False
    max_in_flight: int = 16
    allow_adoption: bool = False
    #: The management node's IANA time zone, or "auto": ask the node (``zstack.autozone``).
    time_zone: str = "auto"
    #: Namespaces a cluster connection is offered to (``*``: all); None for the other kinds.
    allowed_namespaces: tuple[str, ...] | None = None
    generation: int = 0
    #: Why this connection cannot be used as written (a bad spec), or None.
    problem: str | None = None

    @property
    def secret(self) -> tuple[str, str]:
        """(namespace, name) of the credentials Secret."""
        return self.secret_namespace, self.secret_name

    @property
    def label(self) -> str:
        """How messages name the connection."""
        return (
            "the operator's default connection" if self.key == OPERATOR_DEFAULT else shown(self.key)
        )

    def offered_to(self, namespace: str) -> bool:
        """Whether ModelServices in ``namespace`` may use this connection."""
        allowed = self.allowed_namespaces
        return allowed is None or "*" in allowed or namespace in allowed


def from_settings(settings: Settings) -> Source:
    """The operator's own connection."""
    ref = settings.credentials_secret
    return Source(
        key=OPERATOR_DEFAULT,
        endpoint=settings.endpoint,
        secret_namespace=ref.namespace,
        secret_name=ref.name,
        ca_file=str(settings.ca_bundle) if settings.ca_bundle else None,
        insecure_skip_tls_verify=settings.insecure_skip_tls_verify,
        allow_http=settings.allow_insecure_http,
        max_in_flight=settings.max_in_flight,
        allow_adoption=settings.allow_adoption,
        time_zone=settings.time_zone,
    )


def _flag(spec: Mapping[str, Any], key: str) -> bool:
    return spec.get(key) is True


def from_object(kind: str, body: Mapping[str, Any], operator_namespace: str) -> Source:
    """A Source from a connection object as the API server returns it."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    namespace = str(meta.get("namespace") or "")
    key = key_of(kind, namespace, str(meta.get("name") or ""))
    secret = (spec.get("credentialsSecretRef") or {}).get("name")
    problem = None
    if not spec.get("endpoint"):
        problem = "spec.endpoint is missing"
    elif not secret:
        problem = "spec.credentialsSecretRef.name is missing"
    allowed: tuple[str, ...] | None = None
    if kind == ConnectionKind.CLUSTER:
        allowed = tuple(str(ns) for ns in spec.get("allowedNamespaces") or ())
    cap = spec.get("maxInFlight")
    return Source(
        key=key,
        endpoint=str(spec.get("endpoint") or "").rstrip("/"),
        secret_namespace=operator_namespace if kind == ConnectionKind.CLUSTER else namespace,
        secret_name=str(secret or ""),
        ca_bundle=spec.get("caBundle") or None,
        insecure_skip_tls_verify=_flag(spec, "insecureSkipTLSVerify"),
        allow_http=_flag(spec, "allowInsecureHTTP"),
        max_in_flight=cap if isinstance(cap, int) and 1 <= cap <= 256 else 16,
        allow_adoption=_flag(spec, "allowAdoption"),
        time_zone=str(spec.get("timeZone") or "auto"),
        allowed_namespaces=allowed,
        generation=int(meta.get("generation") or 0),
        problem=problem,
    )


class Registry:
    """Every known connection by key; the operator's own one is always there."""

    def __init__(self, default: Source) -> None:
        self._sources: dict[str, Source] = {default.key: default}

    def get(self, key: str) -> Source | None:
        """The connection of ``key``, None when no such resource exists (now)."""
        return self._sources.get(key)

    def exists(self, key: str) -> bool:
        """Whether a connection of this key is known."""
        return key in self._sources

    def put(self, source: Source) -> Source | None:
        """Add or replace a connection; the one it replaced."""
        old = self._sources.get(source.key)
        self._sources[source.key] = source
        return old

    def remove(self, key: str) -> Source | None:
        """Forget a deleted connection (never the operator's own)."""
        return None if key == OPERATOR_DEFAULT else self._sources.pop(key, None)

    def using_secret(self, namespace: str, name: str) -> list[Source]:
        """The connections whose credentials are this Secret."""
        return [s for s in self._sources.values() if s.secret == (namespace, name)]

    def secrets(self) -> set[tuple[str, str]]:
        """Every Secret some connection reads."""
        return {s.secret for s in self._sources.values() if s.secret_name}

    def all(self) -> list[Source]:
        """Every known connection."""
        return list(self._sources.values())
