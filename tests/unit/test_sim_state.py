"""The simulator's state: seeding, write-through SQLite persistence, claims, reset."""

from __future__ import annotations

from pathlib import Path

from zstack_operator.sim import DEFAULT_MODEL_CENTER_UUID, DEFAULT_MODEL_UUIDS, DEFAULT_ZONE_UUID
from zstack_operator.sim.clock import NodeClock
from zstack_operator.sim.inventory import service_inventory
from zstack_operator.sim.profiles import NEWEST, PROFILES
from zstack_operator.sim.state import JobRecord, ServiceRecord, SessionRecord, State, new_uuid
from zstack_operator.zstack.models import ModelServiceInventory


def service(state: State, name: str) -> ServiceRecord:
    return ServiceRecord(
        uuid=new_uuid(),
        seq=state.next_seq(),
        fields={"name": name, "requestCpu": 1},
        images=[
            {"uuid": new_uuid(), "cpuArchitecture": "AARCH64", "createDate": 0.0, "lastOpDate": 0.0}
        ],
        refs=[{"uuid": new_uuid(), "modelUuid": DEFAULT_MODEL_UUIDS[0]}],
        version=3,
        create_date=1_700_000_000.0,
        last_op_date=1_700_000_060.0,
    )


def test_a_fresh_state_knows_the_seeded_uuids() -> None:
    state = State()
    assert set(state.model_centers) == {DEFAULT_MODEL_CENTER_UUID}
    assert state.zones == {DEFAULT_ZONE_UUID}
    assert set(state.models) == set(DEFAULT_MODEL_UUIDS)
    assert not state.services


def test_everything_survives_a_reopen_in_creation_order(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    state = State(path)
    first, second = service(state, "first"), service(state, "second")
    state.save_service(second)
    state.save_service(first)
    state.save_session(SessionRecord("s" * 32, "acct", 1.0, 2.0))
    state.add_access_key("KEY", "secret")
    state.add_uuid("model", "m" * 32)
    state.save_job(
        JobRecord(
            "j" * 32, "AddModelService", state.next_seq(), 1.0, {"uuid": "x"}, 2.0, claim="x" * 32
        )
    )
    state.delete_session("nobody")
    state.close()

    again = State(path)
    assert list(again.services) == [first.uuid, second.uuid]
    assert again.services[first.uuid] == first
    assert again.sessions["s" * 32].expires_at == 2.0
    assert again.access_keys == {"KEY": "secret"}
    assert "m" * 32 in again.models
    assert again.jobs["j" * 32].running
    assert again.claims == {"x" * 32: "j" * 32}
    assert again.next_seq() > max(first.seq, second.seq)
    again.close()


def test_finishing_a_job_releases_its_claim_and_deletes_are_persisted(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    state = State(path)
    job = JobRecord("j" * 32, "AddModelService", 1, 1.0, {}, 2.0, claim="x" * 32)
    state.save_job(job)
    assert state.claims == {"x" * 32: "j" * 32}
    job.status, job.body, job.completed_at = 200, {}, 3.0
    state.save_job(job)
    assert state.claims == {}
    rec = service(state, "gone")
    state.save_service(rec)
    assert state.delete_service(rec.uuid)
    assert not state.delete_service(rec.uuid)
    state.close()
    again = State(path)
    assert not again.services
    assert not again.jobs["j" * 32].running
    again.close()


def test_reset_goes_back_to_the_seed_also_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    state = State(path)
    state.save_service(service(state, "x"))
    state.add_uuid("center", "c" * 32)
    state.reset()
    state.close()
    again = State(path)
    assert not again.services
    assert set(again.model_centers) == {DEFAULT_MODEL_CENTER_UUID}
    again.close()


def test_the_inventory_parses_with_the_shared_model_and_omits_nulls() -> None:
    state = State()
    rec = service(state, "svc")
    inventory = service_inventory(rec, PROFILES[NEWEST], NodeClock("UTC"))
    assert "description" not in inventory
    assert inventory["version"] == "3"
    assert inventory["createDate"] == "Nov 14, 2023 10:13:20 PM"
    local = service_inventory(rec, PROFILES[NEWEST], NodeClock("Asia/Shanghai"))
    assert local["createDate"] == "Nov 15, 2023 6:13:20 AM"
    assert inventory["cpuArchitectures"] == ["AARCH64"]
    parsed = ModelServiceInventory.model_validate(inventory)
    assert parsed.model_uuids == {DEFAULT_MODEL_UUIDS[0]}
    assert parsed.model_service_images is not None
    assert parsed.model_service_images[0].model_service_uuid == rec.uuid
    assert list(inventory)[:3] == ["uuid", "name", "requestCpu"]
