"""Credentials from a Secret's data: strict decoding, refusals that never show the value, and
registration for masking whatever the value's length."""

from __future__ import annotations

import base64
import hashlib

import pytest
from zstack_operator import status as st
from zstack_operator.secret_data import CredentialsError, credentials_from_secret
from zstack_operator.zstack import known_secrets
from zstack_operator.zstack.credentials import AccessKeyCredentials, AccountCredentials

WHERE = "ops/zstack-login"
#: A value no message may contain any part of.
SECRET = "Zq9Sekret"


@pytest.fixture(autouse=True)
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh masking registry per test: a registered "x" would mask every lone x after it."""
    monkeypatch.setattr(known_secrets, "_SECRETS", set())


def b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode()


def secret(**data: str) -> dict[str, object]:
    return {"metadata": {"name": "zstack-login"}, "data": data}


def refusal(body: dict[str, object]) -> CredentialsError:
    with pytest.raises(CredentialsError) as caught:
        credentials_from_secret(body, WHERE)
    return caught.value


def assert_no_trace_of(error: CredentialsError, *fragments: str) -> None:
    for shown in (str(error), repr(error), str(error.args)):
        for fragment in fragments:
            assert fragment not in shown, shown
    # Nothing chained either: a UnicodeDecodeError would carry the raw bytes.
    assert error.__cause__ is None
    assert error.__context__ is None


def test_an_account_login_is_decoded_exactly() -> None:
    creds = credentials_from_secret(secret(accountName=b64("admin"), password=b64("p a ss")), WHERE)
    assert isinstance(creds, AccountCredentials)
    assert creds.account_name == "admin"
    assert creds.password.get_secret_value() == "p a ss"  # inner spaces are part of it


def test_an_access_key_is_used_when_there_is_no_account_login() -> None:
    body = secret(accessKeyId=b64("AKID"), accessKeySecret=b64("k3y-secret"), accountName="")
    creds = credentials_from_secret(body, WHERE)
    assert isinstance(creds, AccessKeyCredentials)
    assert creds.access_key_id == "AKID"
    assert creds.access_key_secret.get_secret_value() == "k3y-secret"


def test_the_account_wins_when_both_are_complete() -> None:
    both = secret(
        accountName=b64("admin"),
        password=b64("pw-1234"),
        accessKeyId=b64("AKID"),
        accessKeySecret=b64("k3y"),
    )
    assert isinstance(credentials_from_secret(both, WHERE), AccountCredentials)


@pytest.mark.parametrize(
    ("body", "has"),
    [
        ({"data": {}}, "(it has none of them)"),
        ({}, "(it has none of them)"),
        (secret(accountName=b64("admin")), "(it has accountName)"),
        (secret(accountName=b64("admin"), accessKeySecret=b64(SECRET)), "accessKeySecret"),
    ],
)
def test_an_incomplete_secret_names_the_keys_it_needs_and_has(
    body: dict[str, object], has: str
) -> None:
    error = refusal(body)
    assert str(error).startswith(
        f"Secret {WHERE} must hold accountName and password, or accessKeyId and accessKeySecret"
    )
    assert has in str(error)
    assert_no_trace_of(error, SECRET)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (SECRET + "!!", "is not valid base64"),
        (b64(SECRET)[:-1], "is not valid base64"),  # padding cut off
        (b64(SECRET) + "\n", "is not valid base64"),
        (b64(b"\xff\xfe" + SECRET.encode()), "is not UTF-8 text once decoded"),
        (b64(SECRET.encode() + b"\xc3"), "is not UTF-8 text once decoded"),
    ],
)
def test_a_value_that_does_not_decode_is_named_by_key_never_shown(raw: str, problem: str) -> None:
    error = refusal(secret(accountName=b64("admin"), password=raw))
    assert str(error) == f"Secret {WHERE}: the value of key password {problem}" + (
        " (the Secret's data must be base64-encoded)" if "base64" in problem else ""
    )
    assert_no_trace_of(error, SECRET, raw, "Zq9", "\\xff", "0xff", "0xc3")


def test_a_value_that_is_not_a_string_is_refused() -> None:
    error = refusal({"data": {"accountName": b64("admin"), "password": 12345}})
    assert "key password is not a base64 string" in str(error)
    assert_no_trace_of(error, "12345")


def test_data_that_is_not_a_map_is_refused() -> None:
    assert "data is not a map" in str(refusal({"data": [b64(SECRET)]}))


@pytest.mark.parametrize(
    "value",
    [SECRET + "\n", SECRET + "\r\n", " " + SECRET, SECRET + "\t", "\n", "  "],
    ids=["newline", "crlf", "leading-space", "tab", "only-newline", "only-spaces"],
)
def test_whitespace_around_a_value_is_refused_not_stripped(value: str) -> None:
    error = refusal(secret(accountName=b64("admin"), password=b64(value)))
    text = str(error)
    assert text.startswith(
        f"Secret {WHERE}: the value of key password starts or ends with whitespace or a newline"
    )
    assert "`echo` adds a newline" in text
    assert "printf '%s'" in text
    assert "--from-literal" in text
    assert_no_trace_of(error, SECRET, b64(value))


def test_whitespace_in_a_key_that_is_not_a_secret_is_refused_too() -> None:
    error = refusal(secret(accountName=b64("admin\n"), password=b64(SECRET)))
    assert "key accountName starts or ends with whitespace" in str(error)
    assert_no_trace_of(error, SECRET)


def test_every_value_is_checked_not_only_the_pair_in_use() -> None:
    body = secret(accountName=b64("admin"), password=b64("pw-ok-1"), accessKeyId="%%%")
    assert "key accessKeyId is not valid base64" in str(refusal(body))


@pytest.mark.parametrize("password", ["x", "pw", "abc", "long-enough-password"])
def test_the_password_and_its_hash_are_masked_whatever_their_length(password: str) -> None:
    credentials_from_secret(secret(accountName=b64("admin"), password=b64(password)), WHERE)
    digest = hashlib.sha512(password.encode()).hexdigest()
    message = f"login as admin with {password} (hash {digest}) refused"
    assert known_secrets.mask(message) == "login as admin with *** (hash ***) refused"
    assert st.scrub(message) == "login as admin with *** (hash ***) refused"


def test_a_short_access_key_secret_is_masked_where_it_stands_alone() -> None:
    body = secret(accessKeyId=b64("AKID"), accessKeySecret=b64("q7"))
    credentials_from_secret(body, WHERE)
    assert known_secrets.mask("secret q7 rejected; q7x stays") == "secret *** rejected; q7x stays"
