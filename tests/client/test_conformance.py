"""Conformance: the client against every simulated release and node zone, over loopback HTTP.

One suite, parametrized over the release profiles (5.1.20, 5.3.20, the newest), the node's
zone (Asia/Shanghai, UTC, and Asia/Shanghai with ``rest.checkTimeZone=true``) and both kinds
of credentials (account session, AccessKey). Each case runs create, update, drift read,
bind/unbind and delete, and every error path the client must type correctly. Every client is
told the node's zone (``time_zone=``), as a connection would be; ``auto`` and the wrong-zone
failure have their own tests at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from zstack_operator.sim import DEFAULT_MODEL_UUIDS, Simulator
from zstack_operator.zstack import (
    AccessKeyCredentials,
    AccountCredentials,
    Credentials,
    DuplicateJobError,
    ErrorKind,
    JobExpiredError,
    ZStackAPIError,
    ZStackClient,
    ZStackConfigError,
    ZStackRESTError,
    ZStackTimeSkewError,
)
from zstack_operator.zstack.autozone import learned_zone
from zstack_operator.zstack.models import UpdateModelServiceParam
from zstack_operator.zstack.transport import Reply

from tests.support.client_helpers import ADMIN, FAST_RETRY, param
from tests.support.sim_fixtures import SimFactory

RELEASES = ("5.1.20", "5.3.20", "5.5.22")


@dataclass(frozen=True)
class Node:
    """A simulated node's zone settings."""

    time_zone: str
    check_time_zone: bool = False

    def __str__(self) -> str:
        return f"{self.time_zone}{'+checkTimeZone' if self.check_time_zone else ''}"


NODES = (Node("Asia/Shanghai"), Node("UTC"), Node("Asia/Shanghai", check_time_zone=True))


@dataclass
class Case:
    """One simulator and a client of it."""

    sim: Simulator
    client: ZStackClient
    release: str
    node: Node


@pytest.fixture(params=RELEASES)
def release(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=NODES, ids=str)
def node(request: pytest.FixtureRequest) -> Node:
    node: Node = request.param
    return node


@pytest.fixture(params=["account", "access-key"])
async def case(
    sim_factory: SimFactory, release: str, node: Node, request: pytest.FixtureRequest
) -> AsyncIterator[Case]:
    sim = await sim_factory(
        zstack_version=release, time_zone=node.time_zone, check_time_zone=node.check_time_zone
    )
    credentials: Credentials = ADMIN
    if request.param == "access-key":
        key = await sim.admin.create_access_key()
        credentials = AccessKeyCredentials(
            access_key_id=key.access_key_id, access_key_secret=key.access_key_secret
        )
    async with ZStackClient(
        sim.url, credentials, retry=FAST_RETRY, time_zone=node.time_zone
    ) as client:
        yield Case(sim, client, release, node)


def _fields(release: str) -> dict[str, Any]:
    """Fields the release knows, as an operator would send them (resources.releases)."""
    if release == "5.5.22":
        return {"framework": "vLLM", "source": "HuggingFace", "support_distributed": True}
    if release == "5.3.20":
        return {"framework": "vLLM", "source": "HuggingFace"}
    return {}


def _near_now(when: datetime | None) -> bool:
    # The dates are the node's wall clock: read in the right zone, they are now.
    now = datetime.now(UTC)
    return when is not None and now - timedelta(seconds=30) <= when <= now + timedelta(seconds=5)


async def test_the_lifecycle(case: Case) -> None:
    client = case.client
    created = await client.add_model_service(param(name="  llama  ", **_fields(case.release)))
    assert created.name == "llama"  # trimmed at both ends by the node
    assert _near_now(created.create_date)
    assert _near_now(created.last_op_date)
    if case.release == "5.1.20":
        assert created.framework == "Other"  # the message's default
        assert (created.version, created.has_new_version, created.source) == (None, None, None)
        assert created.cpu_architectures is None
    elif case.release == "5.3.20":
        assert (created.framework, created.source, created.version) == (
            "vLLM", "HuggingFace", None,
        )  # fmt: skip
    else:
        assert (created.version, created.has_new_version) == ("1", False)
        assert created.support_distributed is True

    updated = await client.update_model_service(
        created.uuid, UpdateModelServiceParam(request_cpu=8, description="\tnew ")
    )
    assert (updated.request_cpu, updated.description) == (8, "new")
    assert updated.last_op_date is not None
    assert created.last_op_date is not None
    assert updated.last_op_date >= created.last_op_date

    # Drift read: one by uuid, one batched, one query; all the same inventory.
    read = await client.get_model_service(created.uuid)
    batch = await client.get_model_services([created.uuid, "f" * 32])
    page = await client.query_model_services([f"uuid={created.uuid}"], reply_with_count=True)
    assert read == updated == batch[created.uuid] == page.inventories[0]
    assert page.total == 1

    model = DEFAULT_MODEL_UUIDS[0]
    bound = await client.bind_model(model, created.uuid)
    assert bound is not None
    assert bound.model_uuids == {model}
    unbound = await client.unbind_model(model, created.uuid)
    assert unbound is not None
    assert unbound.model_uuids == set()

    await client.delete_model_service(created.uuid)
    assert await client.get_model_service(created.uuid) is None
    await client.delete_model_service(created.uuid)  # a missing service is a successful delete


