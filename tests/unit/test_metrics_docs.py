"""What the docs promise about /metrics is what /metrics serves, read over real HTTP.

Every metric name the README or docs/*.md mention (``zstack_operator_*``, ``process_*``,
``python_*``) must be served, and every family of the operator's own must be documented in
docs/install.md's metrics table, with exactly the labels it carries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families
from zstack_operator import metrics
from zstack_operator.health import Health, serve

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: A metric name in backticks, as the docs write them.
DOCUMENTED = re.compile(r"`((?:zstack_operator|process|python)_[a-z0-9_]+)")
#: What the Python process exposes through prometheus_client's standard collectors.
PROCESS_METRICS = {
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_start_time_seconds",
    "process_open_fds",
    "process_max_fds",
    "python_info",
    "python_gc_objects_collected_total",
    "python_gc_objects_uncollectable_total",
    "python_gc_collections_total",
}


def documented(paths: list[Path]) -> dict[str, list[str]]:
    """Metric name -> the files that mention it."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for name in DOCUMENTED.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, []).append(path.name)
    return found


@pytest.fixture
async def metrics_text(caplog: pytest.LogCaptureFixture) -> AsyncIterator[str]:
    with caplog.at_level(logging.INFO, logger="zstack_operator.health"):
        runner: web.AppRunner = await serve(Health(), "127.0.0.1:0")
    (url,) = re.findall(r"on (http://127\.0\.0\.1:\d+)$", caplog.text, re.MULTILINE)
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            reply = await client.get(f"{url}/metrics")
        assert reply.status_code == 200
        yield reply.text
    finally:
        await runner.cleanup()


def served(text: str) -> set[str]:
    """Every name /metrics answers to: each family's TYPE name and each sample's name."""
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    for family in text_string_to_metric_families(text):
        names.update(sample.name for sample in family.samples)
    return names


async def test_every_documented_metric_is_served(metrics_text: str) -> None:
    names = served(metrics_text)
    missing = {name: where for name, where in documented(DOCS).items() if name not in names}
    assert not missing, f"documented but not served by /metrics: {missing}"


async def test_the_standard_process_metrics_are_served_and_documented(metrics_text: str) -> None:
    assert served(metrics_text) >= PROCESS_METRICS
    assert set(documented([ROOT / "docs" / "install.md"])) >= PROCESS_METRICS


async def test_every_operator_family_is_in_the_install_docs_table(metrics_text: str) -> None:
    families = {
        name
        for name in re.findall(r"^# TYPE (zstack_operator_\S+) ", metrics_text, re.MULTILINE)
        if not name.endswith("_created")  # prometheus_client's creation time of a counter
    }
    assert families, "the operator's families are missing from /metrics"
    undocumented = families - set(documented([ROOT / "docs" / "install.md"]))
    assert not undocumented, f"served but not in docs/install.md: {sorted(undocumented)}"


def table_labels(path: Path) -> dict[str, list[str]]:
    """Metric -> the labels its row of the metrics table names (each label in backticks, its
    values after it in parentheses)."""
    rows: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`zstack_operator_[a-z0-9_]+`", cells[0]):
            # Values in parentheses may hold commas and backticks of their own: drop them first.
            labels = re.sub(r"\([^)]*\)", "", cells[2])
            rows[cells[0].strip("`")] = re.findall(r"`([a-z_]+)`", labels)
    return rows


def test_the_install_docs_table_names_each_metrics_labels() -> None:
    documented_labels = table_labels(ROOT / "docs" / "install.md")
    own = [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]
    assert own
    for metric in own:
        name = metric._name + ("_total" if metric._type == "counter" else "")
        assert documented_labels.get(name) == list(metric._labelnames), name
