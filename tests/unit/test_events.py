"""The Events the operator posts: their shape, and that a refused one is dropped, not retried."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from zstack_operator.events import EventPoster, event_body
from zstack_operator.status import Transition

UID = "5176ccc4-efb8-4a05-9c73-2779e22f9969"


def test_an_event_names_its_object_and_says_what_happened() -> None:
    ev = Transition(True, "DriftRepaired", "ZStack differed from the spec in requestCpu")
    body = event_body("team-a", "llm", UID, ev, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert body["involvedObject"] == {
        "apiVersion": "ai.zstack.io/v1alpha1",
        "kind": "ModelService",
        "name": "llm",
        "namespace": "team-a",
        "uid": UID,
    }
    assert (body["type"], body["reason"], body["message"]) == ("Warning", ev.reason, ev.message)
    assert body["metadata"] == {"generateName": "llm.", "namespace": "team-a"}
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-01-02T03:04:05Z"
    assert body["source"] == {"component": "zstack-operator"}


async def test_posting_never_blocks_and_a_refused_event_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[dict[str, Any]] = []

    async def send(body: dict[str, Any]) -> None:
        if body["reason"] == "Refused":
            raise RuntimeError('events is forbidden: cannot create resource "events"')
        sent.append(body)

    poster = EventPoster(send)
    poster.post(
        "ns", "a", UID, [Transition(False, "Available", "ok"), Transition(True, "Refused", "x")]
    )
    await poster.drain()
    assert [b["reason"] for b in sent] == ["Available"]
    assert "ns/a: could not post Event Refused: events is forbidden" in caplog.text


async def test_a_burst_of_creates_loses_no_event() -> None:
    """The bench at N=3000 found 1,100 Events dropped by a cap of 1,000 pending: never again."""
    sent: list[str] = []

    async def send(body: dict[str, Any]) -> None:
        sent.append(body["involvedObject"]["name"])

    poster = EventPoster(send)
    for i in range(3000):
        poster.post("ns", f"s{i}", UID, [Transition(False, "Available", "ok")])
    await poster.drain()
    assert len(sent) == 3000
    assert len(set(sent)) == 3000
