"""reconcile(), branch by branch, against the fake seam (tests/support/fake_zstack.py).

Each case says in one line why it matters. Assertions read the result, the status as stored
(the merge patches applied), the Events, and the ordered log of ZStack calls and status writes.
"""

from __future__ import annotations

from typing import Any

import pytest
from zstack_operator.connections import CredentialsError
from zstack_operator.reconcile import (
    Deps,
    Done,
    Outcome,
    Requeue,
    Resource,
    Retry,
    Terminal,
    handled_key,
    jobs,
    reconcile,
)
from zstack_operator.zstack.errors import ErrorKind

from tests.support.fake_zstack import (
    CENTER,
    MODELS,
    OWN_UUID,
    UID,
    ZONE,
    FakeStatus,
    FakeZStack,
    api_error,
)

FOREIGN = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
BEFORE_START, AFTER_START = "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z"
STARTED = "2026-01-01T00:05:00Z"


def spec(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "yaml": "services:\n- name: api\n",
        "requestCpu": 4,
        "requestMemory": 1024,
        "modelCenterUuid": CENTER,
        "installPath": "/opt/svc",
        "startCommand": "python serve.py",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


class World:
    """One object, the fake ZStack and the status writer; ``run`` does one pass and stores it."""

    def __init__(self, **spec_over: Any) -> None:
        self.zstack = FakeZStack()
        self.writer = FakeStatus(self.zstack)
        self.spec = spec(**spec_over)
        self.generation = 1
        self.annotations: dict[str, str] = {}
        self.created_at = AFTER_START
        self.deps = Deps(self.zstack, self.writer, job_wait=0.0, started_at=STARTED)

    def resource(self) -> Resource:
        return Resource(
            "ns",
            "text-to-text",
            UID,
            self.generation,
            self.spec,
            self.writer.stored,
            self.annotations,
            created_at=self.created_at,
        )

    async def run(self, *, attempt: int = 0, max_age: float = 0.0) -> Outcome:
        return await reconcile(self.resource(), self.deps, max_age=max_age, attempt=attempt)

    def edit(self, **over: Any) -> None:
        self.spec = {**self.spec, **over}
        self.generation += 1

    @property
    def status(self) -> dict[str, Any]:
        return self.writer.stored

    def cond(self, type_: str) -> tuple[str, str]:
        c = next(c for c in self.status["conditions"] if c["type"] == type_)
        return c["status"], c["reason"]

    def message(self, type_: str) -> str:
        return str(next(c for c in self.status["conditions"] if c["type"] == type_)["message"])


def first_create() -> str:
    return jobs.create_job(UID, 0, None)


# --- creating ------------------------------------------------------------------------------------


async def test_a_new_object_costs_one_create_and_one_status_write() -> None:
    """The happy path: no write before ZStack hears of the create; one write after."""
    w = World()
    out = await w.run()
    assert out.result == Done()
    assert w.zstack.mutations() == [("add", first_create())]
    assert [c[0] for c in w.zstack.calls("add", "status")] == ["add", "status"]
    assert len(w.writer.patches) == 1
    assert w.status["uuid"] == OWN_UUID
    assert w.cond("Ready") == ("True", "Available")
    assert w.cond("Synced") == ("True", "ReconcileSuccess")
    assert w.status["handled"] == handled_key(1, {})
    assert w.status["createdWith"] == {}
    assert [(e.reason, e.message) for e in out.events] == [
        ("Available", "the model service exists in ZStack")
    ]
    assert w.message("Synced") == "ZStack matches the spec"


async def test_the_create_carries_the_uuid_and_create_only_values() -> None:
    """What the object owns (its uid) names the service; create-only values are recorded."""
    w = World(zoneUuid=ZONE, systemTags=["a::b"])
    await w.run()
    param = w.zstack.calls("add-param")[0][1]
    assert param.resource_uuid == OWN_UUID
    assert param.name == "text-to-text"
    assert w.status["createdWith"] == {"zoneUuid": ZONE, "systemTags": ["a::b"]}


async def test_a_create_job_uuid_is_derived_so_a_lost_pass_is_followed_not_repeated() -> None:
    """A pass that died after the create and before its write: the next one follows that job."""
    w = World()
    w.created_at = BEFORE_START  # seen by an earlier operator process
    await w.zstack.add_model_service(
        _param(w), system_tags=None, user_tags=None, job_uuid=first_create(), wait=0
    )
    w.zstack.log.clear()
    out = await w.run()
    assert out.result == Done()
    assert w.zstack.mutations() == []  # asked the job, did not send it again
    assert w.zstack.calls("wait") == [("wait", first_create())]
    assert len(w.zstack.services) == 1


async def test_an_object_older_than_the_process_with_no_job_out_is_created() -> None:
    """Asking first costs one poll; ZStack not knowing the job means it was never sent."""
    w = World()
    w.created_at = BEFORE_START
    out = await w.run()
    assert out.result == Done()
    assert [c[0] for c in w.zstack.calls("wait", "add")] == ["wait", "add", "wait"]


async def test_a_forgotten_create_is_found_by_its_uuid() -> None:
    """Hours later ZStack forgot the job: the create fails on the taken uuid, which is ours."""
    w = World()
    w.zstack.existing(OWN_UUID)
    out = await w.run()
    assert out.result == Done()
    assert w.status["uuid"] == OWN_UUID
    assert len(w.zstack.services) == 1
    assert w.cond("Ready") == ("True", "Available")


async def test_a_slow_create_is_recorded_and_waited_for_never_resent() -> None:
    """A job that outlives the pass is progress (Creating), and the next pass waits for it."""
    w = World()
    w.zstack.script = ["hold"]
    out = await w.run()
    assert isinstance(out.result, Requeue)
    assert w.status["pendingJob"]["uuid"] == first_create()
    assert w.status["pendingJob"]["action"] == "Create"
    assert w.status["uuid"] == OWN_UUID
    assert w.cond("Ready") == ("False", "Creating")
    assert "handled" not in w.status
    out = await w.run()
    assert isinstance(out.result, Requeue)
    assert len(w.writer.patches) == 1  # nothing changed: nothing written
    w.zstack.release()
    out = await w.run()
    assert out.result == Done()
    assert "pendingJob" not in w.status
    assert [m[0] for m in w.zstack.mutations()] == ["add"]


async def test_a_transient_job_failure_is_doubted_then_believed() -> None:
    """SYS.1000 from a job reads like a poll failure: ask again, then retry with a new job."""
    w = World()
    w.zstack.script = [api_error("SYS.1000", "internal error")]
    out = await w.run(attempt=0)
    assert isinstance(out.result, Retry)
    assert w.status["pendingJob"]["uuid"] == first_create()
    assert "failedJobs" not in w.status
    assert w.cond("Synced") == ("False", "ReconcileError")
    assert w.message("Synced").endswith("(will retry)")
    out = await w.run(attempt=jobs.DOUBTFUL_JOB_RETRIES - 1)
    assert isinstance(out.result, Retry)
    assert "failedJobs" not in w.status
    out = await w.run(attempt=jobs.DOUBTFUL_JOB_RETRIES)
    assert isinstance(out.result, Retry)
    assert w.status["failedJobs"] == 1
    assert "pendingJob" not in w.status
    out = await w.run(attempt=0)
    assert out.result == Done()
    assert [m[1] for m in w.zstack.mutations()] == [first_create(), jobs.create_job(UID, 1, None)]


async def test_a_refused_create_waits_for_a_spec_change() -> None:
    """A business refusal is terminal, names the fix, and leaves Ready=False NotCreated."""
    w = World()
    w.zstack.script = [api_error("SYS.1003", "invalid field[modelCenterUuid]")]
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert w.cond("Ready") == ("False", "NotCreated")
    assert w.cond("Synced") == ("False", "Rejected")
    assert w.message("Synced") == (
        "Fake failed: SYS.1003: invalid field[modelCenterUuid]; fix the spec to retry"
    )
    assert w.status["error"]["code"] == "SYS.1003"
    assert w.status["failedJobs"] == 1
    assert "uuid" not in w.status
    assert w.status["handled"] == handled_key(1, {})
    assert [(e.warning, e.reason) for e in out.events] == [
        (False, "NotCreated"),
        (True, "Rejected"),
    ]


async def test_a_new_generation_replans_after_a_failed_job() -> None:
    """A job that failed for an older spec is forgotten; the new spec is created afresh."""
    w = World()
    w.zstack.script = ["hold"]
    await w.run()
    w.zstack.jobs[first_create()].state = "failed"
    w.zstack.jobs[first_create()].error = api_error("SYS.1007", "bad yaml")
    w.edit(yaml="services: []\n")
    out = await w.run()
    assert out.result == Done()
    assert w.status["failedJobs"] == 1
    assert w.zstack.mutations()[-1] == ("add", jobs.create_job(UID, 1, None))


async def test_a_spec_resource_uuid_is_read_first() -> None:
    """A chosen uuid may name an existing service: read it before creating anything."""
    w = World(resourceUuid=FOREIGN)
    await w.run()
    assert w.zstack.calls("read", "add")[0] == ("read", (FOREIGN, 0.0))
    assert w.status["uuid"] == FOREIGN


# --- refusing, reporting, pausing ----------------------------------------------------------------


async def test_an_immutable_change_is_refused_without_a_call() -> None:
    """ZStack cannot change installPath in place: say so, send nothing."""
    w = World()
    await w.run()
    w.edit(installPath="/opt/other")
    w.zstack.log.clear()
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert w.zstack.mutations() == []
    assert w.cond("Synced") == ("False", "ImmutableFieldChanged")
    assert w.cond("Ready") == ("True", "Available")
    assert w.message("Synced").startswith("installPath cannot be changed")


async def test_a_refused_foreign_service_is_not_claimed() -> None:
    """A resourceUuid naming someone else's service must not land in status (the finalizer
    deletes what status.uuid names)."""
    w = World(resourceUuid=FOREIGN)
    w.zstack.existing(FOREIGN, install_path="/opt/theirs")
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert "uuid" not in w.status
    assert w.cond("Ready") == ("False", "NotCreated")


async def test_observe_reports_missing_and_differences_without_writing() -> None:
    """Observe mode reads only; a difference is an Event once, not on every pass."""
    w = World(managementPolicy="Observe", resourceUuid=FOREIGN)
    out = await w.run()
    assert out.result == Done()
    assert w.cond("Ready") == ("False", "NotFound")
    w.zstack.existing(FOREIGN, request_cpu=8)
    out = await w.run()
    assert w.cond("Ready") == ("True", "Available")
    assert w.message("Synced") == "observing only; ZStack differs from the spec in requestCpu"
    assert [e.reason for e in out.events if e.reason == "DriftDetected"] == ["DriftDetected"]
    out = await w.run()
    assert out.events == ()
    assert w.zstack.mutations() == []


async def test_paused_makes_no_zstack_call() -> None:
    """Paused means no ZStack call at all, and a Ready condition for kubectl wait to read."""
    w = World()
    w.annotations = {"ai.zstack.io/paused": "true"}
    out = await w.run()
    assert out.result == Done()
    assert [c[0] for c in w.zstack.log] == ["status"]  # one status write, no ZStack call
    assert w.cond("Synced") == ("False", "Paused")
    assert w.cond("Ready") == ("False", "NotCreated")
    w.annotations = {}
    assert w.status["handled"] != handled_key(1, {})  # unpausing is a change kopf will see


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"requestCpu": "four"}, "spec.requestCpu: Input should be a valid integer"),
        ({"userTags": ["zstack-operator::owner::ns/other"]}, "spec.userTags: Value error, tags "),
    ],
    ids=["schema", "owner-tag"],
)
async def test_an_invalid_spec_is_terminal_without_a_call(
    over: dict[str, Any], message: str
) -> None:
    """What the schema could not catch is reported, not sent."""
    w = World(**over)
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert [c[0] for c in w.zstack.log] == ["status"]
    assert w.cond("Synced") == ("False", "InvalidSpec")
    assert w.message("Synced").startswith(message)


