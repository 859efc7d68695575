"""Operator configuration: ``zstack-operator run`` flags, their environment equivalents, checks.

Every setting has a flag and an environment variable (flags win), so the same image works from
Helm values, kustomize patches and a shell. ``load_settings`` turns bad configuration into one
``ConfigError`` line that the CLI prints before exiting, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .endpoints import EndpointError, check_endpoint

_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


class ConfigError(ValueError):
    """The operator cannot start with this configuration; the message says what to fix."""


@dataclass(frozen=True)
class SecretRef:
    """Where the ZStack credentials live: a Secret in some namespace."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Settings:
    """Everything ``zstack-operator run`` needs, validated."""

    endpoint: str
    credentials_secret: SecretRef
    namespaces: tuple[str, ...] = ()
    ca_bundle: Path | None = None
    insecure_skip_tls_verify: bool = False
    #: Accept a plain-http endpoint (warned about at start-up); https only otherwise.
    allow_insecure_http: bool = False
    #: Whether ModelServices on the operator's default connection may adopt ZStack services
    #: that already exist (ones the object did not create).
    allow_adoption: bool = False
    #: The management node's IANA time zone, or "auto" to ask the node; ``--zstack-time-zone``.
    time_zone: str = "auto"
    drift_interval: float = 600.0
    max_in_flight: int = 16
    health_address: str = "0.0.0.0:8080"
    log_format: str = "text"
    log_level: str = "INFO"
    #: How long one handler call polls a ZStack job before yielding back to kopf.
    job_wait: float = 20.0
    #: Leader election (leader.py): the Lease ``namespace/name`` and this replica's identity
    #: ("": a new one per process); ``leader_elect`` False runs without a Lease.
    leader_elect: bool = True
    lease_namespace: str = ""
    lease_name: str = "zstack-operator"
    identity: str = ""
    lease_duration: float = 15.0

    @property
    def cluster_wide(self) -> bool:
        """True when no namespace is named: watch ModelServices in every namespace."""
        return not self.namespaces

    @property
    def verify(self) -> bool | str:
        """The httpx ``verify`` argument for the ZStack endpoint."""
        if self.insecure_skip_tls_verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True


