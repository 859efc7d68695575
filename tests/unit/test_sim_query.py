"""The simulator's query language: parsing like RestServer, SQL-like evaluation, paging."""

from __future__ import annotations

import pytest
from zstack_operator.sim.errorcodes import ApiError, RestError
from zstack_operator.sim.query import (
    Condition,
    QuerySpec,
    candidate_uuids,
    matches,
    parse_condition,
    parse_query,
    run_query,
)

INVENTORIES = [
    {
        "uuid": "a" * 32,
        "name": "alpha",
        "requestCpu": 1,
        "system": False,
        "description": "first",
        "createDate": "Jan 2, 2025 10:00:00 AM",
        "modelServiceRefs": [{"uuid": "r1", "modelUuid": "m1", "modelServiceUuid": "a" * 32}],
        "cpuArchitectures": ["X86_64"],
    },
    {
        "uuid": "b" * 32,
        "name": "beta",
        "requestCpu": 4,
        "system": True,
        "createDate": "Jan 1, 2025 10:00:00 PM",
        "modelServiceRefs": [],
        "cpuArchitectures": [],
    },
    {
        "uuid": "c" * 32,
        "name": "gamma_1",
        "requestCpu": 16,
        "system": False,
        "description": "third",
        "createDate": "Jan 3, 2025 9:00:00 AM",
        "modelServiceRefs": [{"uuid": "r2", "modelUuid": "m2", "modelServiceUuid": "c" * 32}],
        "cpuArchitectures": ["X86_64", "AARCH64"],
    },
]


def names(reply: dict[str, object]) -> list[str]:
    inventories = reply["inventories"]
    assert isinstance(inventories, list)
    return [inv["name"] for inv in inventories]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name=alpha", Condition("name", "=", "alpha")),
        ("name!=alpha", Condition("name", "!=", "alpha")),
        ("requestCpu>=4", Condition("requestCpu", ">=", "4")),
        ("requestCpu<=4", Condition("requestCpu", "<=", "4")),
        ("uuid!?=a,b", Condition("uuid", "!?=", "a,b")),
        ("name!~=al%", Condition("name", "!~=", "al%")),
        ("name~=al%", Condition("name", "~=", "al%")),
        ("uuid?=a,b", Condition("uuid", "?=", "a,b")),
        ("requestCpu>4", Condition("requestCpu", ">", "4")),
        ("requestCpu<4", Condition("requestCpu", "<", "4")),
        (" description is null", Condition("description", "is null")),
        ("description not null", Condition("description", "not null")),
        # Values are not trimmed; names are. The first operator contained wins ("=" in the value).
        (" name = a b ", Condition("name", "=", " a b ")),
        ("name=x>=y", Condition("name=x", ">=", "y")),
    ],
)
def test_conditions_split_like_the_rest_server(text: str, expected: Condition) -> None:
    assert parse_condition(text) == expected


def test_a_condition_without_operator_is_a_plain_400() -> None:
    with pytest.raises(RestError) as info:
        parse_condition("name")
    assert info.value.status == 400
    assert "doesn't contain any query operator" in info.value.text


@pytest.mark.parametrize("param", ["limit", "start"])
def test_non_integer_paging_is_a_plain_400(param: str) -> None:
    with pytest.raises(RestError) as info:
        parse_query([(param, "ten")])
    assert info.value.status == 400
    assert info.value.text == f"Invalid query parameter. '{param}' must be an integer"


