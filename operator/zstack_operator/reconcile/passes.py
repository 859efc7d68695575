"""One pass over one object of any kind: the status being built, written once, and its Events.

Owned here: ``Pass``. Branches of reconcile and finalize set conditions and fields on it;
``finish`` writes the difference from the stored status in one merge patch (none when nothing
changed, so an idle operator never writes) and returns the ``Outcome``. Events are the
condition transitions that patch made, plus explicit notices (drift repaired, recreated), and
are only handed out once the patch is stored: an Event never announces a status that is not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Generic

from .. import status as st
from ..resources import (
    ANNOTATION_DRIFT_INTERVAL,
    ANNOTATION_PAUSED,
    ANNOTATION_RECONCILE_REQUESTED,
    ConditionType,
    ModelServiceStatus,
    ReadyReason,
    SyncedReason,
)
from .model import Done, Outcome, Resource, Result, StatusWriteError, StatusWriter, Terminal

#: Annotations whose change asks for a pass (kopf's diff base watches them through ``handled``).
WATCHED_ANNOTATIONS = (ANNOTATION_PAUSED, ANNOTATION_RECONCILE_REQUESTED, ANNOTATION_DRIFT_INTERVAL)


def handled_key(generation: int, annotations: Mapping[str, str]) -> str:
    """``status.handled`` for an object: its generation and a digest of the watched annotations.

    Spec changes move the generation; the digest covers the annotations that ask for a pass.
    Equal keys mean the operator already finished handling this version of the object.
    """
    watched = "\0".join(annotations.get(a, "") for a in WATCHED_ANNOTATIONS)
    return f"{generation}-{hashlib.sha256(watched.encode()).hexdigest()[:12]}"


class BasePass(Generic[st.S]):
    """The status of one pass over an object of any kind, from the stored one to the one left."""

    def __init__(self, res: Resource, writer: StatusWriter, model: type[st.S]) -> None:
        self.res = res
        self._writer = writer
        self.old: st.S = model.model_validate(res.status or {})
        self.new = self.old
        self.gen = res.generation
        self._notices: list[st.Transition] = []

    def ready(self, ok: bool, reason: ReadyReason, message: str) -> None:
        self.new = st.set_condition(self.new, ConditionType.READY, ok, reason, message, self.gen)

    def ready_if_unset(self, reason: ReadyReason, message: str) -> None:
        """Ready=False unless a Ready condition exists (``kubectl wait`` needs one to read)."""
        if st.condition(self.new, ConditionType.READY) is None:
            self.ready(False, reason, message)

    def synced(self, ok: bool, reason: SyncedReason, message: str) -> None:
        self.new = st.set_condition(self.new, ConditionType.SYNCED, ok, reason, message, self.gen)

    def update(self, **values: Any) -> None:
        self.new = self.new.model_copy(update=values)

    def notice(self, reason: str, message: str, *, warning: bool = True) -> None:
        """An Event that is not a condition transition (posted once the status is stored)."""
        self._notices.append(st.Transition(warning, reason, st.scrub(message)))

    async def _flush(self) -> list[st.Transition]:
        self.new = st.with_kstatus(self.new)
        patch = st.merge_patch(st.dump(self.old), st.dump(self.new))
        events: list[st.Transition] = []
        if patch:
            await self._writer(self.res, patch)
            events = st.transitions(self.old, self.new)
            self.old = self.new
        return events + self._notices

    async def write(self, result: Result) -> tuple[st.Transition, ...]:
        """Write the status once and return the Events to post; raises StatusWriteError."""
        if isinstance(result, Done | Terminal):
            self.update(handled=handled_key(self.gen, self.res.annotations))
        return tuple(await self._flush())


class Pass(BasePass[ModelServiceStatus]):
    """A pass over one ModelService."""

    def __init__(self, res: Resource, writer: StatusWriter) -> None:
        super().__init__(res, writer, ModelServiceStatus)

    async def finish(self, result: Result) -> Outcome:
        """Write the status once and return the outcome; raises StatusWriteError."""
        return Outcome(result, self.new, await self.write(result))

    async def finish_anyway(self, result: Result) -> Outcome:
        """``finish`` for deletion: a status that cannot be written must not hold it up."""
        try:
            return await self.finish(result)
        except StatusWriteError:
            return Outcome(result, self.new)
