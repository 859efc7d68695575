"""The connection pool (which connection an object uses, credentials from its Secret, one
client per connection) and kopf's diff base read from status.handled: pure parts, no network
(a client is built, never called)."""

from __future__ import annotations

import base64
from typing import Any

import kopf
import pytest
from zstack_operator.connections import OPERATOR_DEFAULT, ConnectionPool, CredentialsError
from zstack_operator.connections.keys import from_shown, key_of, resolve, shown
from zstack_operator.connections.sources import from_object
from zstack_operator.handlers import HandledDiffBase
from zstack_operator.reconcile import handled_key
from zstack_operator.settings import SecretRef, Settings
from zstack_operator.zstack import known_secrets


class FakeKube:
    """get_secret only: each Secret's data and resourceVersion, changeable by the test."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads = 0

    def set(self, version: str, namespace: str = "ops", name: str = "zs", **data: str) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.secrets[(namespace, name)] = {
            "metadata": {"resourceVersion": version},
            "data": encoded,
        }

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.secrets.get((namespace, name))


def pool(kube: FakeKube, changes: list[str] | None = None) -> ConnectionPool:
    settings = Settings("https://zstack.example:8443", SecretRef("ops", "zs"))
    sink = changes if changes is not None else []
    return ConnectionPool(settings, kube, lambda _: [], on_change=sink.append)  # type: ignore[arg-type]


def connection(kind: str, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    meta = {"name": name, "generation": spec.pop("generation", 1)}
    if namespace:
        meta["namespace"] = namespace
    base = {"endpoint": "https://zs.team.example", "credentialsSecretRef": {"name": "creds"}}
    return {"metadata": meta, "spec": {**base, **spec}}


async def test_one_connection_is_built_once_and_shared() -> None:
    kube = FakeKube()
    kube.set("1", accountName="admin", password="s3cret-pass")
    p = pool(kube)
    first = await p.get(OPERATOR_DEFAULT, "team-a")
    assert await p.get(OPERATOR_DEFAULT, "team-b") is first
    assert kube.reads == 1
    assert known_secrets.mask("pw s3cret-pass") == "pw ***"
    await p.aclose()


async def test_a_missing_or_incomplete_secret_says_what_to_create() -> None:
    kube = FakeKube()
    p = pool(kube)
    with pytest.raises(CredentialsError, match="credentials Secret ops/zs of the operator's "
                       "default connection not found: create it") as missing:  # fmt: skip
        await p.get(OPERATOR_DEFAULT)
    assert missing.value.reason == "SecretNotFound"
    kube.set("1", accountName="admin")
    with pytest.raises(CredentialsError, match="accountName and password") as incomplete:
        await p.get(OPERATOR_DEFAULT)
    assert incomplete.value.reason == "SecretInvalid"


def test_resolution_order_explicit_then_pinned_then_namespace_default_then_operator() -> None:
    known = {key_of("ZStackConnection", "a", "default")}
    exists = known.__contains__
    ref = {"kind": "ClusterZStackConnection", "name": "shared"}
    assert resolve("a", ref, "ZStackConnection/x", exists) == "ClusterZStackConnection/shared"
    assert resolve("a", None, "ZStackConnection/x", exists) == "ZStackConnection/a/x"
    assert resolve("a", None, None, exists) == "ZStackConnection/a/default"
    assert resolve("b", None, None, exists) == OPERATOR_DEFAULT
    # Earlier releases documented {name: default} for the operator's own connection.
    assert resolve("b", {"name": "default"}, None, exists) == OPERATOR_DEFAULT
    assert resolve("b", {"name": "mine"}, None, exists) == "ZStackConnection/b/mine"
    assert shown("ZStackConnection/a/x") == "ZStackConnection/x"
    assert from_shown("a", "ZStackConnection/x") == "ZStackConnection/a/x"
    assert from_shown("a", OPERATOR_DEFAULT) == OPERATOR_DEFAULT


async def test_connections_are_checked_before_any_secret_is_read() -> None:
    kube = FakeKube()
    p = pool(kube)
    with pytest.raises(CredentialsError, match="ZStackConnection/zs does not exist in namespace a"):
        await p.get("ZStackConnection/a/zs", "a")
    p.put(from_object("ClusterZStackConnection", connection(
        "ClusterZStackConnection", "", "shared", allowedNamespaces=["a"]), "ops"))  # fmt: skip
    with pytest.raises(CredentialsError, match="not offered to namespace b") as refused:
        await p.get("ClusterZStackConnection/shared", "b")
    assert refused.value.reason == "NotOffered"
    p.put(from_object("ZStackConnection", connection(
        "ZStackConnection", "a", "lab", endpoint="http://zs.lab"), "ops"))  # fmt: skip
    with pytest.raises(CredentialsError, match="ZStackConnection/lab") as insecure:
        await p.get("ZStackConnection/a/lab", "a")
    assert insecure.value.reason == "InsecureEndpoint"
    assert "spec.allowInsecureHTTP: true" in str(insecure.value)  # its own opt-in, not a flag
    assert "user" not in str(insecure.value)
    assert kube.reads == 0


async def test_a_cluster_connection_reads_its_secret_in_the_operators_namespace() -> None:
    kube = FakeKube()
    kube.set("7", namespace="ops", name="creds", accountName="team", password="team-password")
    p = pool(kube)
    p.put(from_object("ClusterZStackConnection", connection(
        "ClusterZStackConnection", "", "shared", allowedNamespaces=["*"]), "ops"))  # fmt: skip
    conn = await p.get("ClusterZStackConnection/shared", "anywhere")
    assert conn.secret_version == "7"
    await p.aclose()


async def test_secret_and_resource_changes_drop_the_client_and_say_which_connection() -> None:
    """Objects waiting for a connection are woken by these notices (no drift tick)."""
    kube, changes = FakeKube(), []
    kube.set("1", namespace="a", name="creds", accountName="t", password="old-password")
    p = pool(kube, changes)
    p.put(from_object("ZStackConnection", connection("ZStackConnection", "a", "zs"), "ops"))
    assert changes == ["ZStackConnection/a/zs"]
    before = await p.get("ZStackConnection/a/zs", "a")
    assert p.secret_changed("a", "creds", "1") == []  # the version it was built from
    kube.set("2", namespace="a", name="creds", accountName="t", password="new-password")
    assert p.secret_changed("a", "creds", "2") == ["ZStackConnection/a/zs"]
    after = await p.get("ZStackConnection/a/zs", "a")
    assert after is not before
    assert after.secret_version == "2"
    p.put(from_object("ZStackConnection", connection(
        "ZStackConnection", "a", "zs", generation=2, maxInFlight=4), "ops"))  # fmt: skip
    assert changes[-1] == "ZStackConnection/a/zs"
    assert (await p.get("ZStackConnection/a/zs", "a")).source.max_in_flight == 4
    p.remove("ZStackConnection/a/zs")
    with pytest.raises(CredentialsError, match="does not exist"):
        await p.get("ZStackConnection/a/zs", "a")
    await p.aclose()


def body(generation: int, annotations: dict[str, str], handled: str | None) -> kopf.Body:
    status = {"handled": handled} if handled else {}
    raw = {
        "apiVersion": "ai.zstack.io/v1alpha1",
        "kind": "ModelService",
        "metadata": {"name": "n", "namespace": "ns", "generation": generation,
                     "annotations": annotations},
        "spec": {"yaml": "x"},
        "status": status,
    }  # fmt: skip
    return kopf.Body(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("generation", "annotations", "handled", "diff"),
    [
        (1, {}, None, "create"),
        (1, {}, handled_key(1, {}), "none"),
        (2, {}, handled_key(1, {}), "update"),
        (1, {"ai.zstack.io/paused": "true"}, handled_key(1, {}), "update"),
        (1, {"ai.zstack.io/reconcile-requested-at": "now"}, handled_key(1, {}), "update"),
        (1, {"team": "a"}, handled_key(1, {}), "none"),
    ],
    ids=["new", "handled", "spec-changed", "paused", "requested", "other-annotation"],
)
def test_the_diff_base_is_derived_from_status_handled(
    generation: int, annotations: dict[str, str], handled: str | None, diff: str
) -> None:
    """kopf keeps no annotation of its own: the pass's status write is the diff base."""
    storage = HandledDiffBase()
    b = body(generation, annotations, handled)
    base = storage.fetch(body=b)
    if diff == "create":
        assert base is None
    elif diff == "none":
        assert base == storage.build(body=b)
    else:
        assert base is not None
        assert base != storage.build(body=b)
    patch = kopf.Patch()
    storage.store(body=b, patch=patch, essence=storage.build(body=b))
    assert not patch
