"""The simulated management node's time zone: its wall clock, its dates, its ``Date`` check.

Owned here: ``NodeClock`` (``--time-zone``, ``--check-time-zone``). A real node's JVM runs in
its host's zone, and that shows in two places (ZSTACK-API.md section 10):

- row 12: Gson prints every ``Timestamp`` as a wall-clock time in that zone, naming none
  (``gson``); query values without a zone are read in it too (``zone``);
- row 1: AccessKey requests. ``RestServer.checkTime`` parses ``Date`` with
  ``EEE, dd MMM yyyy HH:mm:ss z`` and, with the default ``rest.checkTimeZone=false``, takes
  the parsed value's *local* date-time and compares it with the node's local wall clock,
  ignoring the zone the header names; more than 15 minutes apart is 403
  ``requestTimeTooSkewed``. With ``true`` the two instants are compared. A header that does
  not parse (a wrong day of the week included, as java.time checks it) is 400.

Zone labels: ``GMT``, ``UTC``, ``UT``, ``Z``, offsets (``GMT+08:00``, ``+0800``), IANA ids and
the node zone's own abbreviations name a zone. Any other 1-6 letter word (``PDT``) parses, as
Java's zone-name table would, but names no zone the simulator knows: fine when the zone is
ignored, a 400 with ``--check-time-zone`` (Java would resolve it). Used by ``auth``,
``inventory``, ``query`` and ``mn_api``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..zstack.models import format_zstack_date
from .errorcodes import RestError

#: ``RestConstants.REQUEST_DURATION_MINUTES``: allowed clock skew of AccessKey requests.
MAX_SKEW_SECONDS = 15 * 60
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(
    r"^\s*([A-Z][a-z]{2}), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (\S+)\s*$"
)
_OFFSET = re.compile(r"^(?:GMT|UTC|UT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
_UTC_NAMES = frozenset({"GMT", "UTC", "UT", "Z"})


def zone_named(name: str) -> tzinfo:
    """The IANA zone ``name``; ValueError when unknown."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


class NodeClock:
    """The node's zone and the checks that depend on it."""

    def __init__(self, zone: str, *, check_time_zone: bool = False) -> None:
        self.name = zone
        self.zone = zone_named(zone)
        self.check_time_zone = check_time_zone

    def gson(self, epoch: float) -> str:
        """``epoch`` as the node prints a ``Timestamp``: its wall clock, no zone."""
        return format_zstack_date(datetime.fromtimestamp(epoch, tz=UTC), self.zone)

    def offset(self, now: float) -> str:
        """The zone's UTC offset at ``now``, e.g. ``+08:00``."""
        delta = datetime.fromtimestamp(now, tz=self.zone).utcoffset() or timedelta(0)
        minutes = int(abs(delta).total_seconds()) // 60
        return f"{'-' if delta < timedelta(0) else '+'}{minutes // 60:02}:{minutes % 60:02}"

    def check_date(self, header: str, now: float) -> None:
        """``RestServer.checkTime``: 400 if ``header`` does not parse, 403 if too skewed."""
        found = _DATE.match(header)
        if found is None:
            raise _invalid(header)
        day, dd, mon, yyyy, hh, mm, ss, label = found.groups()
        if mon not in _MONTHS or day not in _DAYS:
            raise _invalid(header)
        try:
            wall = datetime(int(yyyy), _MONTHS.index(mon) + 1, int(dd), int(hh), int(mm), int(ss))
        except ValueError:
            raise _invalid(header) from None
        if _DAYS[wall.weekday()] != day:
            raise _invalid(header)
        zone = self._label_zone(label, now)
        if zone is None:
            raise _invalid(header)
        if self.check_time_zone:
            if not isinstance(zone, tzinfo):
                raise _invalid(header)
            skew = now - wall.replace(tzinfo=zone).timestamp()
        else:  # the zone is ignored: wall clock against wall clock
            local = datetime.fromtimestamp(now, tz=self.zone).replace(tzinfo=None)
            skew = (local - wall).total_seconds()
        if abs(skew) > MAX_SKEW_SECONDS:
            raise RestError(403, "requestTimeTooSkewed")

    def _label_zone(self, label: str, now: float) -> tzinfo | bool | None:
        """The zone a label names; True for a word Java parses but the simulator cannot place."""
        if label.upper() in _UTC_NAMES:
            return UTC
        offset = _OFFSET.match(label)
        if offset is not None:
            sign, hours, minutes = offset.groups()
            delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
            return timezone(-delta if sign == "-" else delta)
        if "/" in label:
            try:
                return zone_named(label)
            except ValueError:
                return None
        year = datetime.fromtimestamp(now, tz=UTC).year
        own = {
            datetime(year, month, 1, tzinfo=self.zone).tzname() for month in (1, 7)
        }  # standard and summer names
        if label in own:
            return self.zone
        return True if re.fullmatch(r"[A-Za-z]{1,6}", label) else None


def _invalid(header: str) -> RestError:
    return RestError(400, f"Invalid header[Date]: {header}")
