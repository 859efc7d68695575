"""Tenancy end to end: connections per namespace, ownership of ZStack services, adoption.

Real API server, one simulator process with an admin and normal accounts, the operator
watching two namespaces. Each case asserts on status, Events and the simulator's own view of
who owns what (its admin API), never on what the operator says about itself alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.e2e.test_operator import apply, cond, ready, reasons, sample, wait_cond
from tests.support.kube import Kube
from tests.support.operator_fixtures import PASSWORD, SimClient, secret_yaml

pytestmark = pytest.mark.e2e

TEAM_A_PW, TEAM_B_PW = "team-a-Pw-55e1", "team-b-Pw-83c7"


@pytest.fixture
def other_namespace(kube: Kube, namespace: str) -> Iterator[str]:
    name = f"{namespace[:50]}-b"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def connection(namespace: str, name: str, secret: str, url: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ai.zstack.io/v1alpha1",
        "kind": "ZStackConnection",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "endpoint": url,
            "credentialsSecretRef": {"name": secret},
            "allowInsecureHTTP": True,  # the simulator serves plain http on loopback
            **spec,
        },
    }


def tenant(
    kube: Kube, zstack: SimClient, namespace: str, account: str, pw: str, **spec: Any
) -> str:
    """A ZStack account and the namespace's default connection to it; the account uuid."""
    uuid = zstack.create_account(account, pw)
    kube.apply(
        secret_yaml(namespace, {"accountName": account, "password": pw}, "zs"), namespace=namespace
    )
    kube.apply(
        yaml.safe_dump(connection(namespace, "default", "zs", zstack.url, **spec)),
        namespace=namespace,
    )
    wait_conn(kube, namespace, "default", "True")
    return uuid


