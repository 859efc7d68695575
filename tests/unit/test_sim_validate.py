"""Parameter checks of the simulator: REST-layer type checks and pipeline validation.

Texts as ZStack has them (ZSTACK-API.md section 10): Gson's failures are 500s (row 6),
``TypeVerifier``'s 400s; strings are trimmed at both ends (row 2); SYS.1007 details name
``ApiMessageParamValidator`` where the message class would be expected (row 13).
"""

from __future__ import annotations

from typing import Any

import pytest
from zstack_operator.sim.errorcodes import VALIDATOR, ApiError, RestError
from zstack_operator.sim.validate import ADD_FIELDS, UPDATE_FIELDS, check, coerce, java_trim
from zstack_operator.zstack.models import AddModelServiceParam, UpdateModelServiceParam

VALID: dict[str, Any] = {
    "name": "svc",
    "yaml": "services: []",
    "requestCpu": 2,
    "requestMemory": 1024,
    "modelCenterUuid": "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9",
    "installPath": "/opt/svc",
    "startCommand": "python serve.py",
}


def add(values: dict[str, Any]) -> dict[str, Any]:
    return check(coerce(values, ADD_FIELDS), ADD_FIELDS, AddModelServiceParam)


def test_required_fields_come_from_the_shared_model() -> None:
    required = {spec.name for spec in ADD_FIELDS if spec.required}
    assert required == {
        "name",
        "yaml",
        "modelCenterUuid",
        "requestCpu",
        "requestMemory",
        "installPath",
        "startCommand",
    }
    assert not any(spec.required for spec in UPDATE_FIELDS)
    kinds = {spec.name: spec.kind for spec in ADD_FIELDS}
    assert kinds["architectureImages"] == "arch_images"
    assert kinds["vendorToSpecUuidsMap"] == "spec_map"
    assert kinds["type"] == "enum"


@pytest.mark.parametrize(("value", "expected"), [(4, 4), (4.0, 4), ("4", 4), ("4.0", 4), (-3, -3)])
def test_integers_are_read_like_gson(value: object, expected: int) -> None:
    assert coerce({"requestCpu": value}, ADD_FIELDS) == {"requestCpu": expected}


@pytest.mark.parametrize("value", [1.5, "four", True, [1]])
def test_non_integers_are_a_plain_400(value: object) -> None:
    with pytest.raises(RestError) as info:
        coerce({"requestCpu": value}, ADD_FIELDS)
    assert info.value.status == 400
    assert info.value.text.startswith("[requestCpu] field is excepted an int or long, but was [")


@pytest.mark.parametrize(("field", "value"), [("requestCpu", 2**31), ("requestMemory", 2**63)])
def test_an_integer_gson_cannot_hold_is_a_500(field: str, value: int) -> None:
    with pytest.raises(RestError) as info:
        coerce({field: value}, ADD_FIELDS)
    assert info.value.status == 500
    assert info.value.text.startswith("com.google.gson.JsonSyntaxException: ")
    assert f"but was {value} at path $.{field}" in info.value.text


def test_long_fields_take_64_bit_values() -> None:
    assert coerce({"requestMemory": 2**40}, ADD_FIELDS) == {"requestMemory": 2**40}


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("FALSE", False), ("true", True)])
def test_booleans_accept_true_and_false(value: object, expected: bool) -> None:
    assert coerce({"system": value}, ADD_FIELDS) == {"system": expected}


@pytest.mark.parametrize("value", [1, "yes", 0.0])
def test_non_booleans_are_a_plain_400(value: object) -> None:
    with pytest.raises(RestError) as info:
        coerce({"supportDistributed": value}, ADD_FIELDS)
    assert info.value.status == 400
    assert "Invalid value for boolean field [supportDistributed]" in info.value.text


@pytest.mark.parametrize(
    "values",
    [
        {"name": {"a": 1}},
        {"modelUuids": "not-a-list"},
        {"architectureImages": ["X86_64"]},
        {"vendorToSpecUuidsMap": ["nvidia"]},
        {"vendorToSpecUuidsMap": {"nvidia": "spec"}},
    ],
)
def test_structures_gson_cannot_read_are_a_500(values: dict[str, Any]) -> None:
    with pytest.raises(RestError) as info:
        coerce(values, ADD_FIELDS)
    assert info.value.status == 500
    assert info.value.text.startswith("com.google.gson.JsonSyntaxException: ")


