"""Secrets never leak: every error class, the client's repr and the logs are searched for the
password, its SHA-512, the AccessKey secret and every live session id.
"""

from __future__ import annotations

import hashlib
import logging

import pytest
from zstack_operator.sim import Simulator
from zstack_operator.zstack import (
    AccessKeyCredentials,
    AccountCredentials,
    DuplicateJobError,
    JobExpiredError,
    JobTimeoutError,
    RetryPolicy,
    ZStackAPIError,
    ZStackClient,
    ZStackConfigError,
    ZStackError,
    ZStackRESTError,
    ZStackTransportError,
)
from zstack_operator.zstack.models import UpdateModelServiceParam

from tests.support.client_helpers import param
from tests.support.sim_fixtures import SimFactory

PASSWORD = "Zs-s3cret-Pa55word"
JOB = "5" * 32


def _sessions(sim: Simulator) -> set[str]:
    return set(sim.context.state.sessions)


async def test_no_secret_in_errors_reprs_or_logs(
    sim_factory: SimFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = await sim_factory(password=PASSWORD)
    key = await sim.admin.create_access_key()
    creds = AccountCredentials(account_name="admin", password=PASSWORD)
    errors: dict[type[ZStackError], ZStackError] = {}
    sessions: set[str] = set()
    texts: list[str] = []

    def keep(exc: ZStackError) -> None:
        errors[type(exc)] = exc

    policy = RetryPolicy(attempts=2, base=0.001, cap=0.001, max_retry_after=1)
    async with ZStackClient(sim.url, creds, retry=policy) as client:
        await client.add_model_service(param(), job_uuid=JOB)
        sessions |= _sessions(sim)
        await sim.admin.expire_sessions()
        await client.query_model_services()  # logs in again: a second session
        sessions |= _sessions(sim)
        texts.append(repr(client))
        try:
            await client.update_model_service("d" * 32, UpdateModelServiceParam(name="x"))
        except ZStackAPIError as exc:
            keep(exc)
        try:
            await client.add_model_service(param(), job_uuid=JOB)
        except DuplicateJobError as exc:
            keep(exc)
        try:
            await client.wait_job("e" * 32)
        except JobExpiredError as exc:
            keep(exc)
        await sim.admin.set_faults(hold_jobs=True)
        try:
            await client.add_model_service(param(), wait=0)
        except JobTimeoutError as exc:
            keep(exc)
        await sim.admin.set_faults(hold_jobs=False, throttle_rate=1.0, retry_after=5)
        try:
            await client.query_model_services()
        except ZStackRESTError as exc:
            keep(exc)
        await sim.admin.set_faults(throttle_rate=0.0, outage=True)
        try:
            await client.query_model_services()
        except ZStackTransportError as exc:
            keep(exc)
        await sim.admin.set_faults(outage=False)
        sessions |= _sessions(sim)
    texts.append(repr(client))

    wrong = AccountCredentials(account_name="admin", password=PASSWORD + "-wrong")
    async with ZStackClient(sim.url, wrong) as client:
        texts.append(repr(client))
        with pytest.raises(ZStackAPIError) as bad_login:
            await client.query_model_services()
    ak = AccessKeyCredentials(
        access_key_id=key.access_key_id, access_key_secret=key.access_key_secret
    )
    bad_ak = AccessKeyCredentials(access_key_id=key.access_key_id, access_key_secret="x" * 20)
    zone = sim.config.time_zone
    async with (
        ZStackClient(sim.url, ak, time_zone=zone) as good,
        ZStackClient(sim.url, bad_ak, time_zone=zone) as bad,
    ):
        texts += [repr(good), repr(bad), repr(ak), str(ak)]
        await good.query_model_services()
        with pytest.raises(ZStackAPIError) as bad_signature:
            await bad.query_model_services()
    with pytest.raises(ZStackConfigError) as bad_endpoint:
        ZStackClient(f"http://admin:{PASSWORD}@127.0.0.1:1", creds)

    assert set(errors) == {
        ZStackAPIError,
        DuplicateJobError,
        JobExpiredError,
        JobTimeoutError,
        ZStackRESTError,
        ZStackTransportError,
    }
    assert len(sessions) == 2
    caught = [*errors.values(), bad_login.value, bad_signature.value, bad_endpoint.value]
    for error in caught:
        texts += [str(error), repr(error), *map(str, error.args)]
    texts.append(caplog.text)
    secrets = {
        PASSWORD,
        PASSWORD + "-wrong",
        hashlib.sha512(PASSWORD.encode()).hexdigest(),
        key.access_key_secret,
        "x" * 20,
        *sessions,
    }
    for text in texts:
        for secret in secrets:
            assert secret not in text
    # The logs did record the traffic, including the logout (with its session masked).
    assert "accounts/sessions/***" in caplog.text
    assert "LogOut" in caplog.text


async def test_successful_data_is_never_masked(sim_factory: SimFactory) -> None:
    # Scrubbing is for error text only: a user's yaml may contain the same string.
    sim = await sim_factory(password=PASSWORD)
    creds = AccountCredentials(account_name="admin", password=PASSWORD)
    async with ZStackClient(sim.url, creds) as client:
        inv = await client.add_model_service(
            param(yaml=f"token: {PASSWORD}\n", description=PASSWORD)
        )
        got = await client.get_model_service(inv.uuid)
    assert got is not None
    assert (inv.yaml, inv.description) == (f"token: {PASSWORD}", PASSWORD)
    assert (got.yaml, got.description) == (f"token: {PASSWORD}", PASSWORD)