# --- errors --------------------------------------------------------------------------------------


async def test_an_outage_is_retried() -> None:
    """No answer at all: retry with backoff, say so, keep the job uuid for the next try."""
    w = World()
    w.zstack.script = ["transport"]
    out = await w.run()
    assert isinstance(out.result, Retry)
    assert w.cond("Synced") == ("False", "ReconcileError")
    assert w.cond("Ready") == ("False", "Creating")
    await w.run()
    assert [m[1] for m in w.zstack.mutations()] == [first_create(), first_create()]


async def test_refused_credentials_name_the_secret() -> None:
    """ID.1000 is the Secret's fault, not the spec's."""
    w = World()
    w.zstack.script = [api_error("ID.1000", "wrong account name or password")]
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert w.message("Synced").endswith(
        "fix the connection's credentials Secret (a change is picked up at once)"
    )
    assert api_error("ID.1000").kind is ErrorKind.AUTH


async def test_an_unusable_connection_waits_for_a_fix_before_any_call() -> None:
    """A missing Secret or connection is the user's to fix: no backoff loop, a clear wait (the
    connection's change notice re-drives it); the API server failing to answer is retried."""
    w = World()
    w.zstack.credentials_error = CredentialsError("credentials Secret ns/zs not found")
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert w.cond("Synced") == ("False", "ConnectionUnavailable")
    assert w.message("Synced") == "credentials Secret ns/zs not found; a fix is picked up at once"
    assert w.cond("Ready") == ("False", "NotCreated")
    assert "connection" not in w.status  # only a connection that worked is recorded
    assert w.zstack.mutations() == []
    w.zstack.credentials_error = CredentialsError("HTTP 500", "SecretUnreadable")
    assert isinstance((await w.run()).result, Retry)


