"""bench-chain: the generated chains, the judgement of creates, and the figures it prints."""

from __future__ import annotations

import pytest
from zstack_operator.bench.chain import ChainFigures, _judge_creates, _rows, render
from zstack_operator.bench.chain_manifests import KINDS, generate_chains, load_chain


def test_each_chain_names_its_own_model_and_service() -> None:
    objects = generate_chains(3)
    assert len(objects) == 9
    assert [o["kind"] for o in objects[:3]] == list(KINDS)
    for i in range(3):
        chain = {o["kind"]: o for o in objects[3 * i : 3 * i + 3]}
        model, service, deployment = (
            chain["Model"],
            chain["ModelService"],
            chain["ModelServiceDeployment"],
        )
        name = f"chain-{i:05d}"
        assert {o["metadata"]["name"] for o in (model, service, deployment)} == {name}
        assert {o["spec"]["name"] for o in (model, service, deployment)} == {name}
        assert service["spec"]["modelRefs"] == [{"name": name}]
        assert deployment["spec"]["modelServiceRef"] == {"name": name}
        assert deployment["spec"]["modelRef"] == {"name": name}


def test_the_rest_of_each_spec_is_the_shipped_sample() -> None:
    samples = load_chain()
    model = next(o for o in generate_chains(1) if o["kind"] == "Model")
    for key, value in samples["Model"]["spec"].items():
        if key != "name":
            assert model["spec"][key] == value
    # The samples themselves are untouched by generating.
    assert samples == load_chain()


def _figures(n: int) -> ChainFigures:
    figures = ChainFigures(count=n)
    figures.ready_at = {f"chain-{i}": 3.0 + i for i in range(n)}
    figures.endpoints_answering = n
    figures.zstack_requests = {"AddModel": n, "AddModelService": n, "DeployModelService": n}
    figures.records = {
        "instance groups": n,
        "model services": n,
        "distinct group uuids in status": n,
        "most creates of one uuid": 1,
    }
    return figures


def test_exactly_one_create_each_passes() -> None:
    figures = _figures(4)
    _judge_creates(figures, 4)
    assert figures.failures == []
    text = render(figures.summary() | {"floor_seconds": 2.6})
    assert "all checks passed" in text
    assert "p50 serving                 4.5 s" in text
    assert "all serving                 6.0 s" in text


@pytest.mark.parametrize(
    ("where", "key", "value", "message"),
    [
        ("zstack_requests", "DeployModelService", 5, "DeployModelService: 5 requests for 4"),
        ("records", "instance groups", 5, "instance groups: 5, expected 4"),
        ("records", "most creates of one uuid", 2, "most creates of one uuid: 2, expected 1"),
    ],
)
def test_a_duplicate_fails_the_bench(where: str, key: str, value: int, message: str) -> None:
    figures = _figures(4)
    getattr(figures, where)[key] = value
    _judge_creates(figures, 4)
    assert any(f.startswith(message) for f in figures.failures), figures.failures
    assert "FAILED: " + message in render(figures.summary() | {"floor_seconds": 2.6})


def test_silent_endpoints_fail_the_bench() -> None:
    figures = _figures(4)
    figures.endpoints_answering = 3
    _judge_creates(figures, 4)
    assert figures.failures == ["3/4 endpoints answered"]


def test_table_rows_by_column_name() -> None:
    table = {
        "columnDefinitions": [{"name": "Name"}, {"name": "Ready"}, {"name": "Endpoint"}],
        "rows": [{"cells": ["chain-0", "True", "http://127.0.0.1:1/x"]}],
    }
    assert _rows(table) == [
        {"NAME": "chain-0", "READY": "True", "ENDPOINT": "http://127.0.0.1:1/x"}
    ]
