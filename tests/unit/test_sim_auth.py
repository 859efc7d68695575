"""Authorization headers as the simulator's REST layer and API pipeline read them.

The ``Date`` of an AccessKey request is checked as ZStack does (ZSTACK-API.md section 10 row
1): by default its wall-clock part against the node's local wall clock, the zone ignored;
with ``check_time_zone`` as an instant.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from zoneinfo import ZoneInfo

import pytest
from zstack_operator.sim.auth import (
    Credential,
    authenticate,
    peek_account,
    read_credential,
    sign,
)
from zstack_operator.sim.clock import NodeClock
from zstack_operator.sim.errorcodes import ApiError, RestError
from zstack_operator.sim.state import SessionRecord, State

PATH = "/v1/ai/model-services"
UTC_NODE = NodeClock("UTC")
SHANGHAI = NodeClock("Asia/Shanghai")
SHANGHAI_STRICT = NodeClock("Asia/Shanghai", check_time_zone=True)


def read(
    headers: dict[str, str], clock: NodeClock = UTC_NODE, now: float | None = None
) -> Credential:
    return read_credential("GET", PATH, headers, time.time() if now is None else now, clock)


def date_in(zone: str, when: float, label: str) -> str:
    local = datetime.fromtimestamp(when, tz=ZoneInfo(zone))
    return local.strftime("%a, %d %b %Y %H:%M:%S ") + label


def test_oauth_carries_the_session_and_hides_it() -> None:
    cred = read({"authorization": " OAuth  abc "})
    assert cred.session_uuid == "abc"
    assert "abc" not in repr(cred)


@pytest.mark.parametrize(
    ("headers", "status", "text"),
    [
        ({}, 400, "missing header 'Authorization'"),
        ({"authorization": "Bearer x"}, 400, "Authorization type must be 'OAuth' or 'ZStack'"),
        ({"authorization": "ZStack key-sig"}, 400, "Invalid header[Authorization]"),
        ({"authorization": "ZStack key:sig"}, 400, "missing header 'Date'"),
        ({"authorization": "ZStack key:sig", "date": "yesterday"}, 400, "Invalid header[Date]"),
    ],
)
def test_malformed_headers_are_refused_in_plain_text(
    headers: dict[str, str], status: int, text: str
) -> None:
    with pytest.raises(RestError) as info:
        read(headers)
    assert info.value.status == status
    assert info.value.text.startswith(text)


@pytest.mark.parametrize("skew", [-901, 901])
def test_access_keys_outside_15_minutes_are_too_skewed(skew: int) -> None:
    now = time.time()
    headers = {"authorization": "ZStack key:sig", "date": formatdate(now + skew, usegmt=True)}
    with pytest.raises(RestError) as info:
        read(headers, now=now)
    assert (info.value.status, info.value.text) == (403, "requestTimeTooSkewed")


def test_a_node_ignoring_zones_wants_its_local_wall_clock_whatever_the_label() -> None:
    now = time.time()
    gmt = {"authorization": "ZStack key:sig", "date": formatdate(now, usegmt=True)}
    with pytest.raises(RestError) as info:  # UTC wall clock, 8 hours behind Shanghai's
        read(gmt, SHANGHAI, now)
    assert (info.value.status, info.value.text) == (403, "requestTimeTooSkewed")
    for label in ("GMT", "CST", "GMT+08:00", "PDT", "Asia/Shanghai"):
        local = {"authorization": "ZStack key:sig", "date": date_in("Asia/Shanghai", now, label)}
        assert read(local, SHANGHAI, now).access_key_id == "key"


def test_a_node_checking_zones_compares_instants() -> None:
    now = time.time()
    for date in (
        formatdate(now, usegmt=True),
        date_in("Asia/Shanghai", now, "GMT+08:00"),
        date_in("Asia/Shanghai", now, "CST"),  # the node's own abbreviation
        date_in("America/New_York", now, "America/New_York"),
    ):
        read({"authorization": "ZStack key:sig", "date": date}, SHANGHAI_STRICT, now)
    wrong = date_in("Asia/Shanghai", now, "GMT")  # local time called GMT: 8 hours ahead
    with pytest.raises(RestError) as info:
        read({"authorization": "ZStack key:sig", "date": wrong}, SHANGHAI_STRICT, now)
    assert info.value.status == 403
    unplaceable = date_in("Asia/Shanghai", now, "PDT")
    with pytest.raises(RestError) as info:
        read({"authorization": "ZStack key:sig", "date": unplaceable}, SHANGHAI_STRICT, now)
    assert info.value.status == 400


@pytest.mark.parametrize(
    "date",
    [
        "Tue, 02 Jan 2006 15:04:05 GMT",  # 2 Jan 2006 was a Monday
        "Mon, 2 Jan 2006 15:04:05 GMT",
        "Mon, 02 Jan 2006 15:04 GMT",
        "Mon, 02 Foo 2006 15:04:05 GMT",
        "Mon, 02 Jan 2006 15:04:05 +++",
    ],
)
def test_a_date_the_pattern_does_not_parse_is_400(date: str) -> None:
    with pytest.raises(RestError) as info:
        read({"authorization": "ZStack key:sig", "date": date})
    assert info.value.status == 400


def test_inventory_dates_are_the_node_wall_clock() -> None:
    epoch = datetime(2017, 11, 14, 22, 20, 57, tzinfo=UTC).timestamp()
    assert UTC_NODE.gson(epoch) == "Nov 14, 2017 10:20:57 PM"
    assert SHANGHAI.gson(epoch) == "Nov 15, 2017 6:20:57 AM"
    assert SHANGHAI.offset(epoch) == "+08:00"
    assert NodeClock("America/St_Johns").offset(epoch + timedelta(days=200).total_seconds()) == (
        "-02:30"
    )


def test_access_key_signature_is_checked_in_the_pipeline() -> None:
    state = State()
    state.add_access_key("KEY", "s3cret")
    date = formatdate(usegmt=True)
    good = sign("s3cret", f"GET\n{date}\n{PATH}")
    headers = {"authorization": f"ZStack KEY:{good}", "date": date}
    cred = read(headers)
    assert peek_account(state, cred) == authenticate(state, cred, 60)
    # Signed for another method, another key, or an unknown key id: ID.1000.
    for key, method in (("KEY", "DELETE"), ("OTHER", "GET")):
        headers = {"authorization": f"ZStack {key}:{good}", "date": date}
        cred = read_credential(method, PATH, headers, time.time(), UTC_NODE)
        assert peek_account(state, cred) is None
        with pytest.raises(ApiError) as info:
            authenticate(state, cred, 60)
        assert info.value.error.code == "ID.1000"


def test_a_session_slides_on_every_use_and_expires_with_id_1001() -> None:
    state = State()
    now = time.time()
    state.save_session(SessionRecord("s" * 32, "acct", now, now + 5))
    authenticate(state, Credential(session_uuid="s" * 32), 3600)
    assert state.sessions["s" * 32].expires_at > now + 3000
    state.sessions["s" * 32].expires_at = now - 1
    for session in ("s" * 32, "unknown"):
        with pytest.raises(ApiError) as info:
            authenticate(state, Credential(session_uuid=session), 3600)
        assert info.value.error.code == "ID.1001"
        assert info.value.error.details == "Session expired"


def test_signature_matches_zstacks_algorithm() -> None:
    # Base64(HMAC-SHA1("secret", "GET\nMon, 02 Jan 2006 15:04:05 GMT\n/v1/zones")), computed
    # independently with `openssl dgst -sha1 -hmac secret -binary | base64`.
    assert sign("secret", "GET\nMon, 02 Jan 2006 15:04:05 GMT\n/v1/zones") == (
        "wB85tOvkh4aiHL+aV7AKg5MfsiU="
    )
