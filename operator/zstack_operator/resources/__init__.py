"""The ModelService custom resource as pydantic models: the single source of truth for its CRD.

Owned here: group/version/kind constants, annotation and finalizer names, the condition
vocabulary, and the spec/status models (``crdgen`` renders ``crds/modelservice.yaml`` from
them). Imported by ``crdgen``, ``plan``, ``status``, ``reconcile`` and ``handlers``; imports
only pydantic and ``zstack.models``, never kopf.

Submodules: ``common`` (names, enums, base model), ``spec``, ``status``, ``modelservice``.
"""

from zstack_operator.resources import fields
from zstack_operator.resources.common import (
    ANNOTATION_DRIFT_INTERVAL,
    ANNOTATION_PAUSED,
    ANNOTATION_RECONCILE_REQUESTED,
    API_VERSION,
    CATEGORIES,
    FINALIZER,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    ConditionStatus,
    ConditionType,
    CrdModel,
    DeletionPolicy,
    EventReason,
    JobAction,
    ManagementPolicy,
    ReadyReason,
    Rfc3339,
    SyncedReason,
    Uuid32,
    format_rfc3339,
)
from zstack_operator.resources.modelservice import ModelService
from zstack_operator.resources.spec import (
    ArchitectureImageSpec,
    ConnectionRef,
    ModelServiceSpec,
    immutability_rules,
    immutable_fields,
)
from zstack_operator.resources.status import (
    Condition,
    CreatedWith,
    ErrorCause,
    ModelServiceStatus,
    PendingJob,
    StatusError,
)

__all__ = [
    "ANNOTATION_DRIFT_INTERVAL",
    "ANNOTATION_PAUSED",
    "ANNOTATION_RECONCILE_REQUESTED",
    "API_VERSION",
    "CATEGORIES",
    "FINALIZER",
    "GROUP",
    "KIND",
    "PLURAL",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "ArchitectureImageSpec",
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "ConnectionRef",
    "CrdModel",
    "CreatedWith",
    "DeletionPolicy",
    "ErrorCause",
    "EventReason",
    "JobAction",
    "ManagementPolicy",
    "ModelService",
    "ModelServiceSpec",
    "ModelServiceStatus",
    "PendingJob",
    "ReadyReason",
    "Rfc3339",
    "StatusError",
    "SyncedReason",
    "Uuid32",
    "fields",
    "format_rfc3339",
    "immutability_rules",
    "immutable_fields",
]
