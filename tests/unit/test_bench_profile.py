"""bench.profile.summarise: where the samples of a py-spy collapsed-stack file went."""

from __future__ import annotations

from zstack_operator.bench.profile import summarise

LOOP = (
    "<module> (zstack_operator/__main__.py:7);run (asyncio/runners.py:190);"
    "BaseEventLoop._run_once (asyncio/base_events.py:1922)"
)
FOLDED = "\n".join(
    [
        f"{LOOP};on_reconcile (zstack_operator/handlers.py:180);loads (json/__init__.py:346) 30",
        f"{LOOP};on_reconcile (zstack_operator/handlers.py:181);"
        "dump (zstack_operator/status.py:9) 10",
        f"{LOOP};process_resource_event (kopf/_core/reactor/processing.py:88) 40",
        f"{LOOP};select (selectors.py:468) 20",
        "malformed line without a count",
    ]
)


def test_self_samples_by_package_and_function() -> None:
    summary = summarise(FOLDED)
    assert summary["samples"] == 100
    assert summary["self_by_package"] == [
        ("kopf", 40, 40.0),
        ("json", 30, 30.0),
        ("selectors", 20, 20.0),
        ("zstack_operator", 10, 10.0),
    ]
    assert summary["self_by_function"][0] == (
        "process_resource_event (kopf/_core/reactor/processing.py)",
        40,
        40.0,
    )


def test_inclusive_samples_merge_lines_of_one_function_and_skip_the_loop() -> None:
    inclusive = {name: n for name, n, _ in summarise(FOLDED)["inclusive_by_function"]}
    assert inclusive["on_reconcile (zstack_operator/handlers.py)"] == 40
    assert not any(name.startswith(("<module>", "run ", "BaseEventLoop")) for name in inclusive)
