"""finalize(), branch by branch, against the fake seam: nothing leaks, nothing sticks."""

from __future__ import annotations

from typing import Any

import pytest
from zstack_operator.connections import CredentialsError
from zstack_operator.reconcile import Done, Requeue, Retry, finalize, jobs
from zstack_operator.resources import JobAction

from tests.support.fake_zstack import OWN_UUID, UID, api_error
from tests.unit.test_reconcile import BEFORE_START, FOREIGN, World, first_create


async def created() -> World:
    w = World()
    await w.run()
    w.zstack.log.clear()
    return w


async def delete(w: World, *, attempt: int = 0) -> Any:
    return await finalize(w.resource(), w.deps, attempt=attempt)


def deleting() -> str:
    return jobs.job_uuid(UID, JobAction.DELETE, 0)


async def test_delete_removes_the_service_and_writes_nothing() -> None:
    """The happy path: one delete with a derived job, Done, no status write (the object goes)."""
    w = await created()
    out = await delete(w)
    assert out.result == Done()
    assert w.zstack.mutations() == [("delete", deleting())]
    assert w.zstack.services == {}
    assert w.zstack.calls("status") == []


@pytest.mark.parametrize(
    "over",
    [{"deletionPolicy": "Orphan"}, {"managementPolicy": "Observe"}],
    ids=["orphan", "observe"],
)
async def test_orphan_and_observe_never_touch_zstack(over: dict[str, Any]) -> None:
    """Orphan leaves the service; Observe never deletes what it only watched."""
    w = await created()
    w.spec = {**w.spec, **over}
    out = await delete(w)
    assert out.result == Done()
    assert w.zstack.calls() == []
    assert OWN_UUID in w.zstack.services


async def test_a_paused_deletion_waits_and_looks_again_soon() -> None:
    """Paused: no call, a short requeue so that unpausing lets the deletion proceed promptly."""
    w = await created()
    w.annotations = {"ai.zstack.io/paused": "true"}
    out = await delete(w)
    assert out.result == Requeue(10.0, "deletion waits while paused")
    assert w.zstack.mutations() == []
    assert w.cond("Synced") == ("False", "Paused")
    w.annotations = {}
    assert (await delete(w)).result == Done()


async def test_a_pending_create_is_settled_before_the_delete() -> None:
    """A create still running could land after the delete and leak: wait for it first."""
    w = World()
    w.zstack.script = ["hold"]
    await w.run()
    out = await delete(w)
    assert isinstance(out.result, Requeue)
    assert w.zstack.mutations() == [("add", first_create())]
    w.zstack.release()
    out = await delete(w)
    assert out.result == Done()
    assert w.zstack.services == {}


async def test_a_create_no_status_recorded_is_found_and_deleted() -> None:
    """A pass died between the create and its status write: the derived job finds it."""
    w = World()
    w.writer.fail = True
    await w.run()
    assert w.status == {}
    assert OWN_UUID in w.zstack.services
    w.writer.fail = False
    out = await delete(w)
    assert out.result == Done()
    assert w.zstack.services == {}


async def test_a_forgotten_create_is_found_by_the_own_uuid_and_deleted() -> None:
    """ZStack forgot the job hours ago: the uid-derived uuid still tells."""
    w = World()
    w.zstack.existing(OWN_UUID)
    out = await delete(w)
    assert out.result == Done()
    assert w.zstack.services == {}


async def test_a_foreign_resource_uuid_without_status_is_not_deleted() -> None:
    """Nothing proves a chosen uuid's service is ours: leave it (never delete others' data)."""
    w = World(resourceUuid=FOREIGN)
    w.zstack.existing(FOREIGN)
    out = await delete(w)
    assert out.result == Done()
    assert FOREIGN in w.zstack.services


async def test_nothing_created_means_nothing_deleted() -> None:
    """An object refused before any create: one job query, one read, no delete."""
    w = World()
    w.zstack.script = [api_error("SYS.1003")]
    await w.run()
    w.zstack.log.clear()
    out = await delete(w)
    assert out.result == Done()
    assert w.zstack.mutations() == []


async def test_already_gone_is_done() -> None:
    """SYS.1003 on delete: the service is not there, which is what was wanted."""
    w = await created()
    w.zstack.script = [api_error("SYS.1003", "not found")]
    assert (await delete(w)).result == Done()


async def test_a_failing_delete_is_retried_and_reported() -> None:
    """An outage keeps the finalizer (retry), and says why."""
    w = await created()
    w.zstack.script = ["transport"]
    out = await delete(w)
    assert isinstance(out.result, Retry)
    assert w.cond("Synced") == ("False", "ReconcileError")
    assert w.message("Synced").startswith("delete failed: ")


async def test_a_status_that_cannot_be_written_does_not_hold_the_deletion() -> None:
    """Finalizers never stick on a status write: the result stands, the write is best effort."""
    w = await created()
    w.zstack.script = ["transport"]
    w.writer.fail = True
    out = await delete(w)
    assert isinstance(out.result, Retry)
    w.zstack.script = []
    assert (await delete(w)).result == Done()


async def test_a_slow_delete_is_followed_not_resent() -> None:
    """A delete job outliving the pass: Deleting, recorded; the next pass follows the same job."""
    w = await created()
    w.zstack.script = ["hold"]
    out = await delete(w)
    assert isinstance(out.result, Requeue)
    assert w.status["pendingJob"]["action"] == "Delete"
    assert w.cond("Ready") == ("False", "Deleting")
    w.zstack.release()
    out = await delete(w)
    assert out.result == Done()
    assert list(w.zstack.mutations()) == [("delete", deleting())] * 2
    assert len([j for j in w.zstack.jobs if j == deleting()]) == 1


async def test_an_object_that_never_had_a_usable_connection_goes_without_one() -> None:
    """Nothing can have been created: no finalizer is held hostage by a broken connection."""
    w = World()
    w.zstack.credentials_error = CredentialsError("ZStackConnection/zs does not exist", "NotFound")
    await w.run()
    out = await delete(w)
    assert out.result == Done()
    assert w.zstack.mutations() == []


async def test_an_older_object_waits_for_its_connection_and_says_how_to_let_go() -> None:
    """An earlier process may have sent its create: the delete waits, naming Orphan as the way."""
    w = World()
    w.created_at = BEFORE_START
    w.zstack.credentials_error = CredentialsError("ZStackConnection/zs does not exist", "NotFound")
    out = await delete(w)
    assert isinstance(out.result, Retry)
    assert "set spec.deletionPolicy: Orphan" in out.result.reason
