"""The ``bench-client`` command runs end to end and prints its table."""

from __future__ import annotations

import pytest
from zstack_operator.cli import main


@pytest.mark.parametrize("extra", [[], ["--sim-process", "--mode", "sync"]])
def test_bench_client_prints_every_measurement(
    capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    argv = ["bench-client", "--creates", "20", "--gets", "20", "--batches", "2", *extra]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["measurement", "count"]
    assert any(line.startswith("add + poll") and " 20 " in line for line in lines)
    assert any(line.startswith("get one uuid") for line in lines)
    assert any(line.startswith("batch get of 1000 uuids") and " 2 " in line for line in lines)
    assert any(line.startswith("simulator no-op round trip") for line in lines)
    assert lines[-1].startswith("simulator overhead per request: ")


def test_bench_client_refuses_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-client", "--concurrency", "0"]) == 2
    assert "--concurrency" in capsys.readouterr().err
