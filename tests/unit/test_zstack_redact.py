"""Redaction: secrets, session ids and auth header values never survive into text or logs."""

import logging

import pytest
from zstack_operator.zstack.errors import ZStackAPIError
from zstack_operator.zstack.redact import (
    SHORT_SECRET,
    Redactor,
    install_httpx_log_filter,
    scrub_patterns,
)
from zstack_operator.zstack.transport import decode, error_from_reply

SESSION = "0123456789abcdef0123456789abcdef"


def test_known_secrets_and_sessions_are_masked() -> None:
    redact = Redactor("s3cret-password", "")
    redact.add_session(SESSION)
    text = redact(f"login s3cret-password failed for session {SESSION}")
    assert text == "login *** failed for session ***"
    assert "s3cret" not in repr(redact)


def test_short_secrets_are_not_masked_inside_longer_words() -> None:
    assert Redactor("ab")("abcabc") == "abcabc"


def test_secrets_of_any_length_are_masked_where_they_stand_alone() -> None:
    """Below ``SHORT_SECRET`` characters a secret is masked as a whole word, not inside one."""
    redact = Redactor("abc", "abcd", "x")
    redact.add_session("xyz")
    assert redact("abc abcd xyz x") == "*** *** *** ***"
    assert redact("password 'abc' refused; xyz=1, (x)") == "password '***' refused; ***=1, (***)"
    assert redact("abcx xylophone 0x1") == "abcx xylophone 0x1"
    assert SHORT_SECRET == 4


def test_a_secret_inside_another_is_masked_whole_not_around() -> None:
    assert Redactor("pass", "password-1")("login password-1 failed") == "login *** failed"


SIGNATURE = "Y76pwQXjYvy0eGaiBqLC91pikIA="  # a real Base64(HMAC-SHA1), as ZStack's header has

#: What users read in conditions, Events and logs: no secret in any, so nothing may change.
ORDINARY_TEXTS = [
    "ZStack matches the spec",
    "ZStack returned no inventory for abc",
    f"ZStack returned no inventory for {SESSION}",
    "waiting for ZStack to accept the model service",
    "the model service exists in ZStack",
    "ZStack differs in yaml",
    "ZStack differs in yaml, requestCpu",
    "OAuth is used by ZStack",
    "OAuth session expired; logging in again",
    "ZStack QueryModelService: connection refused; retry 1 of 5 in 0.50s",
    "ZStack AddModelService: job was accepted by an earlier try; polling it",
    "ZStack localhost:8080 refused the connection",
    "cannot reach ZStack http://zstack.example.com:8080/zstack/v1",
    "cannot reach ZStack http://zstack-management-node-primary.example.com/zstack",
    "Invalid header[Authorization], it must be 'ZStack AccessKeyId:Signature'",
    "Authorization failed: wrong account name or password",
    "Authorization: missing header",
    "model service text-to-text (6f1c0c3e0d4b4f7e9a3b2c1d0e9f8a7b) is Ready",
    "ZStack error SYS.1007: invalid value for requestCpu",
    "GET /zstack/v1/accounts/login 503",
]


@pytest.mark.parametrize("text", ORDINARY_TEXTS)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub_patterns(text) == text
    assert Redactor("s3cret-password")(text) == text


#: Texts that carry a credential, and what may be shown of them.
SECRET_TEXTS = [
    (
        f"DELETE /zstack/v1/accounts/sessions/{SESSION} 200",
        "DELETE /zstack/v1/accounts/sessions/*** 200",
    ),
    (
        f"PUT http://h/zstack/v1/accounts/sessions/{SESSION}/renew",
        "PUT http://h/zstack/v1/accounts/sessions/***/renew",
    ),
    (f"Authorization: OAuth {SESSION}", "Authorization: OAuth ***"),
    ("Authorization: OAuth not-a-uuid-at-all", "Authorization: OAuth ***"),
    ("authorization: oauth abc", "authorization: oauth ***"),
    ("Authorization: ZStack AKID:c2lnbmF0dXJl", "Authorization: ZStack ***"),
    (f"Authorization: ZStack AKID:{SIGNATURE}", "Authorization: ZStack ***"),
    (
        f"headers {{'Authorization': 'OAuth {SESSION}', 'Date': 'x'}}",
        "headers {'Authorization': 'OAuth ***', 'Date': 'x'}",
    ),
    (
        f'{{"Authorization": "ZStack AKID:{SIGNATURE}"}}',
        '{"Authorization": "ZStack ***"}',
    ),
    (f"request with OAuth {SESSION} failed", "request with OAuth *** failed"),
    ("OAuth 0123abcd-0123-4567-89ab-0123456789ab expired", "OAuth *** expired"),
    (f"sent ZStack AKID:{SIGNATURE}, got 403", "sent ZStack ***, got 403"),
    (f"ZStack AKID-2:{SIGNATURE.rstrip('=')} refused", "ZStack *** refused"),
    (
        f"ZStack matches the spec; Authorization: OAuth {SESSION}",
        "ZStack matches the spec; Authorization: OAuth ***",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SECRET_TEXTS)
def test_credentials_are_masked_even_when_unknown(text: str, expected: str) -> None:
    assert scrub_patterns(text) == expected
    assert Redactor()(text) == expected


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