def test_parse_query_reads_every_parameter() -> None:
    spec = parse_query(
        [
            ("q", "name=a"),
            ("q", "requestCpu>1"),
            ("limit", " 5 "),
            ("start", "2"),
            ("count", "TRUE"),
            ("replyWithCount", "true"),
            ("sort", "-createDate"),
            ("fields", "uuid, name"),
            ("unknown", "ignored"),
        ]
    )
    assert spec == QuerySpec(
        conditions=(Condition("name", "=", "a"), Condition("requestCpu", ">", "1")),
        limit=5,
        start=2,
        count=True,
        reply_with_count=True,
        sort_by="createDate",
        sort_desc=True,
        fields=("uuid", "name"),
    )
    assert parse_query([("sort", "name")]).sort_desc is False
    assert parse_query([]).limit == 1000


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("name=alpha", ["alpha"]),
        ("name!=alpha", ["beta", "gamma_1"]),
        ("requestCpu>4", ["gamma_1"]),
        ("requestCpu>=4", ["beta", "gamma_1"]),
        ("requestCpu<4", ["alpha"]),
        ("requestCpu<=4", ["alpha", "beta"]),
        ("name?=alpha,gamma_1,nope", ["alpha", "gamma_1"]),
        ("name!?=alpha,beta", ["gamma_1"]),
        ("name~=%a", ["alpha", "beta"]),
        ("name~=gamma\\_1", ["gamma_1"]),  # MySQL's default escape character
        ("name~=alph\\_", []),
        ("name~=gamm___", ["gamma_1"]),
        ("name!~=%ta", ["alpha", "gamma_1"]),
        ("description is null", ["beta"]),
        ("description not null", ["alpha", "gamma_1"]),
        # SQL: a null column never satisfies a comparison, not even !=.
        ("description!=first", ["gamma_1"]),
        ("system=true", ["beta"]),
        ("createDate>Jan 1, 2025 11:00:00 PM", ["alpha", "gamma_1"]),
        ("modelServiceRefs.modelUuid=m2", ["gamma_1"]),
        ("modelServiceRefs.modelUuid!=m2", ["alpha"]),
        ("cpuArchitectures=AARCH64", ["gamma_1"]),
    ],
)
def test_operators(q: str, expected: list[str]) -> None:
    assert names(run_query(parse_query([("q", q)]), INVENTORIES)) == expected


def test_conditions_are_anded() -> None:
    spec = parse_query([("q", "requestCpu>1"), ("q", "system=false")])
    assert names(run_query(spec, INVENTORIES)) == ["gamma_1"]


def test_paging_sorting_counting_and_fields() -> None:
    by_date = run_query(parse_query([("sort", "+createDate")]), INVENTORIES)
    assert names(by_date) == ["beta", "alpha", "gamma_1"]
    newest_first = run_query(parse_query([("sort", "-createDate"), ("limit", "2")]), INVENTORIES)
    assert names(newest_first) == ["gamma_1", "alpha"]
    page = run_query(
        parse_query([("start", "1"), ("limit", "1"), ("replyWithCount", "true")]), INVENTORIES
    )
    assert names(page) == ["beta"]
    assert page["total"] == 3
    assert run_query(parse_query([("count", "true"), ("q", "system=false")]), INVENTORIES) == {
        "total": 2
    }
    nulls_first = run_query(parse_query([("sort", "description")]), INVENTORIES)
    assert names(nulls_first) == ["beta", "alpha", "gamma_1"]
    projected = run_query(parse_query([("fields", "name"), ("limit", "1")]), INVENTORIES)
    assert projected == {"inventories": [{"name": "alpha"}]}


@pytest.mark.parametrize(
    "params",
    [
        [("q", "nosuchfield=1")],
        [("q", "modelServiceRefs.nosuch=1")],
        [("sort", "nosuchfield")],
        [("q", "requestCpu>many")],
        [("limit", "-1")],
    ],
)
def test_invalid_queries_are_sys_1007(params: list[tuple[str, str]]) -> None:
    with pytest.raises(ApiError) as info:
        run_query(parse_query(params), INVENTORIES)
    assert info.value.error.code == "SYS.1007"


def test_uuid_conditions_narrow_the_candidates() -> None:
    assert candidate_uuids(parse_query([("q", "name=x")])) is None
    assert candidate_uuids(parse_query([("q", "uuid=a")])) == {"a"}
    spec = parse_query([("q", "uuid?=a,b,c"), ("q", "uuid?=b,c,d")])
    assert candidate_uuids(spec) == {"b", "c"}


def test_matches_handles_missing_nested_lists() -> None:
    assert not matches(Condition("modelServiceRefs.modelUuid", "=", "m1"), {"uuid": "x"})
    assert matches(Condition("modelServiceRefs.modelUuid", "is null"), {"uuid": "x"})
