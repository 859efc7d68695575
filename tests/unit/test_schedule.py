"""The drift schedule (pure, fake clock), the loop that runs it, and the per-object lock."""

from __future__ import annotations

import asyncio

import pytest
from zstack_operator.reconcile.drift import RECHECK, DriftLoop, KeyedLock
from zstack_operator.reconcile.schedule import MIN_INTERVAL, DriftSchedule, Entry, interval_of


def lowest(a: float, b: float) -> float:
    return a


def highest(a: float, b: float) -> float:
    return b


def test_a_first_check_is_spread_over_half_an_interval_after_the_first() -> None:
    """Just reconciled: no check for an interval; 3,000 resumed objects spread over half one."""
    for uniform, due in ((lowest, 100.0), (highest, 150.0)):
        s = DriftSchedule(uniform=uniform)
        s.track("a", "ns", "a", interval=100.0, now=0.0)
        assert s.next_due() == due


def test_after_a_check_the_next_is_one_jittered_interval_on() -> None:
    s = DriftSchedule(uniform=lowest)
    s.track("a", "ns", "a", interval=100.0, now=0.0)
    assert s.pop_due(99.9) == []
    assert s.pop_due(100.0) == ["a"]
    assert s.next_due() == pytest.approx(100.0 + 90.0)
    assert s.pop_due(150.0) == []


@pytest.mark.parametrize("interval", [1.0, 5.0, 29.0])
def test_short_intervals_are_honoured(interval: float) -> None:
    """There is no tick: a 5 s interval gives a check every 5 s (it was 30-60 s)."""
    s = DriftSchedule(uniform=highest)
    s.track("a", "ns", "a", interval=interval, now=0.0)
    checks, now = 0, 0.0
    while now < 12 * interval:
        now += 0.25
        checks += len(s.pop_due(now))
    assert checks >= 9


def test_a_shorter_interval_moves_the_next_check_earlier() -> None:
    s = DriftSchedule(uniform=highest)
    s.track("a", "ns", "a", interval=600.0, now=0.0)
    s.track("a", "ns", "a", interval=5.0, now=1.0)
    assert s.next_due() == pytest.approx(1.0 + 5.5)
    assert s.pop_due(6.5) == ["a"]
    assert s.pop_due(600.0) == ["a"]  # the stale 600 s slot is dropped, not run twice


def test_a_forgotten_object_never_comes_due() -> None:
    s = DriftSchedule(uniform=lowest)
    s.track("a", "ns", "a", interval=10.0, now=0.0)
    s.forget("a")
    assert s.pop_due(1000.0) == []
    assert len(s) == 0


def test_later_backs_a_check_off() -> None:
    s = DriftSchedule(uniform=lowest)
    s.track("a", "ns", "a", interval=100.0, now=0.0)
    s.pop_due(100.0)
    s.later("a", 100.0, 3.0)
    assert s.pop_due(103.0) == ["a"]


def test_a_connection_change_wakes_only_those_waiting_for_it() -> None:
    s = DriftSchedule(uniform=highest)
    s.track("a", "ns", "a", interval=600.0, now=0.0, waiting_for="ZStackConnection/ns/zs")
    s.track("c", "ns", "c", interval=600.0, now=0.0, waiting_for="operator-default")
    s.track("b", "ns", "b", interval=600.0, now=0.0)
    assert s.waiting() == 2
    assert s.connection_changed("ZStackConnection/ns/zs", 5.0) == 1
    assert s.pop_due(5.0) == ["a"]
    s.track("a", "ns", "a", interval=600.0, now=6.0)  # the check fixed it
    assert s.waiting() == 1
    assert s.connection_changed("ZStackConnection/ns/zs", 7.0) == 0


@pytest.mark.parametrize(
    ("raw", "interval", "refused"),
    [
        (None, 600.0, False),
        ("", 600.0, False),
        ("5", 5.0, False),
        ("0.5", 600.0, True),
        ("nan", 600.0, True),
        ("soon", 600.0, True),
    ],
)
def test_the_interval_annotation(raw: str | None, interval: float, refused: bool) -> None:
    """Any value >= 1 s is honoured; others get the default and a message saying why."""
    annotations = {} if raw is None else {"ai.zstack.io/drift-interval": raw}
    got, message = interval_of(annotations, 600.0)
    assert got == interval
    assert (message is not None) == refused
    if message:
        assert f">= {MIN_INTERVAL:g}" in message
        assert "600 s" in message


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_loop_runs_due_checks_and_wakes_waiters_on_a_connection_change() -> None:
    clock = Clock()
    s = DriftSchedule(uniform=lowest)
    seen: list[str] = []

    async def check(uid: str, entry: Entry) -> None:
        seen.append(f"{entry.namespace}/{entry.name}")

    loop = DriftLoop(s, check, clock=clock)
    s.track("a", "ns", "a", interval=10.0, now=0.0)
    s.track("b", "ns", "b", interval=100.0, now=0.0, waiting_for="operator-default")
    assert await loop.step() == pytest.approx(10.0)
    clock.now = 10.0
    await loop.step()
    await loop.drain()
    assert seen == ["ns/a"]
    clock.now = 11.0
    loop.connection_changed("operator-default")
    await loop.step()
    await loop.drain()
    assert seen == ["ns/a", "ns/b"]  # woken by the change, long before its interval


async def test_a_failing_check_is_logged_and_backed_off(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    s = DriftSchedule(uniform=lowest)

    async def check(uid: str, entry: Entry) -> None:
        raise RuntimeError("API server gone")

    loop = DriftLoop(s, check, clock=clock)
    s.track("a", "ns", "a", interval=10.0, now=0.0)
    clock.now = 10.0
    await loop.step()
    await loop.drain()
    assert "drift check of ns/a failed" in caplog.text
    entry = s.get("a")
    assert entry is not None
    assert entry.due == pytest.approx(10.0 + RECHECK)
    assert s.pop_due(19.0) == []  # the slot the check had taken is stale now


async def test_one_pass_per_object_at_a_time() -> None:
    locks = KeyedLock()
    order: list[str] = []

    async def work(tag: str) -> None:
        async with locks.hold("uid"):
            order.append(f"{tag}+")
            await asyncio.sleep(0.01)
            order.append(f"{tag}-")

    await asyncio.gather(work("a"), work("b"))
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])
    assert len(locks) == 0  # nothing kept once nobody holds or waits