ENV = {
    "namespaces": "ZSTACK_OPERATOR_NAMESPACES",
    "endpoint": "ZSTACK_ENDPOINT",
    "credentials_secret": "ZSTACK_CREDENTIALS_SECRET",
    "ca_bundle": "ZSTACK_CA_BUNDLE",
    "insecure_skip_tls_verify": "ZSTACK_INSECURE_SKIP_TLS_VERIFY",
    "allow_insecure_http": "ZSTACK_ALLOW_INSECURE_HTTP",
    "allow_adoption": "ZSTACK_ALLOW_ADOPTION",
    "time_zone": "ZSTACK_TIME_ZONE",
    "drift_interval": "ZSTACK_DRIFT_INTERVAL",
    "max_in_flight": "ZSTACK_MAX_IN_FLIGHT",
    "health_address": "ZSTACK_OPERATOR_HEALTH_ADDRESS",
    "log_format": "ZSTACK_OPERATOR_LOG_FORMAT",
    "log_level": "ZSTACK_OPERATOR_LOG_LEVEL",
    "leader_elect": "ZSTACK_OPERATOR_LEADER_ELECT",
    "lease_namespace": "ZSTACK_OPERATOR_LEASE_NAMESPACE",
    "lease_name": "ZSTACK_OPERATOR_LEASE_NAME",
    "identity": "ZSTACK_OPERATOR_IDENTITY",
    "lease_duration": "ZSTACK_OPERATOR_LEASE_DURATION",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``run`` flags; defaults are None so the environment can fill them."""
    add = parser.add_argument
    add("--namespace", dest="namespaces", action="append", metavar="NS",
        help="watch this namespace (repeatable; default: all namespaces) "
             f"[{ENV['namespaces']}, comma-separated]")  # fmt: skip
    add("--zstack-endpoint", dest="endpoint", metavar="URL",
        help=f"ZStack management node, e.g. https://zstack:8443 [{ENV['endpoint']}]")  # fmt: skip
    add("--credentials-secret", metavar="NAMESPACE/NAME",
        help="Secret with accountName+password or accessKeyId+accessKeySecret "
             f"[{ENV['credentials_secret']}]")  # fmt: skip
    add("--ca-bundle", metavar="PATH", help=f"CA bundle for ZStack's TLS [{ENV['ca_bundle']}]")
    add("--insecure-skip-tls-verify", action="store_const", const="true", default=None,
        help=f"do not verify ZStack's TLS certificate (logs a warning) "
             f"[{ENV['insecure_skip_tls_verify']}=true]")  # fmt: skip
    add("--allow-insecure-http", action="store_const", const="true", default=None,
        help="accept a plain http:// endpoint; the password hash and session ids then "
             "cross the network unencrypted (logs a warning) "
             f"[{ENV['allow_insecure_http']}=true]")  # fmt: skip
    add("--allow-adoption", action="store_const", const="true", default=None,
        help="let ModelServices on the default connection adopt ZStack services that "
             f"already exist (default: off) [{ENV['allow_adoption']}=true]")  # fmt: skip
    add("--zstack-time-zone", dest="time_zone", metavar="ZONE",
        help="the management node's time zone, e.g. Asia/Shanghai, or auto (default: ask "
             "the node): ZStack prints dates in it and checks AccessKey request dates against "
             f"its local clock [{ENV['time_zone']}]")  # fmt: skip
    add(
        "--drift-interval",
        metavar="SECONDS",
        help=f"how often ZStack is re-read for drift (default 600) [{ENV['drift_interval']}]",
    )
    add(
        "--max-in-flight",
        metavar="N",
        help=f"cap on concurrent ZStack requests (default 16) [{ENV['max_in_flight']}]",
    )
    add("--health-address", metavar="HOST:PORT",
        help="serve /healthz, /readyz and /metrics here (default 0.0.0.0:8080; empty disables) "
             f"[{ENV['health_address']}]")  # fmt: skip
    add("--log-format", choices=("text", "json"), help=f"[{ENV['log_format']}]")
    add("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help=f"[{ENV['log_level']}]")
    add("--leader-elect", choices=("true", "false"),
        help="hold a Lease so that of several replicas exactly one acts (default true) "
             f"[{ENV['leader_elect']}]")  # fmt: skip
    add("--lease-namespace", metavar="NS",
        help="namespace of the leader-election Lease (default: $POD_NAMESPACE, else the "
             f"credentials Secret's) [{ENV['lease_namespace']}]")  # fmt: skip
    add(
        "--lease-name",
        metavar="NAME",
        help=f"name of the Lease (default zstack-operator) [{ENV['lease_name']}]",
    )
    add("--identity", metavar="ID",
        help="this replica's name in the Lease (default: $POD_NAME, else HOST-RANDOM) "
             f"[{ENV['identity']}]")  # fmt: skip
    add("--lease-duration", metavar="SECONDS",
        help="how long a leader that stopped renewing keeps the Lease before a standby "
             f"takes over (default 15) [{ENV['lease_duration']}]")  # fmt: skip


def _pick(args: argparse.Namespace, env: Mapping[str, str], key: str) -> str | None:
    value = getattr(args, key, None)
    if value is not None:
        return str(value)
    return env.get(ENV[key]) or None


def _number(text: str | None, key: str, default: float, *, minimum: float) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{key} must be a number, got {text!r}") from None
    if value < minimum:
        raise ConfigError(f"{key} must be at least {minimum:g}, got {text}")
    return value


def _flag(text: str | None, key: str) -> bool:
    if text is None:
        return False
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{key} must be true or false, got {text!r}")


def _namespaces(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, ...]:
    given: Sequence[str] | None = getattr(args, "namespaces", None)
    raw = list(given) if given else (env.get(ENV["namespaces"]) or "").split(",")
    return tuple(dict.fromkeys(ns.strip() for ns in raw if ns.strip()))


def load_settings(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Merge flags and environment into validated Settings, or raise ConfigError."""
    env = os.environ if env is None else env
    endpoint = _pick(args, env, "endpoint")
    if not endpoint:
        raise ConfigError(f"no ZStack endpoint: pass --zstack-endpoint or set {ENV['endpoint']}")
    allow_http = _flag(_pick(args, env, "allow_insecure_http"), "allow-insecure-http")
    try:
        endpoint = check_endpoint(endpoint, allow_http=allow_http)
    except EndpointError as exc:
        raise ConfigError(str(exc)) from None
    secret = _pick(args, env, "credentials_secret")
    if not secret:
        raise ConfigError(
            "no credentials Secret: pass --credentials-secret NAMESPACE/NAME "
            f"or set {ENV['credentials_secret']}"
        )
    namespace, _, name = secret.partition("/")
    if not namespace or not name or "/" in name:
        raise ConfigError(f"credentials Secret must be NAMESPACE/NAME, got {secret!r}")
    ca = _pick(args, env, "ca_bundle")
    if ca and not Path(ca).is_file():
        raise ConfigError(f"CA bundle {ca} does not exist or is not a file")
    log_format = (_pick(args, env, "log_format") or "text").lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"log format must be text or json, got {log_format!r}")
    log_level = (_pick(args, env, "log_level") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log level must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    zone = _pick(args, env, "time_zone") or "auto"
    if zone != "auto":
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {zone!r}: use an IANA name such as Asia/Shanghai or UTC, "
                "or auto"
            ) from None
    health = _pick(args, env, "health_address")
    health = "0.0.0.0:8080" if health is None else health
    if health and (":" not in health or not health.rpartition(":")[2].isdigit()):
        raise ConfigError(f"health address must be HOST:PORT, got {health!r}")
    lease_name = _pick(args, env, "lease_name") or "zstack-operator"
    if not _DNS_NAME.fullmatch(lease_name):
        raise ConfigError(f"lease name must be a DNS subdomain name, got {lease_name!r}")
    return Settings(
        endpoint=endpoint,
        credentials_secret=SecretRef(namespace, name),
        namespaces=_namespaces(args, env),
        ca_bundle=Path(ca) if ca else None,
        insecure_skip_tls_verify=_flag(
            _pick(args, env, "insecure_skip_tls_verify"), "insecure-skip-tls-verify"
        ),
        allow_insecure_http=allow_http,
        allow_adoption=_flag(_pick(args, env, "allow_adoption"), "allow-adoption"),
        time_zone=zone,
        drift_interval=_number(
            _pick(args, env, "drift_interval"), "drift interval", 600.0, minimum=1
        ),
        max_in_flight=int(
            _number(_pick(args, env, "max_in_flight"), "max in flight", 16, minimum=1)
        ),
        health_address=health,
        log_format=log_format,
        log_level=log_level,
        leader_elect=_flag(_pick(args, env, "leader_elect") or "true", "leader-elect"),
        lease_namespace=(
            _pick(args, env, "lease_namespace") or env.get("POD_NAMESPACE") or namespace
        ),
        lease_name=lease_name,
        identity=_pick(args, env, "identity") or env.get("POD_NAME") or "",
        lease_duration=_number(
            _pick(args, env, "lease_duration"), "lease duration", 15.0, minimum=3
        ),
    )
