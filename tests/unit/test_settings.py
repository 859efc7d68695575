"""Operator settings: flags win over the environment; bad values end in one clear line."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from zstack_operator.settings import ConfigError, Settings, add_arguments, load_settings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


BASE = {"ZSTACK_ENDPOINT": "http://zstack:8080", "ZSTACK_CREDENTIALS_SECRET": "ops/zstack"}


def test_environment_alone_is_enough_and_defaults_apply() -> None:
    s = load_settings(parse(), BASE)
    assert s == Settings(endpoint="http://zstack:8080", credentials_secret=s.credentials_secret)
    assert str(s.credentials_secret) == "ops/zstack"
    assert s.cluster_wide
    assert s.verify is True
    assert (s.drift_interval, s.max_in_flight, s.log_format) == (600.0, 16, "text")


def test_flags_win_and_namespaces_merge_without_duplicates() -> None:
    env = {**BASE, "ZSTACK_OPERATOR_NAMESPACES": "a, b", "ZSTACK_MAX_IN_FLIGHT": "4"}
    s = load_settings(parse("--namespace", "x", "--namespace", "x", "--max-in-flight", "8"), env)
    assert s.namespaces == ("x",)
    assert s.max_in_flight == 8
    assert load_settings(parse(), env).namespaces == ("a", "b")


def test_insecure_skip_verify_turns_verification_off() -> None:
    s = load_settings(parse("--insecure-skip-tls-verify"), BASE)
    assert s.verify is False


@pytest.mark.parametrize(
    ("env", "argv", "message"),
    [
        ({}, (), "no ZStack endpoint"),
        ({**BASE, "ZSTACK_ENDPOINT": "zstack:8080"}, (), "must be an http(s) URL"),
        ({"ZSTACK_ENDPOINT": "http://z"}, (), "no credentials Secret"),
        ({**BASE, "ZSTACK_CREDENTIALS_SECRET": "just-a-name"}, (), "NAMESPACE/NAME"),
        (BASE, ("--drift-interval", "soon"), "must be a number"),
        (BASE, ("--max-in-flight", "0"), "at least 1"),
        (BASE, ("--ca-bundle", "/nonexistent/ca.pem"), "does not exist"),
        ({**BASE, "ZSTACK_INSECURE_SKIP_TLS_VERIFY": "maybe"}, (), "true or false"),
        ({**BASE, "ZSTACK_OPERATOR_HEALTH_ADDRESS": "8080"}, (), "HOST:PORT"),
    ],
)
def test_bad_configuration_is_one_actionable_error(
    env: dict[str, str], argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(parse(*argv), env)


def test_run_exits_2_with_one_line_before_starting_kopf() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zstack_operator", "run"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "zstack-operator: configuration error: no ZStack endpoint: pass --zstack-endpoint "
        "or set ZSTACK_ENDPOINT"
    ]
