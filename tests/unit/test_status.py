"""status builders: conditions, transitions, scrubbing and minimal merge patches."""

from __future__ import annotations

from zstack_operator import status as st
from zstack_operator.resources import (
    ConditionType,
    ModelServiceStatus,
    ReadyReason,
    SyncedReason,
)
from zstack_operator.zstack import known_secrets
from zstack_operator.zstack.errors import ZStackAPIError
from zstack_operator.zstack.models import ErrorCode

T0 = "2020-01-01T00:00:00Z"


def test_transition_time_moves_only_when_the_status_flips() -> None:
    s0 = ModelServiceStatus()
    s1 = st.set_condition(s0, ConditionType.READY, False, ReadyReason.CREATING, "x", 1)
    first = s1.conditions[0].last_transition_time
    s1 = s1.model_copy(
        update={"conditions": [s1.conditions[0].model_copy(update={"last_transition_time": T0})]}
    )
    s2 = st.set_condition(s1, ConditionType.READY, False, ReadyReason.UPDATING, "y", 2)
    assert s2.conditions[0].last_transition_time == T0  # still False: no transition
    s3 = st.set_condition(s2, ConditionType.READY, True, ReadyReason.AVAILABLE, "z", 2)
    assert s3.conditions[0].last_transition_time != T0
    assert first


def test_transitions_name_each_changed_condition_once() -> None:
    s0 = ModelServiceStatus()
    s1 = st.set_condition(s0, ConditionType.READY, True, ReadyReason.AVAILABLE, "ok", 1)
    s1 = st.set_condition(s1, ConditionType.SYNCED, False, SyncedReason.REJECTED, "bad", 1)
    events = st.transitions(s0, s1)
    assert [(e.reason, e.warning) for e in events] == [("Available", False), ("Rejected", True)]
    assert st.transitions(s1, s1) == []


def test_a_wait_said_by_ready_and_synced_alike_is_one_event() -> None:
    s0 = ModelServiceStatus()
    wait = "waiting for ModelService qwen2-vllm: it is not Ready yet"
    s1 = st.set_condition(
        s0, ConditionType.READY, False, ReadyReason.WAITING_FOR_DEPENDENCY, wait, 1
    )
    s1 = st.set_condition(
        s1, ConditionType.SYNCED, False, SyncedReason.WAITING_FOR_DEPENDENCY, wait, 1
    )
    events = st.transitions(s0, s1)
    assert [(e.reason, e.message) for e in events] == [("WaitingForDependency", wait)]


def test_merge_patch_is_none_when_nothing_changed_and_nulls_removed_keys() -> None:
    old = {"uuid": "a", "pendingJob": {"uuid": "j"}, "conditions": [1]}
    assert st.merge_patch(old, dict(old)) is None
    patch = st.merge_patch(old, {"uuid": "a", "conditions": [2]})
    assert patch == {"pendingJob": None, "conditions": [2]}


def test_scrub_masks_registered_secrets_and_session_paths() -> None:
    known_secrets.register("hunter2-very-secret")
    text = st.scrub("login failed for hunter2-very-secret at /accounts/sessions/abcdef123456")
    assert "hunter2" not in text
    assert "abcdef123456" not in text


def test_error_status_flattens_the_cause_chain() -> None:
    code = ErrorCode.model_validate(
        {
            "code": "SYS.1007",
            "details": "field[name] is mandatory",
            "cause": {"code": "SYS.1000", "cause": {"code": "X.1"}},
        }
    )
    err = st.error_status(ZStackAPIError(code, api="AddModelService"))
    assert err is not None
    assert err.code == "SYS.1007"
    assert [c.code for c in err.causes] == ["SYS.1000", "X.1"]


def test_kstatus_conditions_follow_ready_and_synced() -> None:
    s = ModelServiceStatus()
    creating = st.set_condition(s, ConditionType.READY, False, ReadyReason.CREATING, "c", 1)
    assert [c.type for c in st.with_kstatus(creating).conditions] == ["Ready", "Reconciling"]
    rejected = st.set_condition(
        creating, ConditionType.SYNCED, False, SyncedReason.REJECTED, "r", 1
    )
    stalled = st.with_kstatus(rejected)
    assert [(c.type, c.reason) for c in stalled.conditions] == [
        ("Ready", "Creating"),
        ("Synced", "Rejected"),
        ("Stalled", "Rejected"),
    ]
    ok = st.set_condition(stalled, ConditionType.READY, True, ReadyReason.AVAILABLE, "a", 2)
    ok = st.set_condition(ok, ConditionType.SYNCED, True, SyncedReason.RECONCILE_SUCCESS, "s", 2)
    assert [c.type for c in st.with_kstatus(ok).conditions] == ["Ready", "Synced"]


def test_a_failed_deployment_is_stalled_until_it_is_replaced() -> None:
    s = ModelServiceStatus()
    deploying = st.set_condition(s, ConditionType.READY, False, ReadyReason.DEPLOYING, "d", 1)
    assert [c.type for c in st.with_kstatus(deploying).conditions] == ["Ready", "Reconciling"]
    failed = st.set_condition(
        deploying, ConditionType.READY, False, ReadyReason.FAILED, "group g is Failed", 1
    )
    failed = st.set_condition(
        failed, ConditionType.SYNCED, True, SyncedReason.RECONCILE_SUCCESS, "ok", 1
    )
    stalled = st.with_kstatus(failed)
    assert [(c.type, c.status, c.reason, c.message) for c in stalled.conditions][-1] == (
        "Stalled",
        "True",
        "Failed",
        "group g is Failed",
    )
