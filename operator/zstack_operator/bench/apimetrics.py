"""Pure parsing for the bench: kube-apiserver's request counters, /proc memory, Table lists.

Used by ``bench.track``, ``bench.runs`` and ``bench.ideal``; no I/O here, so the unit tests feed
it captured text. Kubernetes writes are read from ``apiserver_request_total`` (a counter per
verb, resource, subresource and code) because it counts every write, whoever sent it: kopf's
own patches, the operator's status writes and Events alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: The verbs kube-apiserver reports for writes (APPLY is a server-side-apply PATCH).
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
#: The resources the bench counts writes on, as ``resource[/subresource]``.
WATCHED_RESOURCES = ("modelservices", "modelservices/status", "events")
#: ZStack APIs that change something (a restart must send none of them).
ZSTACK_WRITE_APIS = frozenset(
    {
        "AddModelService",
        "UpdateModelService",
        "DeleteModelService",
        "BindModelToService",
        "UnbindModelFromService",
    }
)

_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')

#: Write counts: ``{"modelservices/status": {"PATCH": 2000}, ...}``.
WriteCounts = dict[str, dict[str, int]]


def parse_samples(text: str, metric: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of ``metric`` in Prometheus text format, as (labels, value)."""
    out: list[tuple[dict[str, str], float]] = []
    for line in text.splitlines():
        if not line.startswith(metric):
            continue
        match = _SAMPLE.match(line)
        if match is None or match.group("name") != metric:
            continue
        labels = {k: v.replace('\\"', '"') for k, v in _LABEL.findall(match.group("labels") or "")}
        out.append((labels, float(match.group("value"))))
    return out


def write_counts(metrics_text: str, watched: Sequence[str] = WATCHED_RESOURCES) -> WriteCounts:
    """Writes so far on the ``watched`` resources, by ``resource[/subresource]`` and verb.

    Every response code counts: a 409 conflict or a 422 is still a write the server handled.
    """
    counts: WriteCounts = {}
    for labels, value in parse_samples(metrics_text, "apiserver_request_total"):
        verb = labels.get("verb", "")
        if verb not in WRITE_VERBS:
            continue
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        if resource not in watched:
            continue
        by_verb = counts.setdefault(resource, {})
        by_verb[verb] = by_verb.get(verb, 0) + int(value)
    return counts


def failed_writes(metrics_text: str) -> int:
    """Writes on the watched resources that the server refused (code >= 400)."""
    total = 0
    for labels, value in parse_samples(metrics_text, "apiserver_request_total"):
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        code = labels.get("code", "")
        refused = code.isdigit() and int(code) >= 400
        if labels.get("verb") in WRITE_VERBS and resource in WATCHED_RESOURCES and refused:
            total += int(value)
    return total


def diff_counts(after: WriteCounts, before: WriteCounts) -> WriteCounts:
    """``after - before`` per resource and verb, dropping zeros."""
    out: WriteCounts = {}
    for resource, verbs in after.items():
        for verb, value in verbs.items():
            delta = value - before.get(resource, {}).get(verb, 0)
            if delta:
                out.setdefault(resource, {})[verb] = delta
    return out


def subtract(counts: WriteCounts, resource: str, verb: str, amount: int) -> WriteCounts:
    """``counts`` without ``amount`` writes (the bench's own), never below zero."""
    out = {r: dict(v) for r, v in counts.items()}
    left = out.get(resource, {}).get(verb, 0) - amount
    if resource in out:
        if left > 0:
            out[resource][verb] = left
        else:
            out[resource].pop(verb, None)
            if not out[resource]:
                del out[resource]
    return out


def total(counts: Mapping[str, Mapping[str, int]]) -> int:
    """All writes in ``counts``."""
    return sum(sum(verbs.values()) for verbs in counts.values())


def write_latency(metrics_text: str) -> dict[str, tuple[float, int]]:
    """Total seconds and count of writes on the watched resources, by ``VERB resource``.

    From ``apiserver_request_duration_seconds``; two snapshots give the mean latency between.
    """
    out: dict[str, tuple[float, int]] = {}
    for suffix in ("_sum", "_count"):
        for labels, value in parse_samples(
            metrics_text, "apiserver_request_duration_seconds" + suffix
        ):
            resource = labels.get("resource", "")
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            verb = labels.get("verb", "")
            if verb not in WRITE_VERBS or resource not in WATCHED_RESOURCES:
                continue
            key = f"{verb} {resource}"
            seconds, count = out.get(key, (0.0, 0))
            out[key] = (
                (seconds + value, count) if suffix == "_sum" else (seconds, count + int(value))
            )
    return out


def mean_latency_ms(
    after: Mapping[str, tuple[float, int]], before: Mapping[str, tuple[float, int]]
) -> dict[str, float]:
    """Mean milliseconds per write between two ``write_latency`` snapshots."""
    out: dict[str, float] = {}
    for key, (seconds, count) in sorted(after.items()):
        seconds0, count0 = before.get(key, (0.0, 0))
        if count > count0:
            out[key] = round(1000.0 * (seconds - seconds0) / (count - count0), 1)
    return out


def cpu_ticks(proc_stat: str) -> int:
    """User + system CPU time, in clock ticks, from ``/proc/PID/stat`` text."""
    # The command name may hold spaces and parentheses; fields resume after the last ')'.
    fields = proc_stat[proc_stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def vm_hwm_kib(proc_status: str) -> int | None:
    """Peak resident set size (``VmHWM``) in KiB from ``/proc/PID/status`` text."""
    for line in proc_status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def ready_rows(table: Mapping[str, Any], column: str = "READY") -> int:
    """Rows of a ``meta.k8s.io/v1`` Table whose ``column`` cell is ``"True"``."""
    names = [str(c.get("name", "")).upper() for c in table.get("columnDefinitions", [])]
    if column not in names:
        raise ValueError(f"the Table has no {column} column (columns: {', '.join(names)})")
    index = names.index(column)
    rows = table.get("rows") or []
    return sum(1 for row in rows if str(row.get("cells", [])[index]) == "True")


def zstack_totals(requests: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Simulator ``requests`` (API -> outcome -> n) as API -> n, sorted by API."""
    return {api: sum(outcomes.values()) for api, outcomes in sorted(requests.items())}


def busiest_window(samples: Sequence[tuple[float, int]], width: float) -> int:
    """Most requests within any ``width`` seconds, from (time, cumulative count) samples.

    Each window ends at a sample and starts at the earliest sample no more than ``width``
    before it, so no window is longer than ``width`` and none is overcounted.
    """
    best, start = 0, 0
    for t_end, n_end in samples:
        while samples[start][0] < t_end - width:
            start += 1
        best = max(best, n_end - samples[start][1])
    return best


def zstack_writes(requests: Mapping[str, Mapping[str, int]]) -> int:
    """Requests to APIs that change model services."""
    return sum(n for api, n in zstack_totals(requests).items() if api in ZSTACK_WRITE_APIS)
