"""The process-wide set of credential values to mask in every text the operator writes.

Owned here because a message may be built far from the connection that loaded the secret
(a status condition, an Event, a log line): the connection registers each value it reads
from a Secret, and ``status.scrub`` masks them all. Values shorter than four characters are
not registered: masking "ab" everywhere would garble every message while protecting nothing
a guesser would not find at once (the same rule as ``redact.Redactor``).
"""

from __future__ import annotations

from .redact import MASK

_MIN_LENGTH = 4
_SECRETS: set[str] = set()


def register(value: str) -> None:
    """Mask ``value`` in every message from now on."""
    if len(value) >= _MIN_LENGTH:
        _SECRETS.add(value)


def mask(text: str) -> str:
    """``text`` with every registered value replaced by the mask."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
