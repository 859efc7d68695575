"""Async jobs: resume after a restart, wait=0, duplicate job uuids, expired and failed jobs,
and resuming a request the client resent after its session expired."""

from __future__ import annotations

import time

import httpx
import pytest
from zstack_operator.sim import DEFAULT_MODEL_UUIDS, SimMode, Simulator
from zstack_operator.zstack import (
    DuplicateJobError,
    ErrorKind,
    JobExpiredError,
    JobTimeoutError,
    PollPolicy,
    RetryPolicy,
    ZStackAPIError,
    ZStackClient,
)
from zstack_operator.zstack.dispatch import successor_job_uuid

from tests.support.client_helpers import ADMIN, FAST_RETRY, param
from tests.support.sim_fixtures import SimFactory, SimProcessFactory, api_url

JOB = "0123456789abcdef0123456789abcdef"
RESOURCE_UUID = "2" * 12 + "4" + "2" * 3 + "9" + "2" * 15


async def test_job_resumes_with_a_fresh_client(sim: Simulator) -> None:
    await sim.admin.set_faults(hold_jobs=True)
    async with ZStackClient(sim.url, ADMIN) as first:
        with pytest.raises(JobTimeoutError) as caught:
            await first.add_model_service(param(name="resumed"), job_uuid=JOB, wait=0.2)
    assert caught.value.job_uuid == JOB
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert [(j.uuid, j.state) for j in await sim.admin.jobs()] == [(JOB, "held")]

    assert await sim.admin.release_jobs() == 1
    async with ZStackClient(sim.url, ADMIN) as second:
        inv = await second.wait_job(JOB, api="AddModelService", timeout=10)
        assert inv is not None
        assert inv.name == "resumed"
        assert await second.get_model_service(inv.uuid) == inv
    counters = await sim.admin.counters()
    assert counters.count("AddModelService") == 1
    assert counters.created == {inv.uuid: 1}


async def test_wait_zero_polls_once_and_hands_back_the_job(sim: Simulator) -> None:
    await sim.admin.set_faults(hold_jobs=True)
    async with ZStackClient(sim.url, ADMIN) as client:
        with pytest.raises(JobTimeoutError) as caught:
            await client.add_model_service(param(), wait=0)
        assert (await sim.admin.counters()).count("QueryApiJob", "202") == 1
        job = caught.value.job_uuid
        assert len(job) == 32
        with pytest.raises(JobTimeoutError):
            await client.wait_job(job, api="AddModelService", timeout=0)
        await sim.admin.release_jobs()
        inv = await client.wait_job(job, api="AddModelService")
        assert inv is not None
        # A job without an inventory (delete) resumes to None.
        await client.delete_model_service(inv.uuid, job_uuid="d" * 32, wait=0.05)
        assert await client.wait_job("d" * 32, api="DeleteModelService", timeout=5) is None


async def test_polls_go_to_the_configured_endpoint(sim_factory: SimFactory) -> None:
    sim = await sim_factory(location_host="mn.unreachable.invalid")
    async with ZStackClient(sim.url, ADMIN) as client:
        inv = await client.add_model_service(param())
    assert inv.name == "llama"
    assert (await sim.admin.counters()).count("QueryApiJob", "200") == 1


@pytest.mark.parametrize("mode", [SimMode.ASYNC, SimMode.SYNC])
async def test_reused_job_uuid_is_the_callers_duplicate(
    sim_factory: SimFactory, mode: SimMode
) -> None:
    sim = await sim_factory(mode=mode)
    async with ZStackClient(sim.url, ADMIN) as client:
        inv = await client.add_model_service(param(name="once"), job_uuid=JOB)
        with pytest.raises(DuplicateJobError) as caught:
            await client.add_model_service(param(name="twice"), job_uuid=JOB)
        assert caught.value.job_uuid == JOB
        assert caught.value.status == 400
        assert caught.value.kind is ErrorKind.TERMINAL
        # The job it names is the first one; its result is still there.
        assert await client.wait_job(JOB, api="AddModelService") == inv
    counters = await sim.admin.counters()
    assert counters.count("AddModelService", "400") == 1
    assert len(counters.created) == 1


