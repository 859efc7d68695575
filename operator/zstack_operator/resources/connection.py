"""The ZStackConnection and ClusterZStackConnection resources: names, vocabulary and spec.

Owned here: the kind/plural/short-name constants of both connection kinds, their finalizer, the
reasons of their Ready condition (``ConnectionReason``), and the spec models: a ZStack
endpoint, the Secret holding its login, TLS settings, the request cap and the adoption policy
(``ZStackConnectionSpec``), plus, for the cluster-scoped kind, the namespaces it is offered to
(``ClusterZStackConnectionSpec``). Field descriptions, limits, patterns and CEL rules here ARE
the CRD schemas: ``crdgen`` renders ``crds/zstackconnection.yaml`` and
``crds/clusterzstackconnection.yaml`` from them. The status and the whole objects live in
``connectionstatus``.

The models validate shape only. Refusing an ``http://`` endpoint without ``allowInsecureHTTP``
is the CRD's CEL rule on Kubernetes 1.25+ and the operator's runtime check everywhere (reason
``InsecureEndpoint``), so a spec stored by an older API server still reads back here and can be
reported on: see ``ZStackConnectionSpec.insecure_http_refused``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic.config import JsonDict

from zstack_operator.resources.common import CrdModel

CONNECTION_KIND = "ZStackConnection"
CONNECTION_PLURAL = "zstackconnections"
CONNECTION_SINGULAR = "zstackconnection"
CONNECTION_SHORT_NAMES = ["zsconn"]
CLUSTER_CONNECTION_KIND = "ClusterZStackConnection"
CLUSTER_CONNECTION_PLURAL = "clusterzstackconnections"
CLUSTER_CONNECTION_SINGULAR = "clusterzstackconnection"
CLUSTER_CONNECTION_SHORT_NAMES = ["czsconn"]

#: The one ``allowedNamespaces`` entry that offers a ClusterZStackConnection to every namespace.
ALL_NAMESPACES = "*"
#: The Secret keys of the two kinds of ZStack login; a credentials Secret holds one pair.
ACCOUNT_KEYS = ("accountName", "password")
ACCESS_KEY_KEYS = ("accessKeyId", "accessKeySecret")

MAX_ENDPOINT = 2048
MAX_CA_BUNDLE = 65536
MAX_IN_FLIGHT = 256
DEFAULT_MAX_IN_FLIGHT = 16
MAX_ALLOWED_NAMESPACES = 256
#: DNS-1123 subdomain (Secret names) and label (namespace names), as Kubernetes checks them.
DNS1123_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

#: What the CEL rule and the operator's runtime check say about a refused http:// endpoint.
INSECURE_HTTP_MESSAGE = (
    "an http:// endpoint sends the password hash and session ids in clear text: use https://, "
    "or set allowInsecureHTTP: true (labs only)"
)
_INSECURE_HTTP_RULE: JsonDict = {
    "rule": "!self.endpoint.startsWith('http://') || self.allowInsecureHTTP",
    "message": INSECURE_HTTP_MESSAGE,
}
_ALL_ALONE_MESSAGE = f"'{ALL_NAMESPACES}' (every namespace) must be the only entry"
_ALL_ALONE_RULE: JsonDict = {
    "rule": f"!self.exists(n, n == '{ALL_NAMESPACES}') || size(self) == 1",
    "message": _ALL_ALONE_MESSAGE,
}


class ConnectionReason(StrEnum):
    """Reasons of a connection's Ready condition: True only with CONNECTED.

    The same reasons carry Stalled (the terminal ones) and Reconciling (the others), the kstatus
    conditions ModelService keeps too.
    """

    #: The operator logged in (or signed a request) and read ZStack's version.
    CONNECTED = "Connected"
    #: Not checked yet for this generation.
    CONNECTING = "Connecting"
    #: ZStack refused the login (wrong password or key, disabled account).
    LOGIN_FAILED = "LoginFailed"
    #: The credentials Secret does not exist (or the operator may not read it).
    SECRET_NOT_FOUND = "SecretNotFound"  # noqa: S105 (a reason, not a secret)
    #: The Secret holds neither accountName + password nor accessKeyId + accessKeySecret.
    SECRET_INVALID = "SecretInvalid"  # noqa: S105
    #: The endpoint did not answer, or answered with something other than ZStack.
    UNREACHABLE = "Unreachable"
    #: The endpoint's TLS certificate did not verify against the system CAs or caBundle.
    TLS_VERIFY_FAILED = "TLSVerifyFailed"
    #: An http:// endpoint without allowInsecureHTTP: the operator does not send it a login.
    INSECURE_ENDPOINT = "InsecureEndpoint"
    #: The spec breaks a rule the API server did not enforce (CEL needs Kubernetes 1.25+).
    INVALID_SPEC = "InvalidSpec"
    #: Deletion is waiting: ModelServices still use this connection.
    IN_USE = "InUse"


#: Reasons nothing fixes but a change to the spec or the Secret (Stalled; Argo CD: Degraded).
#: SecretNotFound is not one: a GitOps sync often creates the Secret after the connection.
CONNECTION_TERMINAL_REASONS = frozenset(
    {
        ConnectionReason.LOGIN_FAILED,
        ConnectionReason.SECRET_INVALID,
        ConnectionReason.TLS_VERIFY_FAILED,
        ConnectionReason.INSECURE_ENDPOINT,
        ConnectionReason.INVALID_SPEC,
    }
)

#: A namespace name as ``allowedNamespaces`` takes it: a DNS-1123 label, or ``*``.
AllowedNamespace = Annotated[
    str,
    Field(pattern=rf"^(\{ALL_NAMESPACES}|{DNS1123_LABEL_PATTERN[1:-1]})$", max_length=63),
]


class SecretRef(CrdModel):
    """A Secret named by a connection; its namespace follows from the connection's kind."""

    name: str = Field(
        description="Name of the Secret (a DNS-1123 subdomain). It holds the keys accountName "
        "and password, or accessKeyId and accessKeySecret.",
        min_length=1,
        max_length=253,
        pattern=DNS1123_SUBDOMAIN_PATTERN,
    )


