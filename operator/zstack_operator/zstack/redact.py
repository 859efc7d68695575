"""Keep secrets out of exception text and logs (DESIGN.md section 4, STYLE.md habit 12).

Owned here: ``Redactor``, the per-client set of strings that must never be shown (password,
its SHA-512, the AccessKey secret, every session id the client has held); ``mask_secrets``,
the one masking rule it shares with ``known_secrets`` (any length; short ones where they stand
alone); ``scrub_patterns``, which masks ZStack's ``Authorization`` values and session paths
even when the value is unknown, and nothing else (ordinary words stay readable); and
``install_httpx_log_filter``, which scrubs httpx's own request log lines. Used by
``zstack.transport`` (response bodies are scrubbed before anything is built from them) and by
``zstack.auth`` (which registers new session ids).

Why a filter on httpx's logger: httpx logs every request URL at INFO, and ZStack's logout URL
(``DELETE /accounts/sessions/{session}``) carries the session id. kopf turns log lines into
Kubernetes Events, so that line would otherwise publish a live credential.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import deque
from collections.abc import Iterable

MASK = "***"
#: Session ids kept for scrubbing; older ones are long dead on the server.
_REMEMBERED_SESSIONS = 16
#: Secrets shorter than this are masked only where they stand alone, not inside a longer word:
#: masking "ab" inside every word would garble every message, and "ab" inside "about" tells a
#: reader nothing about the secret. Standing alone ("password ab refused") it is masked.
SHORT_SECRET = 4
_SESSION_PATH = re.compile(r"(/accounts/sessions/)[^/\s?\"']+")
# ZStack's two Authorization forms (ZSTACK-API.md 1.2, 1.4). Each pattern keeps the scheme word
# and masks only the credential, and each needs the credential's shape or the header name: the
# bare word "ZStack" starts half the messages users read ("ZStack matches the spec").
#: After the header name, whatever follows the scheme is the credential, however it looks
#: (a header dict's repr, a request dump): the server accepts any string there.
_AUTH_HEADER = re.compile(
    r"""(authorization["']?\s*[:=]\s*["']?(?:oauth|zstack)\s+)[^\s"',}]+""", re.IGNORECASE
)
#: A bare session header value: a ZStack uuid is 32 hex digits (dashes tolerated).
_OAUTH_VALUE = re.compile(
    r"(\bOAuth\s+)(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})\b"
)
#: A bare AccessKey header value, ``<AccessKeyId>:<signature>``: no space around the colon
#: (unlike "ZStack QueryModelService: timed out") and a whole base64 HMAC-SHA1 (28 characters)
#: after it, so an endpoint ("ZStack localhost:8080", "ZStack http://host/zstack") is no match.
_ACCESS_KEY_VALUE = re.compile(
    r"(\bZStack\s+)[A-Za-z0-9_-]+:(?!//)[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/=_.:-])"
)


@functools.lru_cache(maxsize=256)
def _standalone(secret: str) -> re.Pattern[str]:
    """``secret`` where no word character continues it (on a side where it has one)."""
    left = r"(?<!\w)" if re.match(r"\w", secret[0]) else ""
    right = r"(?!\w)" if re.match(r"\w", secret[-1]) else ""
    return re.compile(left + re.escape(secret) + right)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (any length; empty ones ignored) replaced by the mask.

    Longest first, so a secret that contains another is masked whole rather than around the
    shorter one's mask. Secrets shorter than ``SHORT_SECRET`` are masked where they stand alone.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if secret not in text:
            continue
        if len(secret) >= SHORT_SECRET:
            text = text.replace(secret, MASK)
        else:
            text = _standalone(secret).sub(MASK, text)
    return text


class Redactor:
    """Replaces every registered secret with ``***`` in a text."""

    def __init__(self, *secrets: str) -> None:
        self._fixed = tuple(s for s in secrets if s)
        self._sessions: deque[str] = deque(maxlen=_REMEMBERED_SESSIONS)

    def add_session(self, session: str) -> None:
        """Remember a session id so it is scrubbed from now on."""
        if session and session not in self._sessions:
            self._sessions.append(session)

    def __call__(self, text: str) -> str:
        """``text`` with every known secret, session path and auth header value masked."""
        return scrub_patterns(mask_secrets(text, (*self._fixed, *self._sessions)))

    def __repr__(self) -> str:
        return f"Redactor(secrets={len(self._fixed) + len(self._sessions)})"


def scrub_patterns(text: str) -> str:
    """Mask what looks like a session path or an ``Authorization`` value, known or not."""
    for pattern in (_SESSION_PATH, _AUTH_HEADER, _OAUTH_VALUE, _ACCESS_KEY_VALUE):
        text = pattern.sub(rf"\g<1>{MASK}", text)
    return text


class _ScrubFilter(logging.Filter):
    """Rewrites a record's message so session paths and auth values never reach a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub_patterns(message)
        if scrubbed != message:
            record.msg = scrubbed
            record.args = None
        return True


_FILTER = _ScrubFilter()


def install_httpx_log_filter() -> None:
    """Attach the scrubbing filter to httpx's request logger (idempotent).

    httpcore's trace loggers print only methods and response headers, never request URLs.
    """
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
