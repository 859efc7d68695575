"""Property: any valid AddModelServiceParam comes back from add -> get as it was sent.

"As it was sent" means after what ZStack itself does to it: text is trimmed at both ends as
Java's ``String.trim`` does, fields the request left out report their defaults, and
create-only inputs (zoneUuid, tagUuids, resourceUuid as such) are not part of the inventory.
``tagUuids`` must name tag patterns of the caller: the drawn ones are replaced by real ones.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zstack_operator.sim import (
    DEFAULT_MODEL_CENTER_UUID,
    DEFAULT_MODEL_UUIDS,
    DEFAULT_ZONE_UUID,
    Simulator,
)
from zstack_operator.sim.validate import java_trim
from zstack_operator.zstack import ZStackClient
from zstack_operator.zstack.models import (
    AddModelServiceParam,
    ArchitectureImage,
    CpuArchitecture,
    ModelServiceInventory,
    ServiceType,
)

from tests.support.client_helpers import ADMIN

# Any unicode JSON can carry (no lone surrogates), including whitespace at either end.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
# Nested strings stay free of trailing whitespace: ZStack's trimming of nested values is unknown.
plain = st.from_regex(r"[A-Za-z0-9:/._-]{1,20}", fullmatch=True)
uuid_hex = st.uuids(version=4).map(lambda u: u.hex)
spec_maps = st.dictionaries(plain, st.lists(uuid_hex, max_size=2), max_size=2)


@st.composite
def images(draw: st.DrawFn) -> list[ArchitectureImage]:
    archs = draw(st.lists(st.sampled_from(list(CpuArchitecture)), unique=True, max_size=2))
    return [
        ArchitectureImage(
            cpu_architecture=arch,
            vm_image_uuid=draw(st.none() | uuid_hex),
            docker_image=draw(st.none() | plain),
        )
        for arch in archs
    ]


# fixed_dictionaries, not builds(): builds() would also fill the alias-named parameters of
# pydantic's signature (requestCpu, ...) and pass every required field twice.
params = st.fixed_dictionaries(
    {
        "name": text,
        "description": st.none() | text,
        "yaml": text,
        "request_cpu": st.integers(1, 2**31 - 1),
        "request_memory": st.integers(1, 2**63 - 1),
        "zone_uuid": st.none() | st.just(DEFAULT_ZONE_UUID),
        "model_center_uuid": st.just(DEFAULT_MODEL_CENTER_UUID),
        "gpu_compute_capability": st.none() | text,
        "install_path": text,
        "system": st.none() | st.booleans(),
        "start_command": text,
        "python_version": st.none() | text,
        "conda_version": st.none() | text,
        "type": st.none() | st.sampled_from(list(ServiceType)),
        "framework": st.none() | text,
        "resource_uuid": st.none() | uuid_hex,
        "tag_uuids": st.none() | st.lists(uuid_hex, max_size=2),
        "source": st.none() | text,
        "model_uuids": st.none() | st.lists(st.sampled_from(DEFAULT_MODEL_UUIDS), unique=True),
        "architecture_images": st.none() | images(),
        "support_distributed": st.none() | st.booleans(),
        "container_command": st.none() | text,
        "container_args": st.none() | text,
        "vendor_to_spec_uuids_map": st.none() | spec_maps,
    }
).map(lambda fields: AddModelServiceParam(**fields))


#: Fields the inventory reports under the same name as the param.
_SAME_NAME = sorted(
    set(AddModelServiceParam.model_fields) & set(ModelServiceInventory.model_fields)
)


def _expected(value: Any) -> Any:
    if isinstance(value, str):
        return java_trim(value)
    return value.value if hasattr(value, "value") else value


def assert_reported(sent: AddModelServiceParam, got: ModelServiceInventory) -> None:
    """Every field the request set is reported back, as ZStack stores it."""
    for field in _SAME_NAME:
        value = getattr(sent, field)
        if value is not None:
            assert getattr(got, field) == _expected(value), field
    if sent.resource_uuid is not None:
        assert got.uuid == sent.resource_uuid
    assert got.model_uuids == set(sent.model_uuids or ())
    images = sent.architecture_images or []
    assert got.cpu_architectures == [i.cpu_architecture.value for i in images]
    assert [
        (i.cpu_architecture, i.vm_image_uuid, i.docker_image)
        for i in got.model_service_images or []
    ] == [(i.cpu_architecture.value, i.vm_image_uuid, i.docker_image) for i in images]


@settings(
    max_examples=60,
    deadline=None,
    # One simulator serves every example: each example creates its own service.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=params)
async def test_add_then_get_round_trips(sim: Simulator, sent: AddModelServiceParam) -> None:
    if sent.resource_uuid is not None and sent.resource_uuid in sim.context.state.services:
        sent = sent.model_copy(update={"resource_uuid": uuidlib.uuid4().hex})
    if sent.tag_uuids:
        patterns = [await sim.admin.create_tag_pattern() for _ in sent.tag_uuids]
        sent = sent.model_copy(update={"tag_uuids": patterns})
    async with ZStackClient(sim.url, ADMIN) as client:
        added = await client.add_model_service(sent)
        got = await client.get_model_service(added.uuid)
    assert got == added
    assert_reported(sent, got)
