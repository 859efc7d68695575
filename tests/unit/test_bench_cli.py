"""bench.cli: ``--sizes`` parsing, and the per-size loop with the runs replaced by a fake."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from zstack_operator.bench import cli
from zstack_operator.bench.context import Context, Options
from zstack_operator.bench.targets import SizeFigures


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000,3000", [1000, 3000]),
        ("3000, 1000", [1000, 3000]),
        ("100,1000,100,3000", [100, 1000, 3000]),
        ("1000,3000,", [1000, 3000]),
    ],
)
def test_sizes_are_sorted_distinct_counts(text: str, expected: list[int]) -> None:
    assert cli._sizes(text) == expected


@pytest.mark.parametrize("text", ["1000", "1000,1000", "0,1000", "1000,x", ""])
def test_sizes_refuse_fewer_than_two_counts_or_garbage(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        cli._sizes(text)


async def test_scale_runs_every_size_apart_then_compares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[int, Path, str]] = []

    async def fake_measure(ctx: Context) -> tuple[int, SizeFigures]:
        n = ctx.opts.count
        seen.append((n, ctx.opts.out, ctx.run_id))
        rss = (100 + 10 * n // 1000) * 1024
        figures = SizeFigures(n, n / 100, 1.2 * n / 100, rss, rss - 40 * 1024, None, n / 500, 2)
        return 0, figures

    monkeypatch.setattr(cli, "_measure", fake_measure)
    none: Any = None
    ctx = Context(Options(out=tmp_path), none, none, "http://sim", "abc123", tmp_path / "kc")
    assert await cli._scale(ctx, [1000, 3000]) == 0
    assert seen == [
        (1000, tmp_path / "n1000", "abc123-n1000"),
        (3000, tmp_path / "n3000", "abc123-n3000"),
    ]
    assert (ctx.opts.out, ctx.run_id) == (tmp_path, "abc123")
    out = capsys.readouterr().out
    assert out.index("== N = 1000 ==") < out.index("== N = 3000 ==") < out.index("== sizes")
    assert "MiB per 1,000 objects" in out
    doc = json.loads((tmp_path / "scale.json").read_text())
    assert [s["count"] for s in doc["sizes"]] == [1000, 3000]
    assert doc["rss_slopes_mib_per_1000"]["operator"] == pytest.approx(10.0)
    assert [t["verdict"] for t in doc["targets"]] == ["yes", "yes", "yes", "yes"]


async def test_scale_fails_when_one_size_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fake_measure(ctx: Context) -> tuple[int, SizeFigures]:
        n = ctx.opts.count
        return (1 if n == 3000 else 0), SizeFigures(n, None, None, None, None)

    monkeypatch.setattr(cli, "_measure", fake_measure)
    none: Any = None
    ctx = Context(Options(out=tmp_path), none, none, "http://sim", "abc123", tmp_path / "kc")
    assert await cli._scale(ctx, [1000, 3000]) == 1