def wait_conn(
    kube: Kube, namespace: str, name: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = kube.get_or_none("zstackconnection", name, namespace)
        c = cond(obj or {}, "Ready")
        ok = c.get("status") == status and (reason is None or c.get("reason") == reason)
        return obj if obj is not None and ok else None

    return kube.wait_until(
        check, timeout=60, message=f"connection {name}: Ready={status} {reason or ''}"
    )


def named(object_name: str, **spec: Any) -> dict[str, Any]:
    doc = sample(**spec)
    doc["metadata"]["name"] = object_name
    return doc


def delete(kube: Kube, namespace: str, name: str, *, wait: bool = True) -> None:
    kube.kubectl(
        "-n",
        namespace,
        "delete",
        "modelservice",
        name,
        f"--wait={str(wait).lower()}",
        "--timeout=60s",
        timeout=90,
    )


# --- one namespace, the operator's own (admin) connection ----------------------------------------


def test_refused_adoption_and_copied_uuid_never_touch_the_existing_service(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    first = ready(kube, namespace, apply(kube, namespace, named("first")))
    uuid = first["status"]["uuid"]
    # A copied manifest: the same resourceUuid from a second object (Adopt is no excuse).
    apply(kube, namespace, named("copy", resourceUuid=uuid, adoptionPolicy="Adopt"))
    copy = wait_cond(kube, namespace, "copy", "Synced", "False", "NotOwned")
    assert "belongs to ModelService first" in cond(copy, "Synced")["message"]
    assert cond(copy, "Ready")["reason"] == "NotCreated"
    assert "uuid" not in copy["status"]
    # A refused adoption (a different installPath, and no Adopt at all).
    apply(kube, namespace, named("other", resourceUuid=uuid, installPath="/opt/else"))
    other = wait_cond(kube, namespace, "other", "Synced", "False", "NotOwned")
    assert "uuid" not in other["status"]
    before = zstack.service(uuid)
    delete(kube, namespace, "copy")
    delete(kube, namespace, "other")
    assert zstack.service(uuid) == before  # untouched: same version, same dates
    assert zstack.counters()["created"] == {uuid: 1}
    assert ready(kube, namespace, "first")["status"].get("version") == before.get("version")


def test_a_rejected_zone_can_be_corrected_and_a_fixed_secret_is_seen_at_once(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    name = apply(kube, namespace, sample(zoneUuid="0" * 32))
    obj = wait_cond(kube, namespace, name, "Synced", "False", "Rejected")
    assert "zoneUuid" in cond(obj, "Synced")["message"]
    assert "uuid" not in obj["status"]
    kube.kubectl("-n", namespace, "patch", "modelservice", name, "--type=merge",
                 "-p", '{"spec":{"zoneUuid":"8f14e45fceea467a9b0c7d1e2f3a4b5c"}}')  # fmt: skip
    ready(kube, namespace, name)
    # Break the Secret: the next object waits for it; fixing it 5 s later is seen at once.
    kube.apply(
        secret_yaml(namespace, {"accountName": "admin", "password": "wrong-password-1"}),
        namespace=namespace,
    )
    time.sleep(2)  # the watch reports the change; the cached login goes
    late = apply(kube, namespace, named("late"))
    refused = wait_cond(kube, namespace, late, "Synced", "False", "Rejected")
    assert "credentials Secret" in cond(refused, "Synced")["message"]
    assert "wrong-password-1" not in str(refused)
    time.sleep(5)
    kube.apply(
        secret_yaml(namespace, {"accountName": "admin", "password": PASSWORD}), namespace=namespace
    )
    fixed_at = time.monotonic()
    ready(kube, namespace, late)
    assert time.monotonic() - fixed_at < 30, "a fixed Secret must not wait for a drift tick"


# --- two tenants on one simulator --------------------------------------------------------------


def test_two_tenants_each_manage_their_own_and_cannot_reach_the_other(
    kube: Kube, namespace: str, other_namespace: str, zstack: SimClient, credentials: Any,
    operator_factory: Any,
) -> None:  # fmt: skip
    op = operator_factory("--namespace", other_namespace)
    a = tenant(kube, zstack, namespace, "team-a", TEAM_A_PW)
    b = tenant(kube, zstack, other_namespace, "team-b", TEAM_B_PW)
    victim = ready(kube, namespace, apply(kube, namespace, named("victim")))
    uuid = victim["status"]["uuid"]
    mine = ready(kube, other_namespace, apply(kube, other_namespace, named("mine")))
    owners = zstack.owned()
    assert owners[uuid]["ownerAccountUuid"] == a
    assert owners[mine["status"]["uuid"]]["ownerAccountUuid"] == b
    assert victim["status"]["connection"] == "ZStackConnection/default"

    def counted() -> dict[str, Any] | None:
        c = wait_conn(kube, namespace, "default", "True", "Connected")
        return c if c["status"].get("usedBy") == 1 else None

    conn = kube.wait_until(counted, timeout=30, message="usedBy counts the new user")
    assert conn["status"]["account"] == "team-a"
    assert conn["status"]["zstackVersion"]
    untouched = zstack.service(uuid)
    # The attack: from team-b, a resourceUuid naming team-a's service, to manage and to observe.
    apply(kube, other_namespace, named("pwned", resourceUuid=uuid, name="pwned-by-b"))
    apply(kube, other_namespace, named("peek", resourceUuid=uuid, managementPolicy="Observe"))
    pwned = wait_cond(kube, other_namespace, "pwned", "Synced", "False", "NotOwned")
    peek = wait_cond(kube, other_namespace, "peek", "Ready", "False", "NotFound")
    assert cond(pwned, "Ready")["status"] == "False"
    for obj in (pwned, peek):
        assert not {"uuid", "version", "size", "createDate"} & set(obj["status"])
        assert "victim" not in str(obj["status"])
        assert "team-a" not in str(obj["status"])
    after = zstack.service(uuid)
    assert after is not None
    assert after["name"] != "pwned-by-b"
    assert after == untouched  # not one field or date moved
    assert cond(pwned, "Synced")["reason"] == "NotOwned"
    assert "in an account this connection cannot see" in cond(pwned, "Synced")["message"]
    delete(kube, other_namespace, "pwned")
    delete(kube, other_namespace, "peek")
    assert zstack.service(uuid) is not None  # deleting the attacker's objects deleted nothing
    # Deleting an in-use connection waits; it goes once its last user does.
    kube.kubectl("-n", namespace, "delete", "zstackconnection", "default", "--wait=false")
    held = wait_conn(kube, namespace, "default", "False", "InUse")
    assert f"{namespace}/victim" in cond(held, "Ready")["message"]
    assert ready(kube, namespace, "victim")  # still managed meanwhile
    delete(kube, namespace, "victim")
    assert zstack.service(uuid) is None
    kube.wait_until(
        lambda: kube.get_or_none("zstackconnection", "default", namespace) is None or None,
        timeout=60,
        message="the connection goes once unused",
    )
    logs = op.logs()
    assert "Traceback" not in logs
    assert TEAM_A_PW not in logs
    assert TEAM_B_PW not in logs


def test_bad_credentials_reject_only_their_tenant_and_rotation_needs_no_restart(
    kube: Kube, namespace: str, other_namespace: str, zstack: SimClient, credentials: Any,
    operator_factory: Any,
) -> None:  # fmt: skip
    operator_factory("--namespace", other_namespace)
    tenant(kube, zstack, namespace, "team-a", TEAM_A_PW)
    tenant(kube, zstack, other_namespace, "team-b", TEAM_B_PW)
    wrong = {"accountName": "team-b", "password": "nope-nope-1"}
    kube.apply(secret_yaml(other_namespace, wrong, "zs"), namespace=other_namespace)
    wait_conn(kube, other_namespace, "default", "False", "LoginFailed")
    good = apply(kube, namespace, named("good"))
    bad = apply(kube, other_namespace, named("bad"))
    ready(kube, namespace, good)
    refused = wait_cond(kube, other_namespace, bad, "Synced", "False", "Rejected")
    assert "credentials Secret" in cond(refused, "Synced")["message"]
    # Rotation: team-b's password changes in ZStack and in the Secret; no operator restart.
    kube.apply(secret_yaml(other_namespace, {"accountName": "team-b", "password": TEAM_B_PW}, "zs"),
               namespace=other_namespace)  # fmt: skip
    ready(kube, other_namespace, bad)
    wait_conn(kube, other_namespace, "default", "True", "Connected")


def test_adoption_only_when_opted_in_and_allowed(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    tenant(kube, zstack, namespace, "team-a", TEAM_A_PW)
    # A service made outside Kubernetes, in team-a's account: a ModelService creates it, then
    # is deleted with deletionPolicy Orphan, which leaves the service (and its owner tag) behind.
    # A fresh name cannot claim it through that tag; only adoption can.
    made = ready(kube, namespace, apply(kube, namespace, named("outside", deletionPolicy="Orphan")))
    uuid = made["status"]["uuid"]
    delete(kube, namespace, "outside")
    apply(kube, namespace, named("taker", resourceUuid=uuid))
    refused = wait_cond(kube, namespace, "taker", "Synced", "False", "NotOwned")
    assert "belongs to ModelService outside" in cond(refused, "Synced")["message"]
    # An unmarked service: made by a second object whose tag we then cannot fake; use the
    # simulator's own API as a human would (no owner tag at all).
    raw = zstack.create_as("team-a", TEAM_A_PW, sample()["spec"])
    apply(kube, namespace, named("adopter", resourceUuid=raw, adoptionPolicy="Adopt"))
    denied = wait_cond(kube, namespace, "adopter", "Synced", "False", "NotOwned")
    assert "does not allow adoption" in cond(denied, "Synced")["message"]
    allowing = connection(namespace, "default", "zs", zstack.url, allowAdoption=True)
    kube.apply(yaml.safe_dump(allowing), namespace=namespace)
    adopted = ready(kube, namespace, "adopter")
    assert adopted["status"]["uuid"] == raw
    assert "Adopted" in reasons(kube, namespace, "adopter")
    assert zstack.counters()["created"].get(raw) == 1  # created once, by hand; adopted, not made


def test_a_cluster_connection_serves_only_the_namespaces_it_is_offered_to(
    kube: Kube, namespace: str, other_namespace: str, zstack: SimClient, credentials: Any,
    operator_factory: Any,
) -> None:  # fmt: skip
    op = operator_factory(cluster_wide=True)  # a namespaced install serves no cluster ones
    op.health_url()
    # An object created in the second the operator started may have had a create sent by an
    # earlier process (Deps.maybe_sent); this case is about one that cannot have.
    time.sleep(1.5)
    zstack.create_account("shared", TEAM_A_PW)
    # Its Secret lives where the operator's own does: the test namespace here.
    kube.apply(
        secret_yaml(namespace, {"accountName": "shared", "password": TEAM_A_PW}, "shared"),
        namespace=namespace,
    )
    name = f"shared-{namespace[-12:]}"
    doc = {
        "apiVersion": "ai.zstack.io/v1alpha1",
        "kind": "ClusterZStackConnection",
        "metadata": {"name": name},
        "spec": {"endpoint": zstack.url, "credentialsSecretRef": {"name": "shared"},
                 "allowInsecureHTTP": True, "allowedNamespaces": [namespace]},
    }  # fmt: skip
    kube.apply(yaml.safe_dump(doc))
    ref = {"kind": "ClusterZStackConnection", "name": name}
    try:
        ok = ready(kube, namespace, apply(kube, namespace, named("offered", connectionRef=ref)))
        assert ok["status"]["connection"] == f"ClusterZStackConnection/{name}"
        apply(kube, other_namespace, named("not-offered", connectionRef=ref))
        refused = wait_cond(
            kube, other_namespace, "not-offered", "Synced", "False", "ConnectionUnavailable"
        )
        assert f"not offered to namespace {other_namespace}" in cond(refused, "Synced")["message"]
        assert cond(refused, "Ready")["reason"] == "NotCreated"
        delete(kube, other_namespace, "not-offered")  # never had a usable connection: goes at once
        delete(kube, namespace, "offered")
    finally:
        kube.kubectl(
            "delete",
            "clusterzstackconnection",
            name,
            "--ignore-not-found",
            "--timeout=60s",
            timeout=90,
        )
