"""The connection pool (credentials from a Secret, one client per connection) and kopf's diff
base read from status.handled: pure parts, no network (a client is built, never called)."""

from __future__ import annotations

import base64
from typing import Any

import kopf
import pytest
from zstack_operator.connections import DEFAULT_CONNECTION, ConnectionPool, CredentialsError
from zstack_operator.handlers import HandledDiffBase
from zstack_operator.reconcile import handled_key
from zstack_operator.settings import SecretRef, Settings
from zstack_operator.zstack import known_secrets


class FakeKube:
    """get_secret only: the Secret's data and resourceVersion, changeable by the test."""

    def __init__(self) -> None:
        self.secret: dict[str, Any] | None = None
        self.reads = 0

    def set(self, version: str, **data: str) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.secret = {"metadata": {"resourceVersion": version}, "data": encoded}

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.secret


def pool(kube: FakeKube) -> ConnectionPool:
    settings = Settings("http://127.0.0.1:1", SecretRef("ops", "zs"))
    return ConnectionPool(settings, kube, lambda _: [])  # type: ignore[arg-type]


async def test_one_connection_is_built_once_and_shared() -> None:
    kube = FakeKube()
    kube.set("1", accountName="admin", password="s3cret-pass")
    p = pool(kube)
    first = await p.get(None)
    assert await p.get(DEFAULT_CONNECTION) is first
    assert kube.reads == 1
    assert known_secrets.mask("pw s3cret-pass") == "pw ***"
    await p.aclose()


async def test_a_missing_or_incomplete_secret_says_what_to_create() -> None:
    kube = FakeKube()
    p = pool(kube)
    with pytest.raises(CredentialsError, match="credentials Secret ops/zs not found: create it"):
        await p.get(None)
    kube.set("1", accountName="admin")
    with pytest.raises(CredentialsError, match="must hold accountName and password"):
        await p.get(None)


async def test_an_unknown_connection_is_refused() -> None:
    with pytest.raises(CredentialsError, match="unknown connection 'other'"):
        await pool(FakeKube()).get("other")


async def test_credential_changes_counts_secret_changes_and_drops_the_client() -> None:
    """The drift loop wakes resources waiting for a fix when this count moves."""
    kube = FakeKube()
    kube.set("1", accountName="admin", password="old-password")
    p = pool(kube)
    before = await p.get(None)
    assert await p.credential_changes() == 0
    kube.set("2", accountName="admin", password="new-password")
    assert await p.credential_changes() == 1
    after = await p.get(None)
    assert after is not before
    assert after.secret_version == "2"
    assert await p.credential_changes() == 1
    kube.secret = None  # deleted: a change too
    assert await p.credential_changes() == 2
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
