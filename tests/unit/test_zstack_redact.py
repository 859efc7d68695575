"""Redaction: secrets, session ids and auth header values never survive into text or logs."""

import logging

import pytest
from zstack_operator.zstack.errors import ZStackAPIError
from zstack_operator.zstack.redact import Redactor, install_httpx_log_filter, scrub_patterns
from zstack_operator.zstack.transport import decode, error_from_reply

SESSION = "0123456789abcdef0123456789abcdef"


def test_known_secrets_and_sessions_are_masked() -> None:
    redact = Redactor("s3cret-password", "")
    redact.add_session(SESSION)
    text = redact(f"login s3cret-password failed for session {SESSION}")
    assert text == "login *** failed for session ***"
    assert "s3cret" not in repr(redact)


def test_short_secrets_are_not_masked_everywhere() -> None:
    assert Redactor("ab")("abcabc") == "abcabc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"DELETE /zstack/v1/accounts/sessions/{SESSION} 200",
            "DELETE /zstack/v1/accounts/sessions/*** 200",
        ),
        (f"Authorization: OAuth {SESSION}", "Authorization: OAuth ***"),
        ("Authorization: ZStack AKID:c2lnbmF0dXJl", "Authorization: ZStack ***"),
    ],
)
def test_session_paths_and_auth_values_are_masked_even_when_unknown(
    text: str, expected: str
) -> None:
    assert scrub_patterns(text) == expected


def test_reply_bodies_are_scrubbed_before_errors_are_built() -> None:
    redact = Redactor("s3cret-password")
    redact.add_session(SESSION)
    body = f'{{"error": {{"code": "ID.1001", "details": "session {SESSION} expired"}}}}'
    error = error_from_reply(decode(503, body, None, redact), "QueryModelService")
    assert isinstance(error, ZStackAPIError)
    assert SESSION not in str(error)
    assert error.error.details == "session *** expired"
    plain = error_from_reply(decode(400, "bad password s3cret-password", None, redact), "X")
    assert "s3cret-password" not in str(plain)
    ok = decode(200, '{"inventory": {"yaml": "s3cret-password"}}', None, redact)
    assert ok.obj() == {"inventory": {"yaml": "s3cret-password"}}


def test_httpx_log_lines_lose_the_session(caplog: pytest.LogCaptureFixture) -> None:
    install_httpx_log_filter()
    install_httpx_log_filter()  # idempotent
    assert len(logging.getLogger("httpx").filters) == 1
    caplog.set_level(logging.INFO, logger="httpx")
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s"',
        "DELETE",
        f"http://h/zstack/v1/accounts/sessions/{SESSION}",
        "200",
    )
    assert SESSION not in caplog.text
    assert "accounts/sessions/***" in caplog.text