async def test_a_status_that_cannot_be_written_is_a_retry_without_events() -> None:
    """Domain error from the writer, mapped to a result: no Event announces an unstored status."""
    w = World()
    w.writer.fail = True
    out = await w.run()
    assert isinstance(out.result, Retry)
    assert "cannot write the status" in out.result.reason
    assert out.events == ()


# --- changing ------------------------------------------------------------------------------------


async def test_a_spec_change_updates_only_what_changed_without_a_warning() -> None:
    """An edit is not drift: an update, no DriftRepaired Event."""
    w = World()
    await w.run()
    w.edit(requestCpu=8)
    out = await w.run()
    assert out.result == Done()
    assert w.zstack.calls("update-param")[0][1].wire() == {"requestCpu": 8}
    assert [e.reason for e in out.events] == []
    assert w.status["observedGeneration"] == 2


async def test_drift_is_repaired_with_a_warning() -> None:
    """ZStack changed behind our back: change it back, and tell (Event, metric by reason)."""
    w = World()
    await w.run()
    inv = w.zstack.services[OWN_UUID]
    w.zstack.services[OWN_UUID] = inv.model_copy(update={"request_cpu": 2})
    out = await w.run()
    assert [(e.warning, e.reason) for e in out.events] == [(True, "DriftRepaired")]
    assert "requestCpu" in out.events[0].message
    assert w.zstack.services[OWN_UUID].request_cpu == 4


