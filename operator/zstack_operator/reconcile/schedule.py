"""The drift schedule: when each ModelService is next compared with ZStack. Pure, no I/O.

Owned here: ``DriftSchedule``, one heap of due times for every object the operator manages,
read by one loop (``drift.DriftLoop``) instead of one kopf timer per object. Why: a timer per
object is a task, a memory and a wake-up per object per tick, whatever is due; a heap costs
a few hundred bytes per object and wakes only when something is due. The clock and the random
source are parameters, so the unit tests run it on a fake clock.

Rules: a new object's first check comes one to one and a half intervals after it is tracked
(it was just reconciled; and 3,000 objects resumed after a restart must not come due at once,
nor compete with a burst of creates); after a check the next is one interval later, jittered by
10 %; an interval of any length is honoured (there is no tick); objects that wait for a
connection fix are made due at once when that connection (its resource or Secret) changes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..resources import ANNOTATION_DRIFT_INTERVAL

#: Shortest per-object interval honoured, in seconds (a smaller or unreadable value is refused).
MIN_INTERVAL = 1.0


def interval_of(annotations: Mapping[str, str], default: float) -> tuple[float, str | None]:
    """The object's drift interval, and a message when its annotation had to be refused."""
    raw = annotations.get(ANNOTATION_DRIFT_INTERVAL)
    if raw is None or not raw.strip():
        return default, None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= MIN_INTERVAL:  # also catches NaN
        return default, (
            f"annotation {ANNOTATION_DRIFT_INTERVAL}={raw!r} is not a number of seconds >= "
            f"{MIN_INTERVAL:g}; using the operator's interval of {default:g} s"
        )
    return value, None


@dataclass
class Entry:
    """One object's place in the schedule."""

    namespace: str
    name: str
    interval: float
    due: float


class DriftSchedule:
    """Due times by object uid."""

    def __init__(self, *, uniform: Callable[[float, float], float] = random.uniform) -> None:
        self._uniform = uniform
        self._entries: dict[str, Entry] = {}
        self._heap: list[tuple[float, str]] = []
        #: Objects that wait for a connection fix: uid -> the connection's key.
        self._waiting: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, uid: str) -> Entry | None:
        """The entry of ``uid``, if tracked."""
        return self._entries.get(uid)

    def _push(self, uid: str, entry: Entry, due: float) -> None:
        entry.due = due
        heapq.heappush(self._heap, (due, uid))

    def track(
        self,
        uid: str,
        namespace: str,
        name: str,
        *,
        interval: float,
        now: float,
        waiting_for: str | None = None,
    ) -> None:
        """Start or keep checking an object; a shorter interval moves its next check earlier.

        ``waiting_for``: the key of the connection whose fix the object waits for.
        """
        if waiting_for is not None:
            self._waiting[uid] = waiting_for
        else:
            self._waiting.pop(uid, None)
        entry = self._entries.get(uid)
        if entry is None:
            entry = Entry(namespace, name, interval, 0.0)
            self._entries[uid] = entry
            self._push(uid, entry, now + self._uniform(1.0, 1.5) * interval)
            return
        if interval != entry.interval:
            entry.interval = interval
            sooner = now + interval * self._uniform(0.9, 1.1)
            if sooner < entry.due:
                self._push(uid, entry, sooner)

    def forget(self, uid: str) -> None:
        """Stop checking an object (deleted); its heap slot is dropped when it comes up."""
        self._entries.pop(uid, None)
        self._waiting.pop(uid, None)

    def later(self, uid: str, now: float, delay: float) -> None:
        """Check again after ``delay`` seconds (a failed check backs off)."""
        entry = self._entries.get(uid)
        if entry is not None:
            self._push(uid, entry, now + delay)

    def pop_due(self, now: float) -> list[str]:
        """The uids due at ``now``; each is rescheduled one jittered interval on."""
        out: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            due, uid = heapq.heappop(self._heap)
            entry = self._entries.get(uid)
            if entry is None or entry.due != due:
                continue  # forgotten or moved: a stale slot
            out.append(uid)
            self._push(uid, entry, now + entry.interval * self._uniform(0.9, 1.1))
        return out

    def next_due(self) -> float | None:
        """The earliest due time (it may belong to a stale slot: then the loop finds nothing)."""
        return self._heap[0][0] if self._heap else None

    def waiting(self) -> int:
        """How many objects wait for a connection to be fixed."""
        return len(self._waiting)

    def connection_changed(self, key: str, now: float) -> int:
        """Make every object that waits for connection ``key`` due now; how many they are."""
        woken = [uid for uid, waits_for in self._waiting.items() if waits_for == key]
        for uid in woken:
            self._push(uid, self._entries[uid], now)
        return len(woken)