class _ReleaseAfterFirstTimeout:
    """Observer that, when the first AddModelService try times out, waits until the simulator
    has accepted that try (its job exists) and removes the latency, so the retry meets
    "Duplicate job uuid". It blocks on purpose: the simulator runs in another process.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.fired = False

    def on_request(self, api: str, outcome: str, seconds: float) -> None:
        if api != "AddModelService" or outcome != "transport_error" or self.fired:
            return
        self.fired = True
        with httpx.Client(base_url=f"{self.url}/_sim", trust_env=False, timeout=5) as http:
            for _ in range(500):
                if any(j["uuid"] == JOB for j in http.get("/jobs").json()["jobs"]):
                    break
                time.sleep(0.01)
            http.put("/faults", json={"latencyMs": 0}).raise_for_status()

    def on_in_flight(self, delta: int) -> None:
        return None

    def on_job_poll(self, api: str) -> None:
        return None


async def test_retry_after_a_lost_reply_polls_the_accepted_job(
    sim_process_factory: SimProcessFactory,
) -> None:
    proc = await sim_process_factory("--job-duration-ms", "20")
    observer = _ReleaseAfterFirstTimeout(proc.url)
    async with ZStackClient(
        proc.url, ADMIN, timeout=0.3, retry=FAST_RETRY, observer=observer
    ) as client:
        await client.query_model_services()  # log in before the slow spell
        await proc.admin.set_faults(latency_ms=1000)
        inv = await client.add_model_service(param(name="lost-reply"), job_uuid=JOB)
    assert observer.fired
    assert inv.name == "lost-reply"
    counters = await proc.admin.counters()
    # The first try was served after the client gave up; the retry reused its job uuid.
    assert counters.requests["AddModelService"] == {"202": 1, "400": 1}
    assert counters.created == {inv.uuid: 1}


async def test_unknown_job_is_expired(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN) as client:
        with pytest.raises(JobExpiredError) as caught:
            await client.wait_job("9" * 32, api="AddModelService")
    assert caught.value.job_uuid == "9" * 32
    assert caught.value.api == "AddModelService"
    assert (await sim.admin.counters()).count("QueryApiJob", "404") == 1


async def test_failed_job_raises_its_error_and_resumes_to_it(sim: Simulator) -> None:
    poll = PollPolicy(initial=0.01, maximum=0.05)
    async with ZStackClient(sim.url, ADMIN, poll=poll) as client:
        inv = await client.add_model_service(param())
        with pytest.raises(ZStackAPIError) as caught:
            await client.bind_model("b" * 32, inv.uuid, job_uuid=JOB)
        assert caught.value.code == "SYS.1003"
        assert caught.value.api == "BindModelToService"
        with pytest.raises(ZStackAPIError) as resumed:
            await client.wait_job(JOB, api="BindModelToService")
        assert resumed.value.error == caught.value.error
        await client.bind_model(DEFAULT_MODEL_UUIDS[2], inv.uuid)
    counters = await sim.admin.counters()
    assert counters.count("QueryApiJob", "503") == 2
    assert counters.count("BindModelToService", "202") == 2


@pytest.mark.parametrize("mode", [SimMode.ASYNC, SimMode.SYNC])
async def test_transient_job_failure_is_rechecked_then_reported(
    sim_factory: SimFactory, mode: SimMode
) -> None:
    sim = await sim_factory(mode=mode)
    policy = RetryPolicy(attempts=3, base=0.001, cap=0.002)
    async with ZStackClient(sim.url, ADMIN, retry=policy) as client:
        inv = await client.add_model_service(param(resource_uuid=RESOURCE_UUID))
        await sim.admin.reset_counters()
        # ZStack reports a taken resourceUuid as an internal error (SYS.1000, transient).
        with pytest.raises(ZStackAPIError) as caught:
            await client.add_model_service(param(resource_uuid=inv.uuid))
    assert caught.value.code == "SYS.1000"
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.api == "AddModelService"
    counters = await sim.admin.counters()
    # The failed job is re-read (it might have been the poll that failed), never re-run.
    assert counters.count("QueryApiJob", "503") == 3
    if mode is SimMode.SYNC:
        assert counters.requests["AddModelService"] == {"503": 1, "400": 1}
    else:
        assert counters.requests["AddModelService"] == {"202": 1}
    assert counters.created == {}


async def test_resume_follows_the_resend_after_a_session_expiry(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN) as client:
        await client.query_model_services()  # logged in
        await sim.admin.expire_sessions()
        await sim.admin.set_faults(hold_jobs=True)
        # The first job fails in the API pipeline (ID.1001); the client logs in again and
        # resends the request as the successor job, which keeps running.
        with pytest.raises(JobTimeoutError) as caught:
            await client.add_model_service(param(name="resent"), job_uuid=JOB, wait=0.2)
    assert caught.value.job_uuid == successor_job_uuid(JOB)
    # After a restart only the first job uuid is known (the operator stored it in status).
    async with ZStackClient(sim.url, ADMIN) as fresh:
        with pytest.raises(JobTimeoutError):
            await fresh.wait_job(JOB, api="AddModelService", timeout=0.1)
        await sim.admin.release_jobs()
        inv = await fresh.wait_job(JOB, api="AddModelService", timeout=5)
    assert inv is not None
    assert inv.name == "resent"
    jobs = {j.uuid: j.state for j in await sim.admin.jobs()}
    assert jobs == {JOB: "failed", successor_job_uuid(JOB): "succeeded"}
    assert (await sim.admin.counters()).created == {inv.uuid: 1}


async def test_a_session_failure_never_resent_is_the_outcome(sim: Simulator) -> None:
    # A request that failed with ID.1001 and whose sender died before resending it.
    async with httpx.AsyncClient(trust_env=False) as http:
        reply = await http.post(
            api_url(sim.url, "/ai/model-services"),
            json={"param": param().wire()},
            headers={"Authorization": f"OAuth {'0' * 32}", "X-Job-UUID": JOB},
        )
    assert reply.status_code == 202
    async with ZStackClient(sim.url, ADMIN) as client:
        with pytest.raises(ZStackAPIError) as caught:
            await client.wait_job(JOB, api="AddModelService", timeout=5)
    assert caught.value.code == "ID.1001"
    counters = await sim.admin.counters()
    assert counters.count("QueryApiJob", "404") == 1  # the successor was looked for
    assert counters.created == {}
