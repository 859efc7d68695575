"""Names and vocabulary of the ModelService resource, and the base of its pydantic models.

Owned here: the API group/version/kind constants, annotation and finalizer names, the enums of
the operator fields (``deletionPolicy``, ``managementPolicy``, pending job actions) and the
stable condition vocabulary that ``kubectl wait`` and the Argo CD health check depend on.
Imported by the rest of ``resources`` and, through the package, by ``crdgen``, ``status``,
``plan``, ``reconcile`` and ``handlers``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from zstack_operator.zstack.models import UUID32_PATTERN

GROUP = "ai.zstack.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ModelService"
PLURAL = "modelservices"
SINGULAR = "modelservice"
SHORT_NAMES = ["zms"]
CATEGORIES = ["zstack"]

#: ``"true"`` stops every write to ZStack for this resource (reads and status still happen).
ANNOTATION_PAUSED = f"{GROUP}/paused"
#: Any new value (by convention an RFC 3339 time) forces an immediate re-read of ZStack.
ANNOTATION_RECONCILE_REQUESTED = f"{GROUP}/reconcile-requested-at"
#: Per-resource drift-check interval in seconds (overrides the operator's default).
ANNOTATION_DRIFT_INTERVAL = f"{GROUP}/drift-interval"
#: Held until ZStack confirms the deletion (or the deletion policy is Orphan).
FINALIZER = f"{GROUP}/finalizer"


class DeletionPolicy(StrEnum):
    """What deleting the Kubernetes object does to the ZStack model service."""

    DELETE = "Delete"
    ORPHAN = "Orphan"


class ManagementPolicy(StrEnum):
    """Whether the operator may write to ZStack or only observes."""

    MANAGE = "Manage"
    OBSERVE = "Observe"


class JobAction(StrEnum):
    """The kind of ZStack call a pending job belongs to."""

    CREATE = "Create"
    UPDATE = "Update"
    DELETE = "Delete"
    BIND = "Bind"
    UNBIND = "Unbind"
    #: DeployModelService (a ModelServiceDeployment's instance group).
    DEPLOY = "Deploy"


class ConditionType(StrEnum):
    """The condition types the operator maintains."""

    READY = "Ready"
    SYNCED = "Synced"
    #: kstatus' standard "abnormal-true" conditions, derived from Ready and Synced so that Flux
    #: and other kstatus readers wait for creation and report terminal failures.
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


class ConditionStatus(StrEnum):
    """Kubernetes condition status values."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ReadyReason(StrEnum):
    """Reasons of the Ready condition: True only with AVAILABLE."""

    AVAILABLE = "Available"
    CREATING = "Creating"
    UPDATING = "Updating"
    DELETING = "Deleting"
    NOT_FOUND = "NotFound"
    UNAVAILABLE = "Unavailable"
    #: No service was created: the spec is invalid or refused, or creation is paused.
    NOT_CREATED = "NotCreated"
    #: A deployment's instance group exists and is starting (Deploying, Starting in ZStack).
    DEPLOYING = "Deploying"
    #: A deployment's instance group failed to start; ZStack's status says how.
    FAILED = "Failed"
    #: Something this object needs (a ModelService, a Model) is not Ready yet.
    WAITING_FOR_DEPENDENCY = "WaitingForDependency"


class SyncedReason(StrEnum):
    """Reasons of the Synced condition: True only with RECONCILE_SUCCESS."""

    RECONCILE_SUCCESS = "ReconcileSuccess"
    RECONCILE_ERROR = "ReconcileError"
    REJECTED = "Rejected"
    INVALID_SPEC = "InvalidSpec"
    IMMUTABLE_FIELD_CHANGED = "ImmutableFieldChanged"
    PAUSED = "Paused"
    OBSERVING = "Observing"
    #: The ZStack service exists and this object may not manage it (not created by it, not
    #: adopted, or claimed by another ModelService): nothing is written, nothing deleted.
    NOT_OWNED = "NotOwned"
    #: The connection is missing, not offered to the namespace, or cannot log in yet.
    CONNECTION_UNAVAILABLE = "ConnectionUnavailable"
    #: A referenced ModelService or Model does not exist or is not Ready: looked at again soon.
    WAITING_FOR_DEPENDENCY = "WaitingForDependency"


class EventReason(StrEnum):
    """Reasons of Events that are not condition transitions (those carry the condition's)."""

    #: ZStack differed from a spec that was already applied, and the operator changed it back.
    DRIFT_REPAIRED = "DriftRepaired"
    #: Observe mode: ZStack differs from the spec (posted when the differing fields change).
    DRIFT_DETECTED = "DriftDetected"
    #: The service was deleted in ZStack outside Kubernetes and created again.
    RECREATED = "Recreated"
    #: An existing ZStack service was adopted (``spec.adoptionPolicy: Adopt``) and marked.
    ADOPTED = "Adopted"
    #: The spec sets fields this ZStack release does not know: they are not sent (posted once).
    UNSUPPORTED_FIELDS = "UnsupportedFields"


def _check_rfc3339(value: str) -> str:
    # The API server checks ``format: date-time`` too; failing here first keeps a bad status
    # patch from ever leaving the operator.
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 time: {value!r}") from exc
    if parsed.tzinfo is None or "T" not in value:
        raise ValueError(f"not an RFC 3339 time (needs a date, 'T', time and offset): {value!r}")
    return value


#: A timestamp string in RFC 3339 form, e.g. ``2025-01-02T03:04:05Z``.
Rfc3339 = Annotated[
    str, AfterValidator(_check_rfc3339), Field(json_schema_extra={"format": "date-time"})
]
#: A ZStack uuid as ZStack prints it: 32 lowercase hexadecimal characters. maxLength repeats
#: what the pattern says because the API server sizes CEL rule costs from it.
Uuid32 = Annotated[str, Field(pattern=UUID32_PATTERN, max_length=32)]


def format_rfc3339(value: datetime) -> str:
    """Render a time the way Kubernetes does (UTC, whole seconds, ``Z``); naive means UTC."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CrdModel(BaseModel):
    """Base of the resource models: camelCase aliases, population by either name."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
    )

    def manifest(self) -> dict[str, Any]:
        """Return the object as Kubernetes stores it: camelCase keys, no unset (None) fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
