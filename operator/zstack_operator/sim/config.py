"""Start-time configuration of the ZStack simulator and the uuids it is seeded with.

Owned here: ``SimConfig`` (what ``zstack-operator sim`` options and test fixtures set) and the
seed constants that samples, tests and docs refer to. Read by every other ``sim`` module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

#: The model center every fresh simulator knows (AddModelService needs one).
DEFAULT_MODEL_CENTER_UUID = "5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9"
#: The zone every fresh simulator knows (``zoneUuid`` is checked when given).
DEFAULT_ZONE_UUID = "8f14e45fceea467a9b0c7d1e2f3a4b5c"
#: Models every fresh simulator knows (``modelUuids`` and Bind/Unbind check them).
DEFAULT_MODEL_UUIDS: tuple[str, ...] = (
    "c4ca4238a0b94382b0c8d1e2f3a4b5c6",
    "c81e728d9d4c4f0a8b1c2d3e4f5a6b7c",
    "eccbc87e4b5c4e2f9a1b2c3d4e5f6a7b",
)
#: A tag pattern every fresh simulator knows, the admin's (``tagUuids`` is checked; the tags
#: sample, deploy/samples/modelservice-tags.yaml, names it).
DEFAULT_TAG_PATTERN_UUID = "5d41402abc4b4a76b9719d911017c592"
#: Uuid of ZStack's built-in admin account (``AccountConstant.INITIAL_SYSTEM_ADMIN_UUID``).
#: The client has its own copy (``zstack.models``): the simulator's light imports stay light.
ADMIN_ACCOUNT_UUID = "36c27e8ff05c4780bf6d2fa65700f22e"
#: What GetVersion reports unless told otherwise: the newest release ZSTACK-API.md describes.
DEFAULT_ZSTACK_VERSION = "5.5.22"
#: The node's zone unless told otherwise: not UTC, so every test meets what a real node in
#: China does (dates printed in local time, AccessKey Date checked against local time).
DEFAULT_TIME_ZONE = "Asia/Shanghai"
#: The context path every API lives under; clients append it to the endpoint root.
CONTEXT_PATH = "/zstack"


class SimMode(StrEnum):
    """How mutations answer: 202 + job location (ZStack's REST server) or 200 directly."""

    ASYNC = "async"
    SYNC = "sync"


@dataclass(frozen=True)
class SimConfig:
    """Everything fixed when a simulator starts; runtime faults start from these values."""

    host: str = "127.0.0.1"
    #: 0 picks a free port; ``Simulator.url`` tells which.
    port: int = 0
    mode: SimMode = SimMode.ASYNC
    latency_ms: float = 0.0
    #: How long an accepted asynchronous job runs before its mutation is applied.
    job_duration_ms: float = 100.0
    #: How long a deployment (DeployModelService) takes after its job to reach Running.
    deploy_duration_ms: float = 200.0
    #: Share of deployments that end ``Failed`` instead of ``Running``.
    deploy_fail_rate: float = 0.0
    #: Instances each deployment (model service instance group) gets.
    instances_per_group: int = 1
    #: ``identity.session.timeout``: every authenticated call extends a session by this much.
    session_timeout: float = 7200.0
    #: Login of the built-in admin (uuid ``ADMIN_ACCOUNT_UUID``).
    account: str = "admin"
    password: str = field(default="password", repr=False)
    #: Normal accounts that exist from the start (and again after a reset): (name, plain
    #: password) pairs; login sends the SHA-512 of the password, as for the admin.
    tenants: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: What ``GetVersion`` answers, and which release's fields, enums, defaults and inventory
    #: shape the model-service APIs have (``profiles.profile_for``).
    zstack_version: str = DEFAULT_ZSTACK_VERSION
    #: The node's IANA zone: inventory dates are printed in it, AccessKey ``Date`` headers are
    #: checked against its wall clock (``clock``).
    time_zone: str = DEFAULT_TIME_ZONE
    #: ``rest.checkTimeZone``: False (ZStack's default) compares the Date header's wall clock
    #: with the node's, ignoring the header's zone; True compares instants.
    check_time_zone: bool = False
    #: ``identity.session.maxConcurrent``: live sessions one account may hold (then ID.1006).
    max_sessions: int = 500
    #: ``rest.completedApi.expiredPeriod``: how long finished jobs can still be polled.
    job_ttl: float = 10800.0
    error_rate: float = 0.0
    reset_rate: float = 0.0
    throttle_rate: float = 0.0
    #: Seconds sent in ``Retry-After`` with a throttled (429) answer.
    retry_after: float = 1.0
    #: SQLite file keeping resources, sessions and unfinished jobs across restarts.
    state_file: Path | None = None
    #: Host written into job locations (ZStack writes its own address; clients must rewrite it).
    location_host: str | None = None
    #: ``apiTimeout`` in 202 answers when the request has no ``X-API-Timeout`` header.
    api_timeout_ms: int = 1_800_000
    #: Seed of the fault-injection dice, for reproducible chaos runs.
    seed: int | None = None
