"""ZStack date parsing: Gson's US formats (Java 8 and 9+), ISO 8601 and epoch milliseconds.

Gson prints dates in the management node's zone without naming it: they are read in the zone
the client is told (UTC by default).
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from zstack_operator.zstack.models import (
    ModelServiceInventory,
    date_context,
    format_zstack_date,
    parse_zstack_date,
)

EXPECTED = datetime(2017, 11, 14, 22, 20, 57, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "Nov 14, 2017 10:20:57 PM",
        "Nov 14, 2017, 10:20:57 PM",
        "Nov 14, 2017 10:20:57\u202fPM",
        "2017-11-14T22:20:57Z",
        "2017-11-14T22:20:57",
        1510698057000,
    ],
)
def test_every_known_date_shape_parses_to_utc(text: str | int) -> None:
    assert parse_zstack_date(text) == EXPECTED


def test_format_round_trips() -> None:
    assert format_zstack_date(EXPECTED) == "Nov 14, 2017 10:20:57 PM"
    assert parse_zstack_date(format_zstack_date(EXPECTED)) == EXPECTED


def test_inventory_dates_are_parsed() -> None:
    inv = ModelServiceInventory.model_validate(
        {"uuid": "a" * 32, "createDate": "Nov 14, 2017 10:20:57 PM", "unknownField": 1}
    )
    assert inv.create_date == EXPECTED


SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_gson_date_is_a_wall_clock_time_in_the_node_zone() -> None:
    # 10:20:57 PM in Shanghai is 14:20:57 UTC: read as UTC it would be 8 hours late.
    parsed = parse_zstack_date("Nov 14, 2017 10:20:57 PM", SHANGHAI)
    assert parsed == datetime(2017, 11, 14, 14, 20, 57, tzinfo=UTC)
    assert parsed.tzinfo is UTC
    assert parse_zstack_date("2017-11-14T22:20:57", SHANGHAI) == parsed
    # A text that names its zone, and epoch milliseconds, are instants already.
    assert parse_zstack_date("2017-11-14T22:20:57Z", SHANGHAI) == EXPECTED
    assert parse_zstack_date(1510698057000, SHANGHAI) == EXPECTED


def test_format_prints_the_node_wall_clock_without_a_zone() -> None:
    assert format_zstack_date(EXPECTED, SHANGHAI) == "Nov 15, 2017 6:20:57 AM"
    assert parse_zstack_date(format_zstack_date(EXPECTED, SHANGHAI), SHANGHAI) == EXPECTED


def test_an_hour_repeated_by_daylight_saving_reads_as_the_earlier_instant() -> None:
    # 2024-11-03 01:30 happened twice in New York (EDT, then EST).
    parsed = parse_zstack_date("Nov 3, 2024 1:30:00 AM", ZoneInfo("America/New_York"))
    assert parsed == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


def test_inventories_read_dates_in_the_zone_of_the_validation_context() -> None:
    data = {
        "uuid": "a" * 32,
        "createDate": "Nov 14, 2017 10:20:57 PM",
        "modelServiceImages": [{"lastOpDate": "Nov 14, 2017 10:20:57 PM"}],
    }
    plain = ModelServiceInventory.model_validate(data)
    assert plain.create_date == EXPECTED  # no context: UTC, as before zones were known
    local = ModelServiceInventory.model_validate(data, context=date_context(SHANGHAI))
    assert local.create_date == EXPECTED - timedelta(hours=8)
    assert local.model_service_images is not None
    assert local.model_service_images[0].last_op_date == EXPECTED - timedelta(hours=8)


def test_an_inventory_of_any_release_parses() -> None:
    # 5.1.20 (ZSTACK-API.md 3.4): images inline, framework Other, no version fields.
    inv = ModelServiceInventory.model_validate(
        {"uuid": "b" * 32, "framework": "Other", "dockerImage": "r/x:1", "vmImageUuid": "c" * 32}
    )
    assert (inv.framework, inv.docker_image, inv.vm_image_uuid) == ("Other", "r/x:1", "c" * 32)
    assert (inv.version, inv.has_new_version, inv.cpu_architectures) == (None, None, None)
