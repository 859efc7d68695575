"""Reply decoding and error classification: ErrorCode bodies, plain REST text, Retry-After."""

import logging
import ssl
from datetime import UTC, datetime

import certifi
import pytest
from zstack_operator.zstack.dispatch import is_duplicate_job, successor_job_uuid
from zstack_operator.zstack.errors import (
    ErrorKind,
    ZStackAPIError,
    ZStackConfigError,
    ZStackRESTError,
)
from zstack_operator.zstack.redact import Redactor
from zstack_operator.zstack.transport import (
    api_base,
    decode,
    error_from_reply,
    parse_retry_after,
    ssl_verify,
)

NO_SECRETS = Redactor()


def _error_body(code: str, cause: str | None = None) -> str:
    inner = f', "cause": {{"code": "{cause}", "details": "root cause"}}' if cause else ""
    return (
        f'{{"error": {{"code": "{code}", "description": "generic", '
        f'"details": "specific text"{inner}}}}}'
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("SYS.1000", ErrorKind.TRANSIENT),
        ("SYS.1001", ErrorKind.TRANSIENT),
        ("ID.1001", ErrorKind.SESSION),
        ("ID.1000", ErrorKind.AUTH),
        ("ID.1002", ErrorKind.AUTH),
        ("ID.1003", ErrorKind.AUTH),
        ("SYS.1007", ErrorKind.TERMINAL),
        ("SYS.1003", ErrorKind.TERMINAL),
        ("XYZ.9999", ErrorKind.TERMINAL),
    ],
)
def test_error_code_bodies_are_classified_by_code(code: str, kind: ErrorKind) -> None:
    reply = decode(503, _error_body(code), None, NO_SECRETS)
    error = error_from_reply(reply, "AddModelService")
    assert isinstance(error, ZStackAPIError)
    assert error.kind is kind
    assert error.code == code
    assert error.status == 503
    assert str(error) == f"AddModelService failed: {code}: specific text"


def test_cause_chain_is_kept() -> None:
    error = error_from_reply(
        decode(503, _error_body("SYS.1006", "SYS.1000"), None, NO_SECRETS), "X"
    )
    assert isinstance(error, ZStackAPIError)
    assert [e.code for e in error.error.chain()] == ["SYS.1006", "SYS.1000"]
    assert error.error.chain()[1].details == "root cause"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, ErrorKind.TERMINAL), (404, ErrorKind.TERMINAL), (429, ErrorKind.TRANSIENT),
     (500, ErrorKind.TRANSIENT), (502, ErrorKind.TRANSIENT), (503, ErrorKind.TRANSIENT)],
)  # fmt: skip
def test_plain_text_bodies_are_rest_errors(status: int, kind: ErrorKind) -> None:
    error = error_from_reply(
        decode(status, "some plain text", "2", NO_SECRETS), "QueryModelService"
    )
    assert isinstance(error, ZStackRESTError)
    assert error.kind is kind
    assert error.status == status
    assert error.retry_after == 2.0
    assert f"HTTP {status}: some plain text" in str(error)


def test_retry_after_as_seconds_and_as_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:07 GMT", now=now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_duplicate_job_uuid_is_recognised() -> None:
    assert is_duplicate_job(decode(400, "Duplicate job uuid[abc]", None, NO_SECRETS))
    assert not is_duplicate_job(decode(400, "missing header 'Authorization'", None, NO_SECRETS))
    assert not is_duplicate_job(decode(503, "Duplicate job uuid", None, NO_SECRETS))


def test_successor_job_uuid_is_deterministic_32_hex() -> None:
    first = successor_job_uuid("a" * 32)
    assert first == successor_job_uuid("a" * 32)
    assert first != "a" * 32
    assert len(first) == 32
    assert int(first, 16) >= 0


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/zstack/v1"),
        ("http://mn:8080/", "http://mn:8080/zstack/v1"),
        ("https://mn/zstack", "https://mn/zstack/v1"),
        ("https://mn/zstack/v1/", "https://mn/zstack/v1"),
    ],
)
def test_api_base(endpoint: str, base: str) -> None:
    assert api_base(endpoint) == base


@pytest.mark.parametrize("endpoint", ["mn:8080", "ftp://mn", "http://admin:pw@mn:8080"])
def test_bad_endpoints_are_config_errors(endpoint: str) -> None:
    with pytest.raises(ZStackConfigError):
        api_base(endpoint)


def test_tls_verification_options(caplog: pytest.LogCaptureFixture) -> None:
    assert ssl_verify(True) is True
    assert isinstance(ssl_verify(certifi.where()), ssl.SSLContext)
    with caplog.at_level(logging.WARNING):
        assert ssl_verify(False) is False
    assert "verification of the ZStack endpoint is disabled" in caplog.text
