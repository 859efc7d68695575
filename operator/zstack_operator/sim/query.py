"""ZStack's query language for the simulator's Query APIs: ``q=``, paging, sort, count.

Parsing follows ``RestServer.handleQueryApi``: operators are tried in ZStack's order (``!=``
before ``=``, ...), the first one contained in the condition splits it once, names are trimmed
and values are not; a condition without an operator or a non-integer ``limit``/``start`` is a
plain-text 400 (``RestError``). Evaluation is SQL-like: a null field matches no comparison, and
``~=``/``!~=`` are SQL ``LIKE`` patterns. A field the inventory does not have is an invalid
argument (``SYS.1007``); which fields exist is the ``InventorySchema`` of the API
(``model_services_schema`` of the simulated release unless told otherwise). Dates compare as
instants: inventory dates and zone-less query values are wall-clock times in the node's zone
(``run_query``'s ``zone``). ``__userTag__`` and ``__systemTag__`` are accepted
on every inventory, as ZQL does (ZSTACK-AI-LIFECYCLE.md 6.4): ``<uuid> IN (resources with a
matching tag)``, and the negative operators ``NOT IN`` that, i.e. "has no such tag". Called by
``services_api``, ``accounts_api`` and ``tags_api``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from ..zstack.models import parse_zstack_date
from .errorcodes import RestError, failure
from .inventory import DATE_FIELDS, NESTED_FIELDS
from .profiles import NEWEST, PROFILES, Profile
from .schema import MODEL_SERVICE_CLASS, inventories_schema

#: The node's zone while ``run_query`` evaluates (dates without a zone are read in it).
_ZONE: ContextVar[tzinfo] = ContextVar("zstack_sim_query_zone", default=UTC)


def _date(value: Any) -> Any:
    return parse_zstack_date(value, _ZONE.get())


#: ZStack's operators in matching order ("DO NOT change the order": "=" sits after "!=").
OPERATORS: tuple[str, ...] = (
    "!=",
    ">=",
    "<=",
    "!?=",
    "!~=",
    "~=",
    "?=",
    "=",
    ">",
    "<",
    "is null",
    "not null",
)
_NEGATIVE = frozenset({"!=", "!?=", "!~="})
_POSITIVE_OF = {"!=": "=", "!?=": "?=", "!~=": "~="}
DEFAULT_LIMIT = 1000
_INT_MAX = 2**31 - 1
#: The tag pseudo-fields every inventory accepts in ``q=`` (``ZQLMetadata#hasInventoryField``).
TAG_FIELDS = frozenset({"__userTag__", "__systemTag__"})
#: ``(pseudo-field, resource uuid) -> its tags``: what tag conditions are evaluated against.
TagLookup = Callable[[str, str], Iterable[str]]


@dataclass(frozen=True)
class InventorySchema:
    """What a query may name: the inventory's fields and its nested list-of-object fields."""

    #: The Java class error texts name, e.g. ``org.zstack.ai.entity.ModelServiceInventory``.
    class_name: str
    fields: frozenset[str]
    nested: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def simple_name(self) -> str:
        """The class name without its package."""
        return self.class_name.rpartition(".")[2]


def model_services_schema(profile: Profile) -> InventorySchema:
    """What a QueryModelService of the release may name."""
    nested = {k: v for k, v in NESTED_FIELDS.items() if k in profile.inventory_fields}
    return InventorySchema(MODEL_SERVICE_CLASS, frozenset(profile.inventory_fields), nested)


MODEL_SERVICES = model_services_schema(PROFILES[NEWEST])


@dataclass(frozen=True)
class Condition:
    """One ``q=`` condition: ``name op value`` (no value for ``is null``/``not null``)."""

    name: str
    op: str
    value: str | None = None


@dataclass(frozen=True)
class QuerySpec:
    """A parsed query request."""

    conditions: tuple[Condition, ...] = ()
    limit: int = DEFAULT_LIMIT
    start: int = 0
    count: bool = False
    reply_with_count: bool = False
    sort_by: str | None = None
    sort_desc: bool = False
    fields: tuple[str, ...] | None = None


def parse_condition(cond: str) -> Condition:
    """Split one ``q=`` value the way the REST server does."""
    for op in OPERATORS:
        if op in cond:
            name, _, value = cond.partition(op)
            if op in ("is null", "not null"):
                return Condition(name.strip(), op)
            return Condition(name.strip(), op, value)
    raise RestError(
        400,
        f"Invalid query parameter. The '{cond}' in the parameter[q] doesn't contain any query "
        f"operator. Valid query operators are [{', '.join(OPERATORS)}]",
    )


