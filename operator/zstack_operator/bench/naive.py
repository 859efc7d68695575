"""The naive operator of the bench: what a user would write instead of zstack-operator.

Run by ``bench.runs`` as its own process: ``python -m zstack_operator.bench.naive --namespace NS
--zstack-endpoint URL --account NAME --ready-file PATH`` with the password in
``NAIVE_ZSTACK_PASSWORD``. A plain kopf operator with kopf's defaults (its default registry and
login, default persistence, Events for handler logs, a finalizer because there is a delete
handler): it logs in to ZStack once at startup, and its create handler sends AddModelService
with httpx, polls the job until it is done and puts the uuid and Ready=True into status through
kopf's ``patch``. No crash safety: a crash after the POST forgets the service, a retry creates
a second one. It is the second bench module that imports kopf (the import-linter contract names
it), and it imports nothing else from this package, so its memory is kopf's, httpx's and
Python's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import kopf

#: Spec fields that are the operator's, not AddModelService parameters.
_NOT_PARAMS = frozenset(
    {"deletionPolicy", "managementPolicy", "connectionRef", "systemTags", "userTags"}
)
PASSWORD_ENV = "NAIVE_ZSTACK_PASSWORD"  # noqa: S105 - the name of a variable, not a secret


class ZStackError(RuntimeError):
    """ZStack answered an error; kopf retries the handler after its default backoff."""


def _poll_intervals() -> Iterator[float]:
    # The client's PollPolicy (50 ms, x1.6, at most 1 s), spelled out: importing it would load
    # this package. With the same schedule, naive vs operator compares machinery, not polling.
    delay = 0.05
    while True:
        yield delay
        delay = min(delay * 1.6, 1.0)


async def _finish(zs: httpx.AsyncClient, reply: httpx.Response, api: str) -> dict[str, Any]:
    """Follow a 202 job location until the job is done; its result."""
    if reply.status_code == 202:
        # The location names ZStack's own host; like the SDKs, keep only its path.
        path = httpx.URL(reply.json()["location"]).path
        intervals = _poll_intervals()
        while reply.status_code == 202:
            await asyncio.sleep(next(intervals))
            reply = await zs.get(path)
    if reply.status_code != 200:
        raise ZStackError(f"{api}: HTTP {reply.status_code}: {reply.text[:300]}")
    result: dict[str, Any] = reply.json()
    return result


@kopf.on.startup()
async def login(memo: kopf.Memo, **_: Any) -> None:
    """Log in once; every handler shares the session and the connection pool."""
    zs = httpx.AsyncClient(base_url=memo.endpoint, timeout=60.0, trust_env=False)
    digest = hashlib.sha512(os.environ[PASSWORD_ENV].encode()).hexdigest()
    body = {"logInByAccount": {"accountName": memo.account, "password": digest}}
    reply = await zs.put("/zstack/v1/accounts/login", json=body)
    if reply.status_code != 200:
        raise ZStackError(f"login: HTTP {reply.status_code}: {reply.text[:300]}")
    memo.zstack = zs
    memo.headers = {"Authorization": f"OAuth {reply.json()['inventory']['uuid']}"}
    memo.ready_file.touch()


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    """Close the connection pool on the way out."""
    await memo.zstack.aclose()


@kopf.on.create("ai.zstack.io", "v1alpha1", "modelservices")
async def create(
    spec: kopf.Spec, meta: kopf.Meta, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    """AddModelService from the spec, wait for its job, write the uuid and Ready to status."""
    body: dict[str, Any] = {"param": {k: v for k, v in spec.items() if k not in _NOT_PARAMS}}
    body["param"].setdefault("name", meta["name"])
    for tags in ("systemTags", "userTags"):
        if tags in spec:
            body[tags] = list(spec[tags])
    reply = await memo.zstack.post("/zstack/v1/ai/model-services", json=body, headers=memo.headers)
    inventory = (await _finish(memo.zstack, reply, "AddModelService"))["inventory"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    patch.status["uuid"] = inventory["uuid"]
    patch.status["observedGeneration"] = meta.get("generation")
    ready = {"type": "Ready", "status": "True", "reason": "Available",
             "message": "naive kopf operator", "lastTransitionTime": now}  # fmt: skip
    patch.status["conditions"] = [ready]


@kopf.on.delete("ai.zstack.io", "v1alpha1", "modelservices")
async def delete(status: kopf.Status, memo: kopf.Memo, **_: Any) -> None:
    """DeleteModelService; the bench never deletes while this runs, but users would."""
    uuid = status.get("uuid")
    if uuid:
        path = f"/zstack/v1/ai/model-services/{uuid}"
        reply = await memo.zstack.delete(path, headers=memo.headers)
        await _finish(memo.zstack, reply, "DeleteModelService")


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m zstack_operator.bench.naive")
    parser.add_argument("--namespace", required=True, help="the only namespace to watch")
    parser.add_argument("--zstack-endpoint", required=True, help="ZStack root, e.g. http://h:8080")
    parser.add_argument("--account", required=True, help="ZStack account name")
    parser.add_argument("--ready-file", type=Path, required=True, help="touched once logged in")
    args = parser.parse_args(argv)
    if PASSWORD_ENV not in os.environ:
        parser.error(f"{PASSWORD_ENV} must hold the ZStack password")
    memo = kopf.Memo(endpoint=args.zstack_endpoint, account=args.account,
                     ready_file=args.ready_file)  # fmt: skip
    kopf.configure()  # what ``kopf run`` does: INFO logs, kopf's per-object lines included
    # httpx logs every request at INFO; thousands of lines would be the log's cost, not kopf's.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    kopf.run(clusterwide=False, namespaces=[args.namespace], memo=memo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