def test_unknown_and_null_fields_are_ignored_and_scalars_become_text() -> None:
    assert coerce(
        {"bogus": 1, "description": None, "name": 7, "pythonVersion": 3.1}, ADD_FIELDS
    ) == {
        "name": "7",
        "pythonVersion": "3.1",
    }


@pytest.mark.parametrize("field", sorted(n for n in VALID))
def test_missing_required_field_is_named(field: str) -> None:
    values = {k: v for k, v in VALID.items() if k != field}
    with pytest.raises(ApiError) as info:
        add(values)
    assert info.value.error.code == "SYS.1007"
    assert info.value.error.description == "One or more API argument is invalid"
    assert info.value.error.details == (
        f"field[{field}] of message[{VALIDATOR}] is mandatory, can not be null"
    )


@pytest.mark.parametrize(
    ("extra", "details"),
    [
        (
            {"type": "Batch"},
            f"valid value for field[type] of message[{VALIDATOR}] are "
            "[Endpoint, FineTune, ModelEval, App], but Batch found",
        ),
        (
            {"architectureImages": [{"cpuArchitecture": "RISCV"}]},
            f"valid value for field[architectureImages[0].cpuArchitecture] of message[{VALIDATOR}]"
            " are [X86_64, AARCH64], but RISCV found",
        ),
        (
            {"architectureImages": [{"dockerImage": "img"}]},
            f"field[architectureImages[0].cpuArchitecture] of message[{VALIDATOR}] is mandatory, "
            "can not be null",
        ),
        ({"requestCpu": 0}, "field[requestCpu] must be in range of [1, 2147483647]"),
        (
            {"requestMemory": -1},
            "field[requestMemory] must be in range of [1, 9223372036854775807]",
        ),
    ],
)
def test_invalid_values_are_sys_1007_naming_the_field(extra: dict[str, Any], details: str) -> None:
    with pytest.raises(ApiError) as info:
        add({**VALID, **extra})
    assert info.value.error.code == "SYS.1007"
    assert info.value.error.details == details


def test_duplicate_architectures_are_refused() -> None:
    images = [{"cpuArchitecture": "X86_64"}, {"cpuArchitecture": "X86_64"}]
    with pytest.raises(ApiError, match="duplicate cpuArchitecture"):
        add({**VALID, "architectureImages": images})


@pytest.mark.parametrize(
    "uuid",
    [
        "5B1A1E0C6C2D4C8FB1F0A3D2E4C6B8A9",
        "5b1a1e0c-6c2d-4c8f-b1f0-a3d2e4c6b8a9",
        "5b1a1e0c6c2d0c8fb1f0a3d2e4c6b8a9",
        "5b1a1e0c6c2d4c8f01f0a3d2e4c6b8a9",
        "short",
    ],
)
def test_resource_uuid_must_match_zstacks_pattern(uuid: str) -> None:
    with pytest.raises(ApiError) as info:
        add({**VALID, "resourceUuid": uuid})
    assert info.value.error.code == "SYS.1007"
    assert info.value.error.details is not None
    assert info.value.error.details.startswith(f"resourceUuid[{uuid}] is not a valid uuid")


def test_valid_params_are_trimmed_at_both_ends_like_java() -> None:
    checked = add(
        {**VALID, "name": "svc \n", "yaml": "\ta: 1\n\n", "description": "  lead", "type": " App "}
    )
    assert (checked["name"], checked["yaml"], checked["description"]) == ("svc", "a: 1", "lead")
    assert checked["type"] == "App"  # trimmed before validValues are checked
    assert AddModelServiceParam.model_validate(checked).request_cpu == 2
    # String.trim stops at U+0020: a no-break space is not whitespace to Java.
    assert java_trim("\u00a0x\x00 \x1f") == "\u00a0x"


def test_update_checks_only_given_fields() -> None:
    values = coerce({"requestCpu": "8", "type": "App"}, UPDATE_FIELDS)
    assert check(values, UPDATE_FIELDS, UpdateModelServiceParam) == {
        "requestCpu": 8,
        "type": "App",
    }
    with pytest.raises(ApiError, match=r"field\[type\] of message\[.*ApiMessageParamValidator\]"):
        check({"type": "x"}, UPDATE_FIELDS, UpdateModelServiceParam)
