"""ZStack endpoint URLs: https unless opted out, no login, query or fragment, and messages
that never repeat a login; plain http warned about loudly at start-up."""

from __future__ import annotations

import argparse
import logging
import sys
import types

import pytest
import zstack_operator
from zstack_operator import runner
from zstack_operator.endpoints import EndpointError, check_endpoint, warn_if_insecure
from zstack_operator.settings import Settings


@pytest.mark.parametrize(
    ("url", "allow_http", "expected"),
    [
        ("https://zstack.example:8443", False, "https://zstack.example:8443"),
        ("https://zstack.example:8443/", False, "https://zstack.example:8443"),
        ("https://zstack.example/behind/a/proxy/", False, "https://zstack.example/behind/a/proxy"),
        ("HTTPS://zstack.example", False, "https://zstack.example"),
        ("https://[fd00::1]:8443", False, "https://[fd00::1]:8443"),
        ("http://127.0.0.1:8080/", True, "http://127.0.0.1:8080"),
        ("https://zstack.example", True, "https://zstack.example"),
    ],
)
def test_good_endpoints_come_back_normalised(url: str, allow_http: bool, expected: str) -> None:
    assert check_endpoint(url, allow_http=allow_http) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("zstack.example:8080", "must be an https:// URL"),
        ("ftp://zstack.example", "got scheme 'ftp'"),
        ("zstack.example", "got no http(s) scheme"),
        ("https://", "must name a host, e.g. https://zstack.example:8080"),
        ("https://zstack.example:http", "has a bad port: use a number from 1 to 65535"),
        ("https://zstack.example:0", "has a bad port"),
        ("https://zstack.example:70000", "has a bad port"),
        ("https://zstack.example:8443/?x=1", "must not have a query string or fragment"),
        ("https://zstack.example:8443?", "must not have a query string or fragment"),
        ("https://zstack.example:8443/#top", "must not have a query string or fragment"),
        ("https://zstack.example\n", "whitespace or a control character"),
        ("https://zstack .example", "whitespace or a control character"),
        ("http://zstack.example:8080", "is plain http"),
    ],
)
def test_bad_endpoints_say_what_to_fix(url: str, message: str) -> None:
    with pytest.raises(EndpointError) as caught:
        check_endpoint(url, allow_http=False)
    assert message in str(caught.value)


def test_plain_http_refusal_names_both_opt_ins() -> None:
    with pytest.raises(EndpointError) as caught:
        check_endpoint("http://zstack.example:8080/", allow_http=False)
    text = str(caught.value)
    assert "http://zstack.example:8080 is plain http" in text
    assert "--allow-insecure-http" in text
    assert "ZSTACK_ALLOW_INSECURE_HTTP=true" in text


USERINFO = [
    "https://admin:Pa55w0rd-xyz@zstack.example:8443/",
    "https://admin-user@zstack.example:8443",
    "https://:Pa55w0rd-xyz@zstack.example:8443",
    "http://admin:Pa55w0rd-xyz@zstack.example:8443?x=1",  # userinfo is reported first
    "https://admin:Pa55w0rd-xyz@zstack.example:bad",
    "admin:Pa55w0rd-xyz@zstack.example:8443",  # no scheme: "admin" would parse as one
    "https://admin:Pa55w0rd-xyz@",
]


@pytest.mark.parametrize("url", USERINFO)
def test_userinfo_is_refused_and_never_echoed(url: str) -> None:
    with pytest.raises(EndpointError) as caught:
        check_endpoint(url, allow_http=True)
    for shown in (str(caught.value), repr(caught.value)):
        assert "admin" not in shown
        assert "Pa55w0rd" not in shown
        assert "xyz" not in shown


def test_userinfo_message_shows_only_scheme_host_and_port() -> None:
    with pytest.raises(EndpointError) as caught:
        check_endpoint(USERINFO[0], allow_http=False)
    assert str(caught.value).startswith(
        "ZStack endpoint https://zstack.example:8443 must not carry a user name or password"
    )
    assert "credentials Secret" in str(caught.value)


def test_warning_only_for_plain_http(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="zstack_operator.endpoints"):
        assert warn_if_insecure("https://zstack.example", "here") is False
        assert caplog.records == []
        assert warn_if_insecure("http://zstack.example:8080", "connection x") is True
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("INSECURE: connection x uses plain http ZStack endpoint ")
    assert "http://zstack.example:8080" in message
    assert "SHA-512 password hash" in message
    assert "session id" in message


def test_run_warns_at_start_when_http_was_opted_into(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Settings] = []

    # A stand-in for handlers (kopf is not started): runner hands it the settings.
    def run(settings: Settings) -> int:
        started.append(settings)
        return 0

    fake = types.ModuleType("zstack_operator.handlers")
    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zstack_operator.handlers", fake)
    monkeypatch.setattr(zstack_operator, "handlers", fake, raising=False)
    monkeypatch.setenv("ZSTACK_ENDPOINT", "http://127.0.0.1:8080")
    monkeypatch.setenv("ZSTACK_CREDENTIALS_SECRET", "ops/zs")
    monkeypatch.setenv("ZSTACK_ALLOW_INSECURE_HTTP", "true")
    parser = argparse.ArgumentParser()
    runner.register(parser.add_subparsers())
    args = parser.parse_args(["run"])
    with caplog.at_level(logging.WARNING):
        assert args.func(args) == 0
    assert [s.endpoint for s in started] == ["http://127.0.0.1:8080"]
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["INSECURE"]
