"""Whether a ModelService may manage (or even show) the ZStack service it names.

Owned here: the owner marker (the user tag ``zstack-operator::owner::<namespace>/<name>``, sent
with every create and added on adoption) and ``check``, asked the first time an object meets a
service it did not record in ``status.uuid``, which happens only when ``spec.resourceUuid``
names one that already exists. docs/tenancy.md says what proves ownership:

- ``status.uuid`` is written only for a service the object created or adopted, so a recorded
  uuid is the object's own;
- without it, the service's owner marker: this object's -> its own (restored from a backup or
  moved to another cluster with ``resourceUuid`` pinned); another object's -> refused, and
  another namespace's name is not revealed;
- no marker: refused unless ``spec.adoptionPolicy: Adopt`` and the connection allows adoption;
  an adoption writes the marker first. Observe mode may read an unmarked service, or one that
  a ModelService of its own namespace owns (the same team), never another namespace's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..resources import JobAction, ReadyReason, SyncedReason
from ..resources.spec import OWNER_TAG_PREFIX, AdoptionPolicy, ModelServiceSpec
from ..zstack.errors import ZStackAPIError
from . import jobs
from .model import Resource, Result, ServiceAPI, Terminal
from .passes import Pass


def owner_tag(res: Resource) -> str:
    """The marker of ``res``: its namespace and name (a uid would not survive a move)."""
    return f"{OWNER_TAG_PREFIX}{res.namespace}/{res.name}"


@dataclass(frozen=True)
class Verdict:
    """``refusal`` is None when the object may go on; ``adopt`` when it must mark it first."""

    refusal: str | None = None
    adopt: bool = False


def _namespace_of(tag: str) -> str:
    return tag.removeprefix(OWNER_TAG_PREFIX).partition("/")[0]


def _owner_of(tag: str, res: Resource) -> str:
    namespace, _, name = tag.removeprefix(OWNER_TAG_PREFIX).partition("/")
    if namespace == res.namespace:
        return f"ModelService {name}"
    return "a ModelService in another namespace"


async def check(
    res: Resource, api: ServiceAPI, uuid: str, spec: ModelServiceSpec, *, observe_only: bool
) -> Verdict:
    """Whether ``res`` may act on the existing service ``uuid`` its status does not record."""
    markers = await api.owner_tags(uuid)
    if owner_tag(res) in markers:
        return Verdict()
    if observe_only and all(_namespace_of(m) == res.namespace for m in markers):
        return Verdict()
    if markers:
        owner = _owner_of(markers[0], res)
        verb = "shown" if observe_only else "managed"
        return Verdict(
            f"model service {uuid} belongs to {owner}, so it is not {verb} here; "
            "remove spec.resourceUuid (a new service is created) or name a service of your own"
        )
    if observe_only:
        return Verdict()
    if spec.adoption_policy is not AdoptionPolicy.ADOPT:
        return Verdict(
            f"model service {uuid} already exists in ZStack and was not created by this "
            "ModelService; set spec.adoptionPolicy: Adopt to take it over (the connection must "
            "allow adoption), or managementPolicy: Observe to only read it"
        )
    if not api.allow_adoption:
        return Verdict(
            f"model service {uuid} already exists and {api.label} does not allow adoption; "
            "ask the connection's owner to set allowAdoption (or the operator's "
            "--allow-adoption for its default connection)"
        )
    return Verdict(adopt=True)


async def adopt(res: Resource, api: ServiceAPI, uuid: str, *, wait: float) -> None:
    """Mark ``uuid`` as this object's; a marker already there (a retried pass) is fine."""
    job = jobs.job_uuid(res.uid, JobAction.UPDATE, "adopt", uuid)  # a write to the service
    try:
        await api.mark_owner(uuid, owner_tag(res), job_uuid=job, wait=wait)
    except ZStackAPIError:
        # A duplicate marker means an earlier attempt of this same adoption landed.
        if owner_tag(res) not in await api.owner_tags(uuid):
            raise


def refuse(p: Pass, message: str, *, observe_only: bool) -> Result:
    """Refuse a service the object may not touch: nothing is written to status but the why."""
    why = "the model service is not this object's"
    if observe_only:
        p.ready(False, ReadyReason.NOT_FOUND, f"not shown: {why}")
    else:
        p.ready(False, ReadyReason.NOT_CREATED, f"not created: {why}")
    p.synced(False, SyncedReason.NOT_OWNED, message)
    p.update(observed_generation=p.gen, error=None, uuid=None)
    return Terminal(message)


def invisible(uuid: str) -> str:
    """Why a create of a uuid held by a service this connection cannot see is refused."""
    return (
        f"a model service {uuid} already exists in ZStack, in an account this connection cannot "
        "see; remove spec.resourceUuid (a new service is created) or name a service of your own"
    )
