"""Routing and release profiles of the AI lifecycle APIs: shared URLs, the trailing slash."""

from __future__ import annotations

import pytest
from zstack_operator.sim.ai_profiles import AI_PROFILES
from zstack_operator.sim.app import _resolve
from zstack_operator.sim.profiles import NEWEST

GROUPS = "/zstack/v1/ai/model-services/instances/groups/"
U = "a" * 32


@pytest.mark.parametrize(
    ("method", "path", "api"),
    [
        ("GET", GROUPS, "QueryModelServiceInstanceGroup"),
        ("DELETE", GROUPS + U, "DeleteModelServiceInstanceGroup"),
        ("PUT", "/zstack/v1/model-service-instance-groups/" + U, "UpdateModelServiceInstanceGroup"),
        ("GET", "/zstack/v1/ai/model-centers", "QueryModelCenter"),
        ("POST", "/zstack/v1/ai/model-centers", "AddModelCenter"),
        ("PUT", "/zstack/v1/ai/model-centers/" + "a" * 32, "UpdateModelCenter"),
        ("DELETE", "/zstack/v1/ai/model-centers/" + "a" * 32, "DeleteModelCenter"),
        ("POST", "/zstack/v1/ai/models", "AddModel"),
        ("GET", "/zstack/v1/ai/models", "QueryModel"),
        ("PUT", "/zstack/v1/ai/models/" + "a" * 32, "UpdateModel"),
        ("DELETE", "/zstack/v1/ai/models/" + "a" * 32, "DeleteModel"),
    ],
)  # fmt: skip
def test_each_ai_api_has_its_sdk_path(method: str, path: str, api: str) -> None:
    target = _resolve(path, method)
    assert (target.api, target.refusal) == (api, None)


def test_the_group_query_needs_its_trailing_slash() -> None:
    target = _resolve("/zstack/v1/ai/model-services/instances/groups", "GET")
    assert target.refusal is not None
    assert target.refusal.status == 404
    assert target.refusal.text == "no api mapping to /v1/ai/model-services/instances/groups"


def test_the_service_put_offers_update_and_deploy_by_body_key() -> None:
    target = _resolve("/zstack/v1/ai/model-services/" + "a" * 32, "PUT")
    assert target.api == "UpdateModelService"
    assert target.choices is not None
    assert {k: v[0] for k, v in target.choices.items()} == {
        "updateModelService": "UpdateModelService",
        "deployModelService": "DeployModelService",
    }


def test_only_the_newest_release_deploys_with_a_resource_uuid() -> None:
    old, new = AI_PROFILES["5.1.20"], AI_PROFILES[NEWEST]
    assert not old.deploy_takes_resource_uuid
    assert new.deploy_takes_resource_uuid
    types = {s.name: s.valid for s in old.deploy_fields}["type"]
    assert types == ("VirtualMachine", "Container")
    assert "BareMetal2" in {s.name: s.valid for s in new.deploy_fields}["type"]
    assert [s.name for s in old.deploy_fields if s.required] == ["name", "zoneUuid", "type"]
    assert "tagUuids" not in {s.name for s in old.deploy_fields}