async def test_a_repeated_drift_gets_a_new_job_not_a_replay() -> None:
    """The same repair later is a new job: a replayed one would return its old success."""
    w = World()
    await w.run()
    for _ in range(2):
        inv = w.zstack.services[OWN_UUID]
        w.zstack.services[OWN_UUID] = inv.model_copy(
            update={"request_cpu": 2, "last_op_date": w.zstack._stamp()}
        )
        await w.run()
        assert w.zstack.services[OWN_UUID].request_cpu == 4
    updates = [m[1] for m in w.zstack.mutations() if m[0] == "update"]
    assert len(set(updates)) == 2


async def test_an_out_of_band_deletion_recreates_with_a_warning() -> None:
    """Deleted in ZStack: created again under the same uuid, with a new job, and an Event."""
    w = World()
    await w.run()
    del w.zstack.services[OWN_UUID]
    out = await w.run()
    assert out.result == Done()
    assert [(e.warning, e.reason) for e in out.events] == [(True, "Recreated")]
    creates = [m[1] for m in w.zstack.mutations() if m[0] == "add"]
    assert len(creates) == 2
    assert creates[0] != creates[1]
    assert OWN_UUID in w.zstack.services


async def test_models_are_bound_and_unbound() -> None:
    """modelUuids change by bind and unbind calls, one job each."""
    w = World(modelUuids=[MODELS[0]])
    await w.run()
    assert w.zstack.calls("add-param")[0][1].model_uuids == [MODELS[0]]  # bound at creation
    w.edit(modelUuids=[MODELS[1]])
    out = await w.run()
    assert out.result == Done()
    assert [m[0] for m in w.zstack.mutations()] == ["add", "bind", "unbind"]
    assert w.zstack.services[OWN_UUID].model_uuids == {MODELS[1]}


