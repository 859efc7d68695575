"""ZStack date parsing: Gson's US formats (Java 8 and 9+), ISO 8601 and epoch milliseconds."""

from datetime import UTC, datetime

import pytest
from zstack_operator.zstack.models import (
    ModelServiceInventory,
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