async def test_every_error_path(case: Case) -> None:
    client, sim = case.client, case.sim
    # Validation: SYS.1007, terminal.
    with pytest.raises(ZStackAPIError) as invalid:
        await client.add_model_service(param(request_cpu=0))
    assert (invalid.value.code, invalid.value.kind) == ("SYS.1007", ErrorKind.TERMINAL)
    # An unknown reference or a tag pattern that is not ours: SYS.1003.
    for bad in (param(model_center_uuid="1" * 32), param(tag_uuids=["2" * 32])):
        with pytest.raises(ZStackAPIError) as missing:
            await client.add_model_service(bad)
        assert missing.value.code == "SYS.1003"
    with pytest.raises(ZStackAPIError) as no_service:
        await client.update_model_service("3" * 32, UpdateModelServiceParam(name="x"))
    assert no_service.value.code == "SYS.1003"
    # A taken resourceUuid: SYS.1000 after the retries (the node calls it an internal error).
    first = await client.add_model_service(param())
    with pytest.raises(ZStackAPIError) as taken:
        await client.add_model_service(param(resource_uuid=first.uuid))
    assert (taken.value.code, taken.value.transient) == ("SYS.1000", True)
    # The caller's own job uuid reused: DuplicateJobError, and the job's outcome is there.
    job = "4" * 32
    await client.delete_model_service(first.uuid, job_uuid=job)
    with pytest.raises(DuplicateJobError) as duplicate:
        await client.delete_model_service(first.uuid, job_uuid=job)
    assert f"Duplicate job uuid[{job}]" in duplicate.value.text
    assert await client.wait_job(job) is None
    with pytest.raises(JobExpiredError):
        await client.wait_job("5" * 32)
    # A malformed request stays the REST layer's 500, typed as such (and transient).
    with pytest.raises(ZStackRESTError) as overflow:
        await client.add_model_service(param(request_cpu=2**31))
    assert (overflow.value.status, overflow.value.kind) == (500, ErrorKind.TRANSIENT)
    assert "Expected an int" in overflow.value.text
    # An expired session is logged in again, invisibly; AccessKeys have none.
    await sim.admin.expire_sessions()
    assert (await client.query_model_services()).inventories == []


async def test_wrong_credentials_are_auth_errors(sim_factory: SimFactory, node: Node) -> None:
    sim = await sim_factory(time_zone=node.time_zone, check_time_zone=node.check_time_zone)
    key = await sim.admin.create_access_key()
    wrong_key = AccessKeyCredentials(access_key_id=key.access_key_id, access_key_secret="x" * 20)
    wrong_password = AccountCredentials(account_name="admin", password="not-it")
    for credentials in (wrong_key, wrong_password):
        async with ZStackClient(sim.url, credentials, time_zone=node.time_zone) as client:
            with pytest.raises(ZStackAPIError) as caught:
                await client.query_model_services()
        assert (caught.value.code, caught.value.kind) == ("ID.1000", ErrorKind.AUTH)


# -- the node's zone, wrong or learned -----------------------------------------------------


async def test_an_access_key_with_the_wrong_zone_names_the_fix(sim: Simulator) -> None:
    key = await sim.admin.create_access_key()
    creds = AccessKeyCredentials(
        access_key_id=key.access_key_id, access_key_secret=key.access_key_secret
    )
    async with ZStackClient(sim.url, creds) as client:  # no zone: UTC, 8 hours off
        with pytest.raises(ZStackTimeSkewError) as caught:
            await client.query_model_services()
    assert caught.value.kind is ErrorKind.AUTH
    assert "Set the connection's time zone to the node's zone (it is UTC, the default)" in str(
        caught.value
    )
    assert key.access_key_secret not in str(caught.value)
    assert (await sim.admin.counters()).count("QueryModelService", "403") == 1  # not retried


async def test_dates_read_in_the_wrong_zone_are_off_by_the_difference(sim: Simulator) -> None:
    async with (
        ZStackClient(sim.url, ADMIN) as wrong,
        ZStackClient(sim.url, ADMIN, time_zone="Asia/Shanghai") as right,
    ):
        inv = await right.add_model_service(param())
        as_utc = await wrong.get_model_service(inv.uuid)
    assert as_utc is not None
    assert as_utc.create_date
    assert inv.create_date
    assert as_utc.create_date - inv.create_date == timedelta(hours=8)
    assert _near_now(inv.create_date)


@pytest.mark.parametrize("credentials", ["account", "access-key"])
async def test_auto_learns_the_zone_from_the_node(
    sim_factory: SimFactory, node: Node, credentials: str
) -> None:
    sim = await sim_factory(
        time_zone="America/St_Johns" if node.time_zone == "UTC" else node.time_zone,
        check_time_zone=node.check_time_zone,
    )
    creds: Credentials = ADMIN
    if credentials == "access-key":
        key = await sim.admin.create_access_key()
        creds = AccessKeyCredentials(
            access_key_id=key.access_key_id, access_key_secret=key.access_key_secret
        )
    async with ZStackClient(sim.url, creds, time_zone="auto") as client:
        assert client.time_zone is None
        inv = await client.add_model_service(param())
        assert client.time_zone == sim.config.time_zone
        assert _near_now(inv.create_date)
        assert (await client.get_model_service(inv.uuid)) == inv
    asked = (await sim.admin.counters()).count("GetPlatformTimeZone", "200")
    assert asked == 1  # learned once


def test_auto_without_get_platform_time_zone_says_what_to_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A release without the API answers the REST layer's 404 for its path.
    text = "no api mapping to /v1/management-nodes/platform-timezone"
    with pytest.raises(ZStackConfigError, match="set the connection's time zone"):
        learned_zone(Reply(404, None, text))
    # The client's own callers pass what they can still tell (an AccessKey's accepted offset,
    # else UTC): the connection keeps working and the log says how to be exact.
    eight = timezone(timedelta(hours=8))
    assert learned_zone(Reply(404, None, text), fallback=(eight, "UTC+08:00")) == (
        eight,
        "UTC+08:00",
    )
    assert "assuming UTC+08:00: set the connection's time zone" in caplog.text