def _int_param(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise RestError(400, f"Invalid query parameter. '{name}' must be an integer") from None


def parse_query(params: Iterable[tuple[str, str]]) -> QuerySpec:
    """Build a QuerySpec from the query string; unknown parameters are ignored, as in ZStack."""
    conditions: list[Condition] = []
    seen: dict[str, str] = {}
    for key, value in params:
        key = key.strip()
        if key == "q":
            conditions.append(parse_condition(value))
        else:
            seen.setdefault(key, value.strip())  # the servlet keeps the first value
    spec: dict[str, Any] = {"conditions": tuple(conditions)}
    if "limit" in seen:
        spec["limit"] = _int_param("limit", seen["limit"])
    if "start" in seen:
        spec["start"] = _int_param("start", seen["start"])
    spec["count"] = seen.get("count", "").lower() == "true"
    spec["reply_with_count"] = seen.get("replyWithCount", "").lower() == "true"
    if sort := seen.get("sort"):
        spec["sort_desc"] = sort.startswith("-")
        spec["sort_by"] = sort.lstrip("+-")
    if "fields" in seen:
        spec["fields"] = tuple(f.strip() for f in seen["fields"].split(",") if f.strip())
        if not spec["fields"]:
            raise RestError(400, "Invalid query parameter. 'fields' contains zero field")
    return QuerySpec(**spec)


def candidate_uuids(spec: QuerySpec) -> set[str] | None:
    """Uuids a ``uuid=``/``uuid?=`` condition restricts the query to (a lookup, not a scan)."""
    found: set[str] | None = None
    for cond in spec.conditions:
        if cond.name == "uuid" and cond.op in ("=", "?=") and cond.value is not None:
            values = {cond.value} if cond.op == "=" else set(cond.value.split(","))
            found = values if found is None else found & values
    return found


def _check_field(name: str, schema: InventorySchema) -> None:
    head, _, sub = name.partition(".")
    known = sub in schema.nested.get(head, ()) if sub else head in schema.fields
    if not known and name not in TAG_FIELDS:
        raise failure(
            "SYS.1007",
            f"condition name[{name}] is invalid, no such field on inventory "
            f"class[{schema.class_name}]",
        )


def _values(inv: Mapping[str, Any], name: str) -> list[Any]:
    head, _, sub = name.partition(".")
    value = inv.get(head)
    if sub:
        return [item[sub] for item in value or () if item.get(sub) is not None]
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _coerce(sample: Any, text: str, field: str) -> Any:
    """Read ``text`` as the type of the field's value, as the database would compare it."""
    try:
        if field.rpartition(".")[2] in DATE_FIELDS:
            return _date(int(text) if text.isdigit() else text)
        if isinstance(sample, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if isinstance(sample, int):
            return int(text)
    except (ValueError, TypeError):
        raise failure(
            "SYS.1007", f"invalid value[{text}] of the query condition on field[{field}]"
        ) from None
    return text


@functools.lru_cache(maxsize=64)
def _value_set(kind: str, text: str, field: str, zone: tzinfo) -> frozenset[Any]:
    """The coerced values of an ``?=`` list, built once per query rather than once per row.

    A 1,000-uuid batch query over 1,000 services would otherwise coerce a million strings.
    """
    sample: Any = True if kind == "bool" else 0 if kind == "int" else ""
    return frozenset(_coerce(sample, v, field) for v in text.split(","))


_LIKE_WILDCARDS = {"%": ".*", "_": "."}


def _like(pattern: str) -> re.Pattern[str]:
    """MySQL ``LIKE`` as a regex: ``%`` any run, ``_`` one character, a backslash escapes."""
    parts: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            parts.append(re.escape(next(chars, "\\")))
        else:
            parts.append(_LIKE_WILDCARDS.get(ch) or re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def _sortable(value: Any, field: str) -> Any:
    return _date(value) if field in DATE_FIELDS else value


def _matches_positive(cond: Condition, values: list[Any]) -> bool:
    if cond.op == "is null":
        return not values
    if cond.op == "not null":
        return bool(values)
    assert cond.value is not None
    for value in values:
        value = _sortable(value, cond.name.rpartition(".")[2])
        if cond.op == "~=":
            if _like(cond.value).fullmatch(str(value)):
                return True
            continue
        if cond.op == "?=":
            if value in _value_set(type(value).__name__, cond.value, cond.name, _ZONE.get()):
                return True
            continue
        other = _coerce(value, cond.value, cond.name)
        if _COMPARE[cond.op](value, other):
            return True
    return False


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    ">": lambda a, b: bool(a > b),
    "<": lambda a, b: bool(a < b),
    ">=": lambda a, b: bool(a >= b),
    "<=": lambda a, b: bool(a <= b),
}


def matches(cond: Condition, inv: Mapping[str, Any]) -> bool:
    """Whether one inventory satisfies one condition (SQL semantics: null never compares)."""
    values = _values(inv, cond.name)
    if cond.op in _NEGATIVE:
        if not values:
            return False
        return not _matches_positive(
            Condition(cond.name, _POSITIVE_OF[cond.op], cond.value), values
        )
    return _matches_positive(cond, values)


def matches_tags(cond: Condition, tags: Iterable[str]) -> bool:
    """Whether a resource with these tags satisfies a ``__userTag__``-style condition.

    ZQL turns it into ``uuid IN (SELECT resourceUuid ... WHERE tag <op> <value>)``, and a
    negative operator into ``NOT IN`` the positive one: "has no such tag", true for a resource
    without tags. ``not null`` is "has a tag" and ``is null`` "has none" (unverified).
    """
    values = list(tags)
    if cond.op in ("is null", "not null"):
        return bool(values) == (cond.op == "not null")
    if cond.op in _NEGATIVE:
        return not matches_tags(Condition(cond.name, _POSITIVE_OF[cond.op], cond.value), values)
    return _matches_positive(cond, values)


def _no_tags(field: str, uuid: str) -> Iterable[str]:
    return ()


def run_query(
    spec: QuerySpec,
    inventories: Iterable[dict[str, Any]],
    schema: InventorySchema = MODEL_SERVICES,
    tags: TagLookup = _no_tags,
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """Filter, sort, page and shape inventories into ZStack's query reply.

    ``zone`` is the node's: the zone of the inventories' dates and of query values without one.
    """
    token = _ZONE.set(zone)
    try:
        return _run(spec, inventories, schema, tags)
    finally:
        _ZONE.reset(token)


def _run(
    spec: QuerySpec,
    inventories: Iterable[dict[str, Any]],
    schema: InventorySchema,
    tags: TagLookup,
) -> dict[str, Any]:
    for cond in spec.conditions:
        _check_field(cond.name, schema)
    if spec.limit < 0 or spec.start < 0:
        bad, value = ("limit", spec.limit) if spec.limit < 0 else ("start", spec.start)
        raise failure("SYS.1007", f"{bad} must be in range of [0, {_INT_MAX}], but {value} found")
    plain = [c for c in spec.conditions if c.name not in TAG_FIELDS]
    tagged = [c for c in spec.conditions if c.name in TAG_FIELDS]
    hits = [
        inv
        for inv in inventories
        if all(matches(c, inv) for c in plain)
        and all(matches_tags(c, tags(c.name, inv["uuid"])) for c in tagged)
    ]
    if spec.count:
        return {"total": len(hits)}
    if spec.sort_by:
        hits = _sorted(hits, spec.sort_by, spec.sort_desc, schema)
    page = hits[spec.start : spec.start + spec.limit]
    if spec.fields:
        page = [{k: v for k, v in inv.items() if k in spec.fields} for inv in page]
    reply: dict[str, Any] = {"inventories": page}
    if spec.reply_with_count:
        reply["total"] = len(hits)
    return reply


def _sorted(
    hits: list[dict[str, Any]], field: str, desc: bool, schema: InventorySchema
) -> list[dict[str, Any]]:
    if field not in schema.fields:
        raise failure("SYS.1007", f"sortBy[{field}] is not a field of {schema.simple_name}")
    present = [inv for inv in hits if inv.get(field) is not None]
    missing = [inv for inv in hits if inv.get(field) is None]
    present.sort(key=lambda inv: _key(inv[field], field), reverse=desc)
    # MySQL orders NULL first ascending and last descending.
    return present + missing if desc else missing + present


def _key(value: Any, field: str) -> Any:
    key = _sortable(value, field)
    if isinstance(key, datetime | int | float | str):
        return key
    return str(key)


def spec_for(uuid: str | None, params: Iterable[tuple[str, str]]) -> QuerySpec:
    """The query of ``GET /<resources>[/{uuid}]``: ``/{uuid}`` ignores every parameter."""
    if uuid is not None:
        return QuerySpec(conditions=(Condition("uuid", "=", uuid),))
    return parse_query(params)


def flat_schema(reply: dict[str, Any], class_name: str) -> None:
    """Add the class map ZStack's JsonSchemaBuilder puts in every query reply (``{}`` if empty)."""
    reply["schema"] = inventories_schema(reply.get("inventories") or (), class_name)
