"""plan(): desired spec vs observed inventory -> one action, with ZStack's normalisation."""

from __future__ import annotations

from typing import Any

import pytest
from zstack_operator import plan as planning
from zstack_operator.resources import CreatedWith, ModelServiceSpec
from zstack_operator.zstack.models import ModelServiceInventory

UUID = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
CENTER = "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"
MODELS = ("c4ca4238a0b94382b0c8d1e2f3a4b5c6", "c81e728d9d4c4f0a8b1c2d3e4f5a6b7c")


def spec(**over: Any) -> ModelServiceSpec:
    base: dict[str, Any] = {
        "yaml": "services:\n- name: api\n",
        "requestCpu": 4,
        "requestMemory": 1024,
        "modelCenterUuid": CENTER,
        "installPath": "/opt/svc",
        "startCommand": "python serve.py",
    }
    base.update(over)
    return ModelServiceSpec.model_validate(base)


def inventory(**over: Any) -> ModelServiceInventory:
    base: dict[str, Any] = {
        "uuid": UUID,
        "name": "demo",
        "yaml": "services:\n- name: api",  # ZStack trims text at both ends
        "requestCpu": 4,
        "requestMemory": 1024,
        "modelCenterUuid": CENTER,
        "installPath": "/opt/svc",
        "startCommand": "python serve.py",
        "type": "Endpoint",
        "framework": "Other",
        "description": "",
        "version": "1",
    }
    base.update(over)
    return ModelServiceInventory.model_validate(base)


def run(s: ModelServiceSpec, inv: ModelServiceInventory | None, **kw: Any) -> planning.Action:
    return planning.plan(s, inv, uuid=UUID, default_name="demo", **kw)


def test_absent_service_is_created_with_our_uuid_and_the_default_name() -> None:
    action = run(spec(systemTags=["a::b"]), None)
    assert isinstance(action, planning.Create)
    assert action.param.resource_uuid == UUID
    assert action.param.name == "demo"
    assert action.system_tags == ["a::b"]
    assert "description" not in action.param.wire()  # unset fields are never sent


def test_equal_after_normalisation_is_a_noop() -> None:
    # Unset spec fields (type, framework, description) are ZStack's business, not drift.
    assert isinstance(run(spec(), inventory()), planning.Noop)
    assert isinstance(run(spec(description=""), inventory()), planning.Noop)


@pytest.mark.parametrize(
    "over",
    [
        {"yaml": "\n  services:\n- name: api\n\n"},
        {"startCommand": " \tpython serve.py\r\n"},
        {"installPath": "  /opt/svc"},
    ],
    ids=["yaml", "start-command", "install-path-immutable"],
)
def test_text_is_compared_trimmed_at_both_ends_as_zstack_stores_it(over: dict[str, Any]) -> None:
    """A leading newline or space never reads as drift (an endless update loop on a real node)
    nor, for an immutable field, as a change the operator refuses."""
    assert isinstance(run(spec(**over), inventory()), planning.Noop)


def test_trimming_is_javas_not_unicodes() -> None:
    """String.trim() drops U+0000..U+0020 only: a no-break space is content."""
    assert planning.java_trim("\x00\x1f x \t") == "x"
    assert planning.java_trim("\u00a0x\u00a0") == "\u00a0x\u00a0"


def test_only_changed_mutable_fields_are_updated() -> None:
    action = run(spec(requestCpu=8, description="new"), inventory())
    assert isinstance(action, planning.Change)
    assert set(action.fields) == {"request_cpu", "description"}
    assert action.update is not None
    assert action.update.wire() == {"requestCpu": 8, "description": "new"}
    assert not action.bind
    assert not action.unbind


def test_name_defaults_to_metadata_name_and_is_compared() -> None:
    action = run(spec(), inventory(name="renamed-in-zstack"))
    assert isinstance(action, planning.Change)
    assert action.update is not None
    assert action.update.wire() == {"name": "demo"}


def test_model_bindings_become_bind_and_unbind() -> None:
    refs = [{"modelUuid": MODELS[1], "modelServiceUuid": UUID}]
    action = run(spec(modelUuids=[MODELS[0]]), inventory(modelServiceRefs=refs))
    assert isinstance(action, planning.Change)
    assert action.update is None
    assert action.bind == (MODELS[0],)
    assert action.unbind == (MODELS[1],)


def test_unset_model_uuids_leave_bindings_alone() -> None:
    refs = [{"modelUuid": MODELS[1]}]
    assert isinstance(run(spec(), inventory(modelServiceRefs=refs)), planning.Noop)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("installPath", "/elsewhere"),
        ("modelCenterUuid", "ffffffffffffffffffffffffffffffff"),
        ("condaVersion", "23.1"),
    ],
)
def test_immutable_change_is_refused_without_a_call(field: str, value: str) -> None:
    inv = inventory(condaVersion="22.9")
    action = run(spec(**{field: value}), inv)
    assert isinstance(action, planning.Refuse)
    assert action.message.startswith(field)


def test_create_only_fields_compare_with_what_was_sent() -> None:
    zone = "8f14e45fceea467a9b0c7d1e2f3a4b5c"
    created = CreatedWith(zone_uuid=zone)
    assert isinstance(run(spec(zoneUuid=zone), inventory(), created_with=created), planning.Noop)
    moved = run(spec(zoneUuid="0" * 32), inventory(), created_with=created)
    assert isinstance(moved, planning.Refuse)
    assert moved.fields == ("zone_uuid",)


def test_a_different_resource_uuid_is_refused() -> None:
    action = run(spec(resourceUuid="1a1b2c3d4e5f40718293a4b5c6d7e8f9"), inventory())
    assert isinstance(action, planning.Refuse)
    assert "resourceUuid" in action.message


def test_observe_mode_reports_and_never_acts() -> None:
    missing = run(spec(), None, observe_only=True)
    assert missing == planning.Report(missing=True)
    diff = run(spec(requestCpu=2, installPath="/x"), inventory(), observe_only=True)
    assert isinstance(diff, planning.Report)
    assert set(diff.fields) == {"request_cpu", "install_path"}


def test_architecture_images_compare_with_model_service_images() -> None:
    images = [{"cpuArchitecture": "X86_64", "dockerImage": "reg/svc:1"}]
    inv = inventory(modelServiceImages=[{"cpuArchitecture": "X86_64", "dockerImage": "reg/svc:1"}])
    assert isinstance(run(spec(architectureImages=images), inv), planning.Noop)
    images[0]["dockerImage"] = "reg/svc:2"
    action = run(spec(architectureImages=images), inv)
    assert isinstance(action, planning.Change)
    assert action.fields == ("architecture_images",)


def test_vendor_map_order_does_not_matter() -> None:
    a, b = "a87ff679a2f34c71811d3e4f5a6b7c8d", "e4da3b7fbbce4345a3c1d2e3f4a5b6c7"
    inv = inventory(vendorToSpecUuidsMap={"NVIDIA": [b, a]})
    assert isinstance(run(spec(vendorToSpecUuidsMap={"NVIDIA": [a, b]}), inv), planning.Noop)
