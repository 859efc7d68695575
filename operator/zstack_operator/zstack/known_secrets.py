"""The process-wide set of credential values to mask in every text the operator writes.

Owned here because a message may be built far from the connection that loaded the secret
(a status condition, an Event, a log line): ``secret_data`` registers each value it reads
from a Secret, and ``status.scrub`` masks them all. Values of any length are registered; how a
short one is masked (only where it stands alone) is ``redact.mask_secrets``' rule, shared with
the client's ``Redactor``.
"""

from __future__ import annotations

from .redact import mask_secrets

_SECRETS: set[str] = set()


def register(value: str) -> None:
    """Mask ``value`` in every message from now on (an empty value is ignored)."""
    if value:
        _SECRETS.add(value)


def mask(text: str) -> str:
    """``text`` with every registered value replaced by the mask."""
    return mask_secrets(text, _SECRETS)
