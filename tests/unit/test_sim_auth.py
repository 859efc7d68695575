"""Authorization headers as the simulator's REST layer and API pipeline read them."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
from zstack_operator.sim.auth import Credential, authenticate, read_credential, sign
from zstack_operator.sim.errorcodes import ApiError, RestError
from zstack_operator.sim.state import SessionRecord, State

PATH = "/v1/ai/model-services"


def test_oauth_carries_the_session_and_hides_it() -> None:
    cred = read_credential("GET", PATH, {"authorization": " OAuth  abc "}, time.time())
    assert cred.session_uuid == "abc"
    assert "abc" not in repr(cred)


@pytest.mark.parametrize(
    ("headers", "status", "text"),
    [
        ({}, 400, "missing header 'Authorization'"),
        ({"authorization": "Bearer x"}, 400, "Authorization type must be 'OAuth' or 'ZStack'"),
        ({"authorization": "ZStack key-sig"}, 400, "Invalid header[Authorization]"),
        ({"authorization": "ZStack key:sig"}, 400, "missing header 'Date'"),
        ({"authorization": "ZStack key:sig", "date": "yesterday"}, 400, "Invalid header[Date]"),
    ],
)
def test_malformed_headers_are_refused_in_plain_text(
    headers: dict[str, str], status: int, text: str
) -> None:
    with pytest.raises(RestError) as info:
        read_credential("GET", PATH, headers, time.time())
    assert info.value.status == status
    assert info.value.text.startswith(text)


@pytest.mark.parametrize("skew", [-901, 901])
def test_access_keys_outside_15_minutes_are_too_skewed(skew: int) -> None:
    now = time.time()
    headers = {"authorization": "ZStack key:sig", "date": formatdate(now + skew, usegmt=True)}
    with pytest.raises(RestError) as info:
        read_credential("GET", PATH, headers, now)
    assert (info.value.status, info.value.text) == (403, "requestTimeTooSkewed")


def test_access_key_signature_is_checked_in_the_pipeline() -> None:
    state = State()
    state.add_access_key("KEY", "s3cret")
    date = formatdate(usegmt=True)
    good = sign("s3cret", f"GET\n{date}\n{PATH}")
    headers = {"authorization": f"ZStack KEY:{good}", "date": date}
    authenticate(state, read_credential("GET", PATH, headers, time.time()), 60)
    # Signed for another method, another key, or an unknown key id: ID.1000.
    for key, method in (("KEY", "DELETE"), ("OTHER", "GET")):
        headers = {"authorization": f"ZStack {key}:{good}", "date": date}
        with pytest.raises(ApiError) as info:
            authenticate(state, read_credential(method, PATH, headers, time.time()), 60)
        assert info.value.error.code == "ID.1000"


def test_a_session_slides_on_every_use_and_expires_with_id_1001() -> None:
    state = State()
    now = time.time()
    state.save_session(SessionRecord("s" * 32, "acct", now, now + 5))
    authenticate(state, Credential(session_uuid="s" * 32), 3600)
    assert state.sessions["s" * 32].expires_at > now + 3000
    state.sessions["s" * 32].expires_at = now - 1
    for session in ("s" * 32, "unknown"):
        with pytest.raises(ApiError) as info:
            authenticate(state, Credential(session_uuid=session), 3600)
        assert info.value.error.code == "ID.1001"
        assert info.value.error.details == "Session expired"


def test_signature_matches_zstacks_algorithm() -> None:
    # Base64(HMAC-SHA1("secret", "GET\nMon, 02 Jan 2006 15:04:05 GMT\n/v1/zones")), computed
    # independently with `openssl dgst -sha1 -hmac secret -binary | base64`.
    assert sign("secret", "GET\nMon, 02 Jan 2006 15:04:05 GMT\n/v1/zones") == (
        "wB85tOvkh4aiHL+aV7AKg5MfsiU="
    )
