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


BASE = {"ZSTACK_ENDPOINT": "https://zstack:8443", "ZSTACK_CREDENTIALS_SECRET": "ops/zstack"}


def test_environment_alone_is_enough_and_defaults_apply() -> None:
    s = load_settings(parse(), BASE)
    assert s == Settings(
        endpoint="https://zstack:8443",
        credentials_secret=s.credentials_secret,
        lease_namespace="ops",
    )
    assert str(s.credentials_secret) == "ops/zstack"
    assert s.cluster_wide
    assert s.verify is True
    assert (s.drift_interval, s.max_in_flight, s.log_format) == (600.0, 16, "text")


def test_leader_election_is_on_with_the_pods_name_in_its_namespace() -> None:
    s = load_settings(parse(), BASE)
    assert (s.leader_elect, s.lease_namespace, s.lease_name, s.identity) == (
        True,
        "ops",
        "zstack-operator",
        "",
    )
    assert s.lease_duration == 15
    pod = {**BASE, "POD_NAME": "zso-7d9-x2", "POD_NAMESPACE": "zstack-system"}
    s = load_settings(parse(), pod)
    assert (s.identity, s.lease_namespace) == ("zso-7d9-x2", "zstack-system")
    flags = parse(
        "--leader-elect=false", "--lease-name", "zso", "--identity", "a", "--lease-duration", "30"
    )
    s = load_settings(flags, pod)
    assert (s.leader_elect, s.lease_name, s.identity, s.lease_duration) == (False, "zso", "a", 30)
    with pytest.raises(ConfigError, match="lease duration must be at least 3"):
        load_settings(parse("--lease-duration", "1"), BASE)
    with pytest.raises(ConfigError, match="lease name must be a DNS subdomain name"):
        load_settings(parse("--lease-name", "Not_A_Name"), BASE)


def test_flags_win_and_namespaces_merge_without_duplicates() -> None:
    env = {**BASE, "ZSTACK_OPERATOR_NAMESPACES": "a, b", "ZSTACK_MAX_IN_FLIGHT": "4"}
    s = load_settings(parse("--namespace", "x", "--namespace", "x", "--max-in-flight", "8"), env)
    assert s.namespaces == ("x",)
    assert s.max_in_flight == 8
    assert load_settings(parse(), env).namespaces == ("a", "b")


def test_plain_http_needs_the_opt_in_by_flag_or_environment() -> None:
    http = {**BASE, "ZSTACK_ENDPOINT": "http://zstack:8080/"}
    with pytest.raises(ConfigError, match="--allow-insecure-http"):
        load_settings(parse(), http)
    by_flag = load_settings(parse("--allow-insecure-http"), http)
    by_env = load_settings(parse(), {**http, "ZSTACK_ALLOW_INSECURE_HTTP": "true"})
    assert by_flag == by_env
    assert (by_flag.endpoint, by_flag.allow_insecure_http) == ("http://zstack:8080", True)
    assert load_settings(parse(), BASE).allow_insecure_http is False


def test_adoption_is_off_unless_asked_for() -> None:
    assert load_settings(parse(), BASE).allow_adoption is False
    assert load_settings(parse("--allow-adoption"), BASE).allow_adoption is True
    env = {**BASE, "ZSTACK_ALLOW_ADOPTION": "true"}
    assert load_settings(parse(), env).allow_adoption is True


def test_a_login_in_the_endpoint_is_refused_without_repeating_it() -> None:
    env = {**BASE, "ZSTACK_ENDPOINT": "https://admin:hunter2@zstack:8443"}
    with pytest.raises(ConfigError) as caught:
        load_settings(parse(), env)
    assert "https://zstack:8443 must not carry a user name or password" in str(caught.value)
    assert "admin" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_insecure_skip_verify_turns_verification_off() -> None:
    s = load_settings(parse("--insecure-skip-tls-verify"), BASE)
    assert s.verify is False


@pytest.mark.parametrize(
    ("env", "argv", "message"),
    [
        ({}, (), "no ZStack endpoint"),
        ({**BASE, "ZSTACK_ENDPOINT": "zstack:8080"}, (), "must be an https:// URL"),
        ({**BASE, "ZSTACK_ENDPOINT": "http://z:8080"}, (), "is plain http"),
        ({"ZSTACK_ENDPOINT": "https://z"}, (), "no credentials Secret"),
        ({**BASE, "ZSTACK_ALLOW_ADOPTION": "sometimes"}, (), "allow-adoption must be true"),
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
