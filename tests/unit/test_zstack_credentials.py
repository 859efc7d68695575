"""Credentials: password hashing, AccessKey signing, and secrets hidden from repr/str."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from zstack_operator.zstack.credentials import (
    AccessKeyCredentials,
    AccountCredentials,
    access_key_headers,
    http_date,
    sign_access_key,
)

# sha512("password"), as ZStack's AccountConstant documents for the built-in admin.
ADMIN_HASH = (
    "b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb9"
    "80b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86"
)


def test_password_is_sent_as_lowercase_sha512_hex() -> None:
    creds = AccountCredentials(account_name="admin", password="password")
    assert creds.password_hash() == ADMIN_HASH


def test_credentials_never_show_secrets() -> None:
    account = AccountCredentials(account_name="admin", password="hunter2-secret")
    key = AccessKeyCredentials(access_key_id="AKID", access_key_secret="ak-secret-value")
    for text in (repr(account), str(account), repr(key), str(key)):
        assert "hunter2-secret" not in text
        assert "ak-secret-value" not in text
    assert "admin" in repr(account)
    assert "AKID" in repr(key)


def test_empty_account_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        AccountCredentials(account_name="", password="x")


def test_http_date_is_rfc1123_gmt() -> None:
    when = datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)
    assert http_date(when) == "Mon, 02 Jan 2006 15:04:05 GMT"


@pytest.mark.parametrize(
    ("secret", "method", "date", "path", "expected"),
    [
        # Expected values computed with `openssl dgst -sha1 -hmac <secret> -binary | base64`.
        (
            "test-secret-123",
            "GET",
            "Mon, 02 Jan 2006 15:04:05 GMT",
            "/ai/model-services",
            "Y76pwQXjYvy0eGaiBqLC91pikIA=",
        ),
        (
            "s3cr3t",
            "put",
            "Tue, 03 Mar 2026 10:00:00 GMT",
            "/ai/model-services/abc",
            "IrTN68pEZLBzGYV5UbLwcxUXoss=",
        ),
    ],
)
def test_access_key_signature_matches_openssl(
    secret: str, method: str, date: str, path: str, expected: str
) -> None:
    assert sign_access_key(secret, method, date, path) == expected


def test_query_string_is_not_signed() -> None:
    date = "Mon, 02 Jan 2006 15:04:05 GMT"
    plain = sign_access_key("k", "GET", date, "/ai/model-services")
    assert sign_access_key("k", "GET", date, "/ai/model-services?q=uuid=abc") == plain


def test_access_key_headers() -> None:
    key = AccessKeyCredentials(access_key_id="AKID", access_key_secret="test-secret-123")
    when = datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)
    headers = access_key_headers(key, "GET", "/ai/model-services", now=when)
    assert headers == {
        "Authorization": "ZStack AKID:Y76pwQXjYvy0eGaiBqLC91pikIA=",
        "Date": "Mon, 02 Jan 2006 15:04:05 GMT",
    }


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("UTC", "Mon, 02 Jan 2006 15:04:05 GMT"),
        ("Asia/Shanghai", "Mon, 02 Jan 2006 23:04:05 GMT+08:00"),
        ("America/St_Johns", "Mon, 02 Jan 2006 11:34:05 GMT-03:30"),
        ("Asia/Kathmandu", "Mon, 02 Jan 2006 20:49:05 GMT+05:45"),
    ],
)
def test_the_date_header_is_the_node_wall_clock_labelled_with_its_offset(
    zone: str, expected: str
) -> None:
    when = datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)
    assert http_date(when, ZoneInfo(zone)) == expected


def test_the_signature_covers_the_local_date_sent() -> None:
    key = AccessKeyCredentials(access_key_id="AKID", access_key_secret="test-secret-123")
    when = datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)
    headers = access_key_headers(key, "GET", "/ai/model-services", when, ZoneInfo("Asia/Shanghai"))
    assert headers["Date"] == "Mon, 02 Jan 2006 23:04:05 GMT+08:00"
    signature = sign_access_key("test-secret-123", "GET", headers["Date"], "/ai/model-services")
    assert headers["Authorization"] == f"ZStack AKID:{signature}"