async def test_a_slow_update_is_waited_for_as_progress() -> None:
    """An update job outliving the pass: Updating, recorded, waited for, never sent twice."""
    w = World()
    await w.run()
    w.edit(requestCpu=8)
    w.zstack.script = ["hold"]
    out = await w.run()
    assert isinstance(out.result, Requeue)
    assert w.status["pendingJob"]["action"] == "Update"
    assert w.cond("Ready") == ("False", "Updating")
    assert w.cond("Synced") == ("True", "ReconcileSuccess")
    w.zstack.release()
    out = await w.run()
    assert out.result == Done()
    assert [m[0] for m in w.zstack.mutations()] == ["add", "update"]
    assert w.cond("Ready") == ("True", "Available")


async def test_in_sync_writes_nothing() -> None:
    """An idle operator never writes: no ZStack mutation, no status patch, no Event."""
    w = World()
    await w.run()
    w.zstack.log.clear()
    out = await w.run(max_age=60.0)
    assert out.result == Done()
    assert out.events == ()
    assert w.zstack.calls() == [("read", (OWN_UUID, 60.0)), ("remember", OWN_UUID)]


async def test_a_cached_read_is_confirmed_before_writing() -> None:
    """Never write on the strength of a cached read."""
    w = World()
    await w.run()
    w.edit(requestCpu=8)
    w.zstack.log.clear()
    await w.run(max_age=60.0)
    reads = [c[1] for c in w.zstack.calls("read")]
    assert reads == [(OWN_UUID, 60.0), (OWN_UUID, 0.0)]


def _param(w: World) -> Any:
    from zstack_operator.resources import ModelServiceSpec

    return ModelServiceSpec.model_validate(w.spec).to_add_param(
        default_name="text-to-text", resource_uuid=OWN_UUID
    )


# --- ownership (docs/tenancy.md) -----------------------------------------------------------------

OWNER = "zstack-operator::owner::ns/text-to-text"


async def test_a_create_carries_the_owner_marker_and_records_the_connection() -> None:
    """The marker proves ownership later, when status is lost (a restore or a move)."""
    w = World(userTags=["team::a"])
    await w.run()
    assert w.zstack.tags[OWN_UUID] == ["team::a", OWNER]
    assert w.status["connection"] == "operator-default"


