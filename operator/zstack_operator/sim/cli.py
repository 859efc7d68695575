"""The ``zstack-operator sim`` subcommand: run the ZStack API simulator in the foreground.

Registered by ``zstack_operator.cli``; the server modules are imported only when the command
runs. Prints one line with the endpoint URL once listening, logs to stderr, and stops cleanly
on SIGINT/SIGTERM (running jobs stay in the ``--state-file`` and resume on the next start).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from .config import SimConfig, SimMode


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _tenant(text: str) -> tuple[str, str]:
    name, sep, password = text.partition(":")
    if not sep or not name.strip() or not password:
        # The value holds a password: the message must not repeat it.
        raise argparse.ArgumentTypeError("a tenant is NAME:PASSWORD, both non-empty")
    return name.strip(), password


def _time_zone(text: str) -> str:
    from .clock import zone_named  # the server modules load only when the command runs

    try:
        zone_named(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def register(subparsers: Any) -> None:
    """Add the ``sim`` subcommand."""
    defaults = SimConfig()
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="run the ZStack API simulator (model services, sessions, async jobs, faults)",
        description="A local ZStack REST API for tests, demos and development. "
        "APIs live under <url>/zstack/v1; the admin API under <url>/_sim.",
    )
    p.add_argument("--host", default=defaults.host, help="address to listen on (%(default)s)")
    p.add_argument(
        "--port", type=int, default=8080, help="port to listen on, 0 = any (%(default)s)"
    )
    p.add_argument("--state-file", type=Path, help="SQLite file that keeps state across restarts")
    p.add_argument(
        "--mode",
        choices=[m.value for m in SimMode],
        default=defaults.mode.value,
        help="async: mutations answer 202 + a job to poll (ZStack's REST server); "
        "sync: they answer with the result (%(default)s)",
    )
    p.add_argument(
        "--latency-ms",
        type=_non_negative,
        default=defaults.latency_ms,
        help="delay before every API answer (%(default)s)",
    )
    p.add_argument(
        "--job-duration-ms",
        type=_non_negative,
        default=defaults.job_duration_ms,
        help="how long an accepted job runs before its change is applied (%(default)s)",
    )
    p.add_argument(
        "--deploy-duration-ms",
        type=_non_negative,
        default=defaults.deploy_duration_ms,
        help="how long a deployment takes after its DeployModelService job to be Running "
        "(%(default)s)",
    )
    p.add_argument(
        "--deploy-fail-rate",
        type=_rate,
        default=defaults.deploy_fail_rate,
        help="share of deployments that end Failed instead of Running (%(default)s)",
    )
    p.add_argument(
        "--instances-per-group",
        type=int,
        default=defaults.instances_per_group,
        help="instances each deployment gets (%(default)s)",
    )
    p.add_argument(
        "--session-timeout",
        type=_non_negative,
        default=defaults.session_timeout,
        help="seconds a session lives after its last use (%(default)s)",
    )
    p.add_argument(
        "--account",
        default=defaults.account,
        help="login name of the built-in admin, uuid 36c27e8ff05c4780bf6d2fa65700f22e "
        "(%(default)s)",
    )
    p.add_argument(
        "--password",
        default=defaults.password,
        help="the admin's password, plain text; login sends its SHA-512",
    )
    p.add_argument(
        "--tenant",
        type=_tenant,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="a normal account that exists from the start (repeatable); it sees and changes "
        "only its own model services",
    )
    p.add_argument(
        "--zstack-version",
        default=defaults.zstack_version,
        help="the release simulated: 5.1.20, 5.3.20 or 5.5.22 (%(default)s). It decides the "
        "model-service fields, enums, defaults and inventory shape, and what GetVersion says",
    )
    p.add_argument(
        "--time-zone",
        type=_time_zone,
        default=defaults.time_zone,
        metavar="ZONE",
        help="the node's IANA time zone (%(default)s): dates are printed in it and AccessKey "
        "Date headers are checked against its wall clock",
    )
    p.add_argument(
        "--check-time-zone",
        action="store_true",
        help="rest.checkTimeZone=true: compare the AccessKey Date as an instant, zone "
        "included (default: its wall clock against the node's, zone ignored, like ZStack)",
    )
    p.add_argument(
        "--max-sessions",
        type=int,
        default=defaults.max_sessions,
        help="live sessions one account may hold before login fails with ID.1006 (%(default)s)",
    )
    p.add_argument(
        "--job-ttl",
        type=_non_negative,
        default=defaults.job_ttl,
        help="seconds a finished job can still be polled (%(default)s)",
    )
    p.add_argument(
        "--error-rate", type=_rate, default=0.0, help="share of requests failing SYS.1000"
    )
    p.add_argument("--reset-rate", type=_rate, default=0.0, help="share of connections reset")
    p.add_argument(
        "--throttle-rate", type=_rate, default=0.0, help="share of requests answered 429"
    )
    p.add_argument(
        "--retry-after",
        type=_non_negative,
        default=defaults.retry_after,
        help="seconds in the Retry-After header of 429 answers (%(default)s)",
    )
    p.add_argument("--location-host", help="host written into job locations (default: --host)")
    p.add_argument("--seed", type=int, help="seed of the fault dice")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The SimConfig the parsed options describe."""
    return SimConfig(
        host=args.host,
        port=args.port,
        mode=SimMode(args.mode),
        latency_ms=args.latency_ms,
        job_duration_ms=args.job_duration_ms,
        deploy_duration_ms=args.deploy_duration_ms,
        deploy_fail_rate=args.deploy_fail_rate,
        instances_per_group=args.instances_per_group,
        session_timeout=args.session_timeout,
        account=args.account,
        password=args.password,
        tenants=tuple(args.tenant),
        zstack_version=args.zstack_version,
        time_zone=args.time_zone,
        check_time_zone=args.check_time_zone,
        max_sessions=args.max_sessions,
        job_ttl=args.job_ttl,
        error_rate=args.error_rate,
        reset_rate=args.reset_rate,
        throttle_rate=args.throttle_rate,
        retry_after=args.retry_after,
        state_file=args.state_file,
        location_host=args.location_host,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    """Run the simulator until SIGINT/SIGTERM."""
    from .server import Simulator, serve

    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = config_from_args(args)
    names = [name for name, _ in config.tenants]
    if config.account in names or len(set(names)) != len(names):
        sys.stderr.write("zstack-operator sim: tenant names must be unique and not the admin's\n")
        return 2

    def ready(sim: Simulator) -> None:
        sys.stdout.write(
            f"ZStack simulator listening on {sim.url} (APIs under {sim.url}/zstack/v1)\n"
        )
        sys.stdout.flush()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, ready, stop)

    try:
        asyncio.run(main())
    except OSError as exc:
        sys.stderr.write(f"zstack-operator sim: cannot listen on {args.host}:{args.port}: {exc}\n")
        return 1
    return 0
