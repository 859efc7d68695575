"""status.error is bounded in every field and in its cause chain, and scrubbed throughout,
however large the error ZStack sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from zstack_operator import status as st
from zstack_operator.resources import ModelServiceStatus
from zstack_operator.zstack import known_secrets
from zstack_operator.zstack.errors import ZStackAPIError
from zstack_operator.zstack.models import ErrorCode

FIELDS = ("code", "description", "details", "elaboration")


def huge_error(depth: int, size: int = 200_000) -> ErrorCode:
    """A chain of ``depth`` errors whose every field is ``size`` characters long."""
    node: dict[str, Any] | None = None
    for level in reversed(range(depth)):
        node = {
            "code": f"L{level}." + "C" * size,
            "description": f"level {level} " + "d" * size,
            "details": f"level {level} " + "java.lang.RuntimeException at x.y(Z.java:1)\n" * 5000,
            "elaboration": f"level {level} " + "e" * size,
            "cause": node,
        }
    return ErrorCode.model_validate(node)


def status_error(error: ErrorCode) -> dict[str, Any]:
    err = st.error_status(ZStackAPIError(error, api="AddModelService"))
    assert err is not None
    dumped = st.dump(ModelServiceStatus(error=err))["error"]
    assert isinstance(dumped, dict)
    return dumped


def test_every_field_of_a_huge_error_is_cut_to_its_limit_with_an_ellipsis() -> None:
    error = status_error(huge_error(depth=1))
    assert set(error) == {*FIELDS, "causes"}
    assert error["causes"] == []
    for field in FIELDS:
        limit = st.ERROR_FIELD_LIMITS[field]
        assert len(error[field]) == limit, field
        assert error[field].endswith("…"), field
    assert error["code"].startswith("L0.CCC")
    assert error["description"].startswith("level 0 ddd")


def test_a_deep_chain_keeps_the_outermost_causes_and_the_root_cause() -> None:
    error = status_error(huge_error(depth=16))  # ErrorCode.chain() stops at 16
    causes = error["causes"]
    assert len(causes) == st.MAX_ERROR_CAUSES
    kept = st.MAX_ERROR_CAUSES - 2
    assert [c["description"].split(" ")[1] for c in causes[:kept]] == ["1", "2", "3"]
    assert causes[kept] == {"details": f"… {15 - kept - 1} more causes left out …"}
    assert causes[-1]["description"].startswith("level 15 ")
    for cause in (error, *causes):
        for field, value in cause.items():
            if field != "causes":
                assert len(value) <= st.ERROR_FIELD_LIMITS[field], field


def test_the_whole_error_has_a_fixed_ceiling() -> None:
    error = status_error(huge_error(depth=16))
    ceiling = (st.MAX_ERROR_CAUSES + 1) * sum(st.ERROR_FIELD_LIMITS.values())
    assert len(json.dumps(error, ensure_ascii=False)) < ceiling + 1024  # keys and punctuation
    assert ceiling < 16 * 1024


def test_short_chains_and_fields_are_kept_whole() -> None:
    code = ErrorCode.model_validate(
        {
            "code": "SYS.1007",
            "description": "One or more API argument is invalid",
            "details": "field[name] is mandatory",
            "cause": {"code": "SYS.1000", "cause": {"code": "X.1", "details": "root"}},
        }
    )
    error = status_error(code)
    assert error == {
        "code": "SYS.1007",
        "description": "One or more API argument is invalid",
        "details": "field[name] is mandatory",
        "causes": [{"code": "SYS.1000"}, {"code": "X.1", "details": "root"}],
    }


@pytest.mark.parametrize("field", FIELDS)
def test_every_field_is_scrubbed_before_it_is_cut(field: str) -> None:
    secret = "Qx7-very-secret-value"
    known_secrets.register(secret)
    limit = st.ERROR_FIELD_LIMITS[field]
    # The secret straddles the cut: cutting first would leave its start behind.
    text = "x" * (limit - 5) + secret
    error = status_error(ErrorCode.model_validate({field: text, "cause": {field: text}}))
    for shown in (error[field], error["causes"][0][field]):
        assert "Qx7" not in shown
        assert len(shown) <= limit
    session = "/accounts/sessions/0123456789abcdef0123456789abcdef"
    error = status_error(ErrorCode.model_validate({field: f"at {session}"}))
    assert "0123456789abcdef" not in error[field]
