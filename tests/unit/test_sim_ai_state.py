"""The AI lifecycle state: seeded records, persistence across a reopen, cascades of tags."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from zstack_operator.sim import ADMIN_ACCOUNT_UUID, DEFAULT_MODEL_CENTER_UUID, DEFAULT_MODEL_UUIDS
from zstack_operator.sim.ai_records import GroupRecord, ModelRecord
from zstack_operator.sim.state import State, TagRecord, new_uuid


def group(state: State, owner: str = ADMIN_ACCOUNT_UUID) -> GroupRecord:
    return GroupRecord(
        uuid=new_uuid(),
        seq=state.next_seq(),
        fields={"name": "g", "type": "Container"},
        model_service_uuid=None,
        instances=[{"uuid": new_uuid(), "name": "g-0", "yaml": "y"}],
        datasets=[],
        create_date=1.0,
        last_op_date=1.0,
        deploy_started_at=1.0,
        deploy_seconds=0.2,
        fails=True,
        owner=owner,
    )


def test_the_seed_makes_real_center_and_model_records() -> None:
    state = State()
    center = state.ai.centers[DEFAULT_MODEL_CENTER_UUID]
    assert center.fields["name"] == "default"
    for uuid in DEFAULT_MODEL_UUIDS:
        model = state.ai.models[uuid]
        assert model.owner == ADMIN_ACCOUNT_UUID
        assert model.fields["modelCenterUuid"] == DEFAULT_MODEL_CENTER_UUID


def test_centers_models_and_groups_survive_a_reopen_in_order(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    state = State(path)
    later = ModelRecord("b" * 32, state.next_seq(), {"name": "later"}, 1.0, 1.0, token="t")
    state.ai.save_model(later)
    first = group(state, owner="o" * 32)
    state.ai.save_group(first)
    state.add_uuid("center", "c" * 32)
    state.close()
    again = State(path)
    assert list(again.ai.models)[-1] == "b" * 32
    assert again.ai.models["b" * 32].token == "t"
    assert again.ai.groups[first.uuid] == first
    assert "c" * 32 in again.ai.centers
    assert again.next_seq() > first.seq  # new records sort after the loaded ones
    again.close()


def test_an_old_state_file_with_bare_model_uuids_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    State(path).close()
    with sqlite3.connect(path) as db:  # what the simulator wrote before models were records
        db.execute("DELETE FROM kv WHERE kind = 'model'")
        db.execute("INSERT INTO kv VALUES ('uuid', ?, '{\"type\": \"model\"}')", ("m" * 32,))
    state = State(path)
    assert "m" * 32 in state.ai.models
    assert state.ai.models["m" * 32].fields["installPath"] == "/models/mmmmmmmm"
    state.close()


def test_deleting_a_model_or_group_drops_its_tags() -> None:
    state = State()
    rec = group(state)
    state.ai.save_group(rec)
    for resource in (rec.uuid, DEFAULT_MODEL_UUIDS[0]):
        state.save_tag(TagRecord(new_uuid(), state.next_seq(), resource, "ModelVO", "t", 1.0, 1.0))
    assert state.ai.delete_group(rec.uuid)
    assert state.ai.delete_model(DEFAULT_MODEL_UUIDS[0])
    assert not state.tags
    assert not state.ai.delete_group(rec.uuid)


def test_reset_forgets_groups_and_seeds_again() -> None:
    state = State()
    state.ai.save_group(group(state))
    state.ai.delete_center(DEFAULT_MODEL_CENTER_UUID)
    state.reset()
    assert not state.ai.groups
    assert set(state.ai.centers) == {DEFAULT_MODEL_CENTER_UUID}
