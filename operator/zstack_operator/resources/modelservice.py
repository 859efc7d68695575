"""The whole ModelService object (apiVersion, kind, metadata, spec, status).

Used to build manifests from Python (samples, round-trip tests, the demo) and to read an
object back from the API server in one validated step.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from zstack_operator.resources.common import API_VERSION, KIND, CrdModel
from zstack_operator.resources.spec import ModelServiceSpec
from zstack_operator.resources.status import ModelServiceStatus


class ModelService(CrdModel):
    """A ModelService custom resource."""

    # The API server adds metadata fields we do not model; metadata stays a plain dict.
    model_config = ConfigDict(extra="ignore")

    api_version: str = API_VERSION
    kind: str = KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ModelServiceSpec
    status: ModelServiceStatus | None = None
