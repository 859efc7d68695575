"""The client's idea of the node's time zone: names, the skew error, GetPlatformTimeZone replies."""

from datetime import UTC, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from zstack_operator.zstack import ZStackClient, ZStackConfigError, ZStackTimeSkewError
from zstack_operator.zstack.autozone import candidate_offsets, zone_from_reply
from zstack_operator.zstack.credentials import AccountCredentials
from zstack_operator.zstack.dispatch import is_time_skew
from zstack_operator.zstack.errors import ErrorKind, ZStackRESTError
from zstack_operator.zstack.nodetime import NodeTime
from zstack_operator.zstack.redact import Redactor
from zstack_operator.zstack.transport import decode

CREDS = AccountCredentials(account_name="admin", password="password")


def test_node_time_from_the_time_zone_argument() -> None:
    assert (NodeTime(None).zone, NodeTime(None).name, NodeTime(None).pending) == (UTC, None, False)
    shanghai = NodeTime("Asia/Shanghai")
    assert (shanghai.zone, shanghai.name) == (ZoneInfo("Asia/Shanghai"), "Asia/Shanghai")
    assert NodeTime("UTC").zone is UTC
    auto = NodeTime("auto")
    assert (auto.pending, auto.zone) == (True, UTC)
    auto.learn(ZoneInfo("Europe/Paris"), "Europe/Paris")
    assert (auto.pending, auto.describe()) == (False, "Europe/Paris")


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", ""])
def test_an_unknown_zone_is_a_config_error(name: str) -> None:
    with pytest.raises(ZStackConfigError, match="unknown time zone"):
        ZStackClient("http://127.0.0.1:1", CREDS, time_zone=name)


def test_the_skew_error_names_the_fix_and_is_not_retried() -> None:
    reply = decode(403, "requestTimeTooSkewed", None, Redactor())
    assert is_time_skew(reply)
    assert not is_time_skew(decode(403, "forbidden", None, Redactor()))
    error = ZStackTimeSkewError(reply.text, api="QueryModelService", time_zone="UTC, the default")
    assert isinstance(error, ZStackRESTError)
    assert (error.status, error.kind, error.transient) == (403, ErrorKind.AUTH, False)
    assert "Set the connection's time zone to the node's zone" in str(error)
    assert "it is UTC, the default" in str(error)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"timezone": "Asia/Shanghai", "offset": "+08:00"}, ZoneInfo("Asia/Shanghai")),
        ({"timezone": "CST", "offset": "+08:00"}, timezone(timedelta(hours=8))),
        ({"offset": "GMT-3:30"}, timezone(-timedelta(hours=3, minutes=30))),
        ({"inventory": {"timezone": "UTC"}}, UTC),
    ],
)
def test_platform_time_zone_replies(body: dict[str, object], expected: object) -> None:
    assert zone_from_reply(body)[0] == expected


def test_a_reply_without_a_zone_is_refused() -> None:
    with pytest.raises(ZStackRESTError, match="no usable zone"):
        zone_from_reply({"timezone": "Nowhere", "offset": 8})


def test_candidate_offsets_start_with_utc_and_cover_the_world() -> None:
    offsets = candidate_offsets()
    assert offsets[0] == timedelta(0)
    assert len(set(offsets)) == len(offsets)
    for hours, minutes in ((8, 0), (5, 45), (-3, -30), (14, 0), (-11, 0)):
        assert timedelta(hours=hours, minutes=minutes) in offsets