@pytest.mark.parametrize("policy", ["Never", "Adopt"])
async def test_an_existing_unmarked_service_is_refused_and_never_claimed(policy: str) -> None:
    """Not created by this object, not adoptable here: nothing written, nothing recorded, so
    deleting the object deletes nothing; both conditions say why."""
    w = World(resourceUuid=FOREIGN, adoptionPolicy=policy)
    w.zstack.existing(FOREIGN)
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert "uuid" not in w.status
    assert w.zstack.mutations() == []
    assert w.zstack.calls("mark-owner") == []
    assert w.cond("Ready") == ("False", "NotCreated")
    assert w.cond("Synced") == ("False", "NotOwned")
    hint = "set spec.adoptionPolicy: Adopt" if policy == "Never" else "does not allow adoption"
    assert hint in w.message("Synced")


async def test_adoption_marks_the_service_then_manages_it() -> None:
    w = World(resourceUuid=FOREIGN, adoptionPolicy="Adopt", requestCpu=8)
    w.zstack.allow_adoption = True
    w.zstack.existing(FOREIGN)
    out = await w.run()
    assert out.result == Done()
    assert w.zstack.tags[FOREIGN] == [OWNER]
    assert [c[0] for c in w.zstack.mutations()] == ["update"]
    assert w.status["uuid"] == FOREIGN
    assert [e.reason for e in out.events if e.reason == "Adopted"] == ["Adopted"]
    w.zstack.log.clear()
    await w.run()
    assert w.zstack.calls("owner-tags", "mark-owner") == []  # status.uuid proves it now


@pytest.mark.parametrize(
    ("marker", "named", "mode"),
    [
        ("zstack-operator::owner::ns/first", "belongs to ModelService first", "Manage"),
        ("zstack-operator::owner::sec-1/victim", "a ModelService in another namespace", "Manage"),
        ("zstack-operator::owner::sec-1/victim", "a ModelService in another namespace", "Observe"),
    ],
    ids=["same-namespace", "other-namespace", "other-namespace-observe"],
)
async def test_a_service_marked_for_another_object_is_neither_managed_nor_shown(
    marker: str, named: str, mode: str
) -> None:
    """A copied manifest, or another tenant's uuid: refused even with Adopt; another
    namespace's object is not named; Observe shows none of its facts."""
    w = World(resourceUuid=FOREIGN, adoptionPolicy="Adopt", managementPolicy=mode)
    w.zstack.allow_adoption = True
    w.zstack.existing(FOREIGN, request_cpu=8)
    w.zstack.tags[FOREIGN] = [marker]
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert named in w.message("Synced")
    assert "victim" not in w.message("Synced")
    assert w.cond("Synced") == ("False", "NotOwned")
    assert not {"uuid", "version", "size", "createDate"} & set(w.status)
    assert w.zstack.mutations() == []


async def test_a_service_marked_with_this_objects_name_is_its_own_after_a_move() -> None:
    w = World(resourceUuid=FOREIGN)
    w.zstack.existing(FOREIGN)
    w.zstack.tags[FOREIGN] = [OWNER]
    out = await w.run()
    assert out.result == Done()
    assert w.status["uuid"] == FOREIGN
    assert w.zstack.calls("mark-owner") == []


async def test_the_connection_of_a_created_service_cannot_change() -> None:
    """The service lives in that connection's ZStack account."""
    w = World()
    await w.run()
    w.edit(connectionRef={"kind": "ZStackConnection", "name": "team"})
    w.zstack.log.clear()
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert w.cond("Synced") == ("False", "ImmutableFieldChanged")
    assert "created through operator-default" in w.message("Synced")
    assert w.zstack.mutations() == []