class ZStackConnectionSpec(CrdModel):
    """Desired state of a ZStackConnection: where ZStack is and how to log in to it.

    Integers and booleans are strict, as the API server's schema is.
    """

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [_INSECURE_HTTP_RULE]})

    endpoint: str = Field(
        pattern=r"^https?://",
        max_length=MAX_ENDPOINT,
        description="URL of the ZStack management node's API, for example "
        "https://zstack.example.com or http://10.0.0.5:8080 (the latter only with "
        "allowInsecureHTTP).",
    )
    credentials_secret_ref: SecretRef = Field(
        description="The Secret in this object's namespace holding the ZStack login: "
        "accountName and password, or accessKeyId and accessKeySecret.",
    )
    ca_bundle: str | None = Field(
        default=None,
        max_length=MAX_CA_BUNDLE,
        description="PEM-encoded CA certificates to verify the endpoint's TLS certificate with, "
        "instead of the system's. Ignored for http:// endpoints.",
    )
    insecure_skip_tls_verify: StrictBool = Field(
        default=False,
        alias="insecureSkipTLSVerify",
        description="Skip verifying the endpoint's TLS certificate (the operator logs a "
        "warning). Test setups only: anyone on the path can then read the login.",
    )
    allow_insecure_http: StrictBool = Field(
        default=False,
        alias="allowInsecureHTTP",
        description="Allow an http:// endpoint. Without it such an endpoint is refused, because "
        "the password hash and session ids would cross the network in clear text. For labs.",
    )
    max_in_flight: StrictInt = Field(
        default=DEFAULT_MAX_IN_FLIGHT,
        ge=1,
        le=MAX_IN_FLIGHT,
        description="Most ZStack requests in flight at once through this connection, across "
        "all ModelServices using it.",
        json_schema_extra={"format": "int32"},
    )
    allow_adoption: StrictBool = Field(
        default=False,
        description="Whether ModelServices using this connection may adopt ZStack model "
        "services the operator did not create (their spec.adoptionPolicy Adopt). Off: they "
        "manage only services they created.",
    )
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$",
        description="The management node's time zone: an IANA name such as Asia/Shanghai, or "
        "auto (the default: ask the node, GetPlatformTimeZone). ZStack prints dates in it "
        "without saying so, and by default checks an AccessKey request's Date header against "
        "its local wall clock, ignoring the zone: with the wrong zone, dates in status are off "
        "by the difference and every AccessKey request fails with requestTimeTooSkewed.",
    )

    def insecure_http_refused(self) -> bool:
        """Whether the endpoint is http:// without the opt-in (the CEL rule, checked here)."""
        return self.endpoint.startswith("http://") and not self.allow_insecure_http


class ClusterZStackConnectionSpec(ZStackConnectionSpec):
    """Desired state of a ClusterZStackConnection: a connection offered to chosen namespaces."""

    credentials_secret_ref: SecretRef = Field(
        description="The Secret in the operator's namespace holding the ZStack login: "
        "accountName and password, or accessKeyId and accessKeySecret. Tenants need no "
        "access to it: the namespaces in allowedNamespaces use the connection, not the Secret.",
    )
    allowed_namespaces: list[AllowedNamespace] = Field(
        min_length=1,
        max_length=MAX_ALLOWED_NAMESPACES,
        description="Namespaces whose ModelServices may use this connection, or the single "
        f"entry '{ALL_NAMESPACES}' for every namespace.",
        json_schema_extra={
            "x-kubernetes-list-type": "set",
            "x-kubernetes-validations": [_ALL_ALONE_RULE],
        },
    )

    @field_validator("allowed_namespaces")
    @classmethod
    def _a_set_with_star_alone(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("allowedNamespaces lists a namespace twice")
        if ALL_NAMESPACES in value and len(value) > 1:
            raise ValueError(_ALL_ALONE_MESSAGE)
        return value

    def offered_to(self, namespace: str) -> bool:
        """Whether ModelServices in ``namespace`` may use this connection."""
        return ALL_NAMESPACES in self.allowed_namespaces or namespace in self.allowed_namespaces
