"""``time_zone="auto"``: learn the management node's zone from the node itself.

What the node offers (ZSTACK-AI-LIFECYCLE.md section 7): GetCurrentTime needs no credential but
answers an instant only (epoch milliseconds), which says nothing of the zone; the HTTP ``Date``
reply header is GMT; inventory dates are local but carry no zone, and only ``now`` would tie
them to one. GetPlatformTimeZone (``GET /management-nodes/platform-timezone``) answers
``{timezone, offset}`` but needs a credential. So ``detect``:

1. With account credentials, logs in (login needs no zone) and asks GetPlatformTimeZone.
2. With an AccessKey, every request needs a ``Date`` the node accepts, and by default the node
   compares the header's wall clock with its own local one. So it asks GetPlatformTimeZone
   with the ``Date`` in each UTC offset in use on Earth today (UTC first, then by how many
   zones share it) until the node stops answering 403 ``requestTimeTooSkewed``: about 40
   requests at worst, once per client. A node with ``rest.checkTimeZone=true`` accepts the
   first one.
3. The answer's ``timezone`` (an IANA name) is the zone; failing that its ``offset``
   (``+08:00``, ``GMT+8``, ...) gives a fixed-offset zone, right for dates near now but not
   across daylight-saving changes.

It cannot: when the node has no GetPlatformTimeZone (404, a release without it), when the
credentials fail (their own error is raised), or when no offset is accepted (the clocks are
more than 15 minutes apart whatever the zone). Then ``ZStackConfigError`` or the node's error
says to set the zone explicitly. The reply's exact field formats are not public
(ZSTACK-API.md marks them unverified); the simulator answers ``{"timezone": "Asia/Shanghai",
"offset": "+08:00"}``. Used by ``zstack.dispatch`` through ``NodeTime.ensure``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from .auth import AccessKeyAuth, Authenticator, SessionAuth
from .credentials import access_key_headers
from .errors import TIME_SKEW_TEXT, ZStackConfigError, ZStackRESTError, ZStackTimeSkewError
from .nodetime import zone_named
from .transport import Reply, Transport, error_from_reply

log = logging.getLogger(__name__)

PLATFORM_TIME_ZONE_API = "GetPlatformTimeZone"
PLATFORM_TIME_ZONE_PATH = "/management-nodes/platform-timezone"
_OFFSET = re.compile(r"^(?:GMT|UTC)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$")
_FIX = "set the connection's time zone to the node's zone (an IANA name such as Asia/Shanghai)"


@functools.lru_cache(maxsize=1)
def candidate_offsets() -> tuple[timedelta, ...]:
    """Every UTC offset some zone has today: UTC first, then the most shared ones first."""
    now = datetime.now(UTC)
    counts: Counter[timedelta] = Counter()
    for name in available_timezones():
        try:
            offset = now.astimezone(ZoneInfo(name)).utcoffset()
        except (OSError, ValueError):  # a data file this machine cannot read
            continue
        if offset is not None:
            counts[offset] += 1
    ordered = sorted(counts, key=lambda o: (-counts[o], o))
    return (timedelta(0), *(o for o in ordered if o))


def zone_from_reply(body: dict[str, Any]) -> tuple[tzinfo, str]:
    """The zone a GetPlatformTimeZone reply names: its IANA ``timezone``, else its ``offset``."""
    inner = body.get("inventory")
    fields = inner if isinstance(inner, dict) else body
    name = fields.get("timezone")
    if isinstance(name, str) and name.strip():
        try:
            return zone_named(name.strip()), name.strip()
        except ZStackConfigError:
            pass  # e.g. "CST": not a zone id, try the offset
    offset = fields.get("offset")
    found = _OFFSET.match(offset.strip()) if isinstance(offset, str) else None
    if found is None:
        raise ZStackRESTError(
            200, "the GetPlatformTimeZone reply names no usable zone", api=PLATFORM_TIME_ZONE_API
        )
    sign, hours, minutes = found.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    zone = timezone(-delta if sign == "-" else delta)
    return zone, str(zone)


def learned_zone(reply: Reply, fallback: tuple[tzinfo, str] | None = None) -> tuple[tzinfo, str]:
    """The zone a GetPlatformTimeZone answer gives; the error it is when it gives none.

    ``fallback``: what to assume when the node has no such API (404), with a warning, rather
    than leave the connection unusable; None raises ``ZStackConfigError``.
    """
    if reply.status == 200:
        zone, name = zone_from_reply(reply.obj())
        log.info("ZStack management node time zone: %s", name)
        return zone, name
    if reply.status == 404:
        missing = (
            "time_zone=auto: this ZStack has no GetPlatformTimeZone "
            f"(GET {PLATFORM_TIME_ZONE_PATH} answered 404)"
        )
        if fallback is None:
            raise ZStackConfigError(f"{missing}; {_FIX}")
        log.warning("%s; assuming %s: %s", missing, fallback[1], _FIX)
        return fallback
    raise error_from_reply(reply, PLATFORM_TIME_ZONE_API)


async def detect(transport: Transport, auth: Authenticator) -> tuple[tzinfo, str]:
    """The node's zone and its name, asked of GetPlatformTimeZone (see the module docstring)."""
    if isinstance(auth, AccessKeyAuth):
        return await _detect_with_access_key(transport, auth)
    if not isinstance(auth, SessionAuth):
        raise ZStackConfigError("time_zone=auto needs account or AccessKey credentials")
    headers, session = await auth.authorize("GET", PLATFORM_TIME_ZONE_PATH)
    reply = await transport.request(
        "GET", PLATFORM_TIME_ZONE_PATH, api=PLATFORM_TIME_ZONE_API, headers=headers
    )
    error = reply.obj().get("error")
    if reply.status == 503 and isinstance(error, dict) and error.get("code") == "ID.1001":
        # The session expired between login and this call: one fresh login, as dispatch does.
        await auth.renew(session)
        headers, _ = await auth.authorize("GET", PLATFORM_TIME_ZONE_PATH)
        reply = await transport.request(
            "GET", PLATFORM_TIME_ZONE_PATH, api=PLATFORM_TIME_ZONE_API, headers=headers
        )
    # Dates only (a session needs no Date header): UTC is a guess, said loudly.
    return learned_zone(reply, fallback=(UTC, "UTC"))


async def _detect_with_access_key(transport: Transport, auth: AccessKeyAuth) -> tuple[tzinfo, str]:
    for offset in candidate_offsets():
        headers = access_key_headers(
            auth.credentials, "GET", PLATFORM_TIME_ZONE_PATH, zone=timezone(offset)
        )
        reply = await transport.request(
            "GET", PLATFORM_TIME_ZONE_PATH, api=PLATFORM_TIME_ZONE_API, headers=headers
        )
        if reply.status == 403 and reply.text.strip() == TIME_SKEW_TEXT:
            continue
        # The node accepted this wall clock: its offset now is known, if not its zone's rules.
        fixed = timezone(offset)
        return learned_zone(reply, fallback=(fixed, str(fixed)))
    raise ZStackTimeSkewError(
        TIME_SKEW_TEXT,
        api=PLATFORM_TIME_ZONE_API,
        time_zone="unknown: no UTC offset made the node accept the Date header",
    )