async def test_a_failed_create_leaves_nothing_frozen() -> None:
    """ZStack never held the service: status.uuid goes, so a corrected spec is a new create."""
    w = World()
    w.zstack.script = ["hold"]
    await w.run()
    assert w.status["uuid"] == OWN_UUID
    job = w.zstack.jobs[first_create()]
    job.state, job.error = "failed", api_error("SYS.1003", "zone not found")
    await w.run()
    assert "uuid" not in w.status
    assert w.cond("Synced") == ("False", "Rejected")


# --- ZStack releases (resources/releases.py) -----------------------------------------------------


async def test_a_field_this_release_does_not_know_is_reported_once_never_sent_never_drift() -> None:
    images = [{"cpuArchitecture": "X86_64", "dockerImage": "registry/app:1"}]
    w = World(architectureImages=images, supportDistributed=True)
    w.zstack.zstack_version = "5.1.20"
    out = await w.run()
    assert out.result == Done()
    (add,) = [c[1] for c in w.zstack.calls("add-param")]
    assert "architectureImages" not in add.wire()
    assert "supportDistributed" not in add.wire()
    note = (
        "ZStack 5.1.20 does not support spec.architectureImages, spec.supportDistributed: "
        "not sent, not compared"
    )
    assert w.cond("Synced") == ("True", "ReconcileSuccess")
    assert note in w.message("Synced")
    assert [(e.warning, e.message) for e in out.events if e.reason == "UnsupportedFields"] == [
        (True, note)
    ]
    w.zstack.log.clear()
    again = await w.run(max_age=60.0)
    assert again.events == ()
    assert w.zstack.mutations() == []
    assert w.zstack.calls("status") == []


def test_release_table() -> None:
    from zstack_operator.resources import releases

    fields = ["source", "architecture_images", "yaml"]
    assert releases.unsupported("5.1.20", fields) == ("source", "architecture_images")
    assert releases.unsupported("5.3.20", fields) == ("architecture_images",)
    assert releases.unsupported("5.5.22", fields) == ()
    assert releases.unsupported(None, fields) == ()
    assert releases.unsupported("unknown", fields) == ()


async def test_observe_shows_a_service_owned_in_its_own_namespace() -> None:
    """The same team may watch a sibling's service; only another namespace's is hidden."""
    w = World(resourceUuid=FOREIGN, managementPolicy="Observe")
    w.zstack.existing(FOREIGN)
    w.zstack.tags[FOREIGN] = ["zstack-operator::owner::ns/first"]
    out = await w.run()
    assert out.result == Done()
    assert w.cond("Ready") == ("True", "Available")
    assert w.status["uuid"] == FOREIGN
    assert w.zstack.mutations() == []


async def test_a_uuid_taken_in_another_account_is_refused_clearly_not_retried() -> None:
    """The other account's service is invisible here; its uuid's create fails as taken."""
    w = World(resourceUuid=FOREIGN)
    w.zstack.script = [api_error("SYS.1000", f"resource[uuid:{FOREIGN}, type:X] already exists")]
    out = await w.run()
    assert isinstance(out.result, Terminal)
    assert w.cond("Synced") == ("False", "NotOwned")
    assert "in an account this connection cannot see" in w.message("Synced")
    assert "uuid" not in w.status
    assert "pendingJob" not in w.status  # "already exists" is final: nothing left to ask


async def test_two_spec_changes_within_one_zstack_second_are_two_updates() -> None:
    """lastOpDate has one-second resolution: the generation keeps the jobs apart."""
    w = World()
    await w.run()
    stamp = w.zstack.services[OWN_UUID].last_op_date
    w.edit(requestCpu=8)
    await w.run()
    w.edit(requestCpu=16)
    # ZStack printed the same second for the create and the first update.
    w.zstack.services[OWN_UUID] = w.zstack.services[OWN_UUID].model_copy(
        update={"last_op_date": stamp}
    )
    w.zstack.clock -= 1
    before = len(w.zstack.mutations())
    await w.run()
    sent = w.zstack.mutations()[before:]
    assert [name for name, _ in sent] == ["update"]
    assert w.zstack.services[OWN_UUID].request_cpu == 16
