"""``zstack-operator demo``: the whole product on one machine, with nothing to configure.

``demo up`` (the default) starts the local control plane, a ZStack simulator and the operator,
applies the CRD and every sample into the ``zstack-demo`` namespace, waits until they are Ready
and shows ``kubectl get zms``. Everything keeps running in the background; ``demo down`` stops
exactly what ``up`` started. Processes are recorded like the dev cluster's (pid + start time).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

NAMESPACE = "zstack-demo"
#: The simulator admin's password in the demo. Not ZStack's default "password": every known
#: secret is masked in messages, and that one is also the word in "wrong account name or
#: password", which users would then read as "wrong account name or ***".
DEMO_PASSWORD = "zstack-demo-4f1c"  # noqa: S105 - the local simulator's, shown in docs
#: The observe sample watches a service another tool created; the demo creates it first.
OBSERVED_UUID = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
_ROOT = Path(__file__).resolve().parents[2]


def register(subparsers: Any) -> None:
    """Add ``demo`` to the command line."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run everything locally: control plane, ZStack simulator, operator, samples",
        description="Start a local control plane, a ZStack simulator and the operator, apply "
        "the samples and show them Ready. `demo down` stops it all.",
    )
    parser.add_argument("action", nargs="?", choices=("up", "down"), default="up")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for Ready")
    parser.set_defaults(func=_main)


def _say(message: str) -> None:
    sys.stderr.write(f"==> {message}\n")
    sys.stderr.flush()


def _state() -> Path:
    from .devcluster.paths import cache_root

    return cache_root() / "demo"


def _main(args: argparse.Namespace) -> int:
    return _down() if args.action == "down" else _up(args.timeout)


def _down() -> int:
    from .devcluster import procs
    from .devcluster.cluster import DevCluster

    state = _state()
    record = state / "processes.json"
    if record.exists():
        records = [procs.ProcessRecord.from_json(r) for r in json.loads(record.read_text())]
        procs.stop_all(records, _say)
        record.unlink()
    cluster = DevCluster.attach(state / "cluster")
    if cluster is not None:
        cluster.stop(progress=_say)
    _say("demo stopped")
    return 0


def _kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    from .devcluster.kubectl import kubectl_path

    done = subprocess.run(
        [str(kubectl_path()), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _up(timeout: float) -> int:
    from .devcluster import procs
    from .devcluster.cluster import DevCluster

    state = _state()
    if (state / "processes.json").exists():
        _say("a demo is already running; `zstack-operator demo down` first")
        return 1
    state.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    _say("starting the local control plane (the first run builds it: several minutes)")
    cluster, _ = DevCluster.ensure_running(state / "cluster", progress=_say)
    t_cluster = time.monotonic()
    kubeconfig = cluster.kubeconfig

    port = procs.free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    py = [sys.executable, "-m", "zstack_operator"]
    _say(f"starting the ZStack simulator on {url}")
    store = str(state / "zstack.sqlite")
    sim = procs.spawn(
        "zstack-sim",
        [*py, "sim", "--port", str(port), "--state-file", store, "--password", DEMO_PASSWORD],
        state / "sim.log",
        env,
    )
    _wait_http(f"{url}/_sim/counters")
    _precreate_observed(url)

    _say(f"applying the CRD, namespace {NAMESPACE} and the credentials Secret")
    # The local API server is v1.20: kubectl would refuse the CRD's CEL rules (1.25+), which
    # the server drops anyway.
    _kubectl(kubeconfig, "apply", "--validate=false", "-f", str(_ROOT / "crds"))
    for crd in ("modelservices", "models", "modelservicedeployments"):
        _kubectl(kubeconfig, "wait", "--for=condition=Established", f"crd/{crd}.ai.zstack.io")
    _kubectl(kubeconfig, "apply", "-f", "-", stdin=_namespace_and_secret())

    _say("starting the operator")
    operator = procs.spawn(
        "zstack-operator",
        [*py, "run", "--zstack-endpoint", url, "--allow-insecure-http",
         "--credentials-secret", f"{NAMESPACE}/zstack-credentials",
         "--namespace", NAMESPACE, "--health-address", "127.0.0.1:0"],
        state / "operator.log",
        env,
    )  # fmt: skip
    (state / "processes.json").write_text(json.dumps([sim.to_json(), operator.to_json()]))
    t_started = time.monotonic()

    _say("applying deploy/samples/ and waiting for Ready")
    _kubectl(kubeconfig, "apply", "-n", NAMESPACE, "-f", str(_ROOT / "deploy" / "samples"))
    _kubectl(kubeconfig, "wait", "-n", NAMESPACE, "--for=condition=Ready", "zms", "--all",
             f"--timeout={int(timeout)}s")  # fmt: skip
    t_ready = time.monotonic()
    sys.stdout.write(_kubectl(kubeconfig, "get", "zms", "-n", NAMESPACE))
    endpoint = _chain(kubeconfig, timeout)
    t_serving = time.monotonic()
    sys.stdout.write(
        f"\nTimings: control plane {t_cluster - t0:.1f}s, simulator + operator "
        f"{t_started - t_cluster:.1f}s, samples Ready {t_ready - t_started:.1f}s, "
        f"deployment serving {t_serving - t_ready:.1f}s later.\n"
        f"Endpoint: {endpoint}\n"
        f"Try:   export KUBECONFIG={kubeconfig}\n"
        f"       kubectl get zms -n {NAMESPACE} -o yaml\n"
        f"Logs:  {state}/operator.log, {state}/sim.log\n"
        "observed-service only observes an existing service (managementPolicy: Observe), so its\n"
        "SYNCED column stays False with reason Observing.\n"
        "Stop:  hack/demo.sh down   (or: zstack-operator demo down)\n"
    )
    return 0


def _chain(kubeconfig: Path, timeout: float) -> str:
    """Apply deploy/samples/chain/ (model, service, deployment); the endpoint, after a request."""
    _say("applying deploy/samples/chain/ (a Model, a ModelService bound to it, a deployment)")
    _kubectl(
        kubeconfig, "apply", "-n", NAMESPACE, "-f", str(_ROOT / "deploy" / "samples" / "chain")
    )
    _kubectl(kubeconfig, "wait", "-n", NAMESPACE, "--for=condition=Ready", "zmsd", "--all",
             f"--timeout={int(timeout)}s")  # fmt: skip
    sys.stdout.write(_kubectl(kubeconfig, "get", "zsmodel,zmsd", "-n", NAMESPACE))
    endpoint = _kubectl(
        kubeconfig,
        "get",
        "zmsd",
        "qwen2-chat",
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.status.endpoint}",
    ).strip()
    _say(f"calling the endpoint: curl {endpoint}")
    with urllib.request.urlopen(endpoint, timeout=10) as reply:  # noqa: S310 - a loopback URL
        sys.stdout.write(f"HTTP {reply.status}: {reply.read().decode()}\n")
    return endpoint


def _wait_http(url: str) -> None:
    import httpx

    for _ in range(100):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def _precreate_observed(url: str) -> None:
    """Create the service the Observe sample watches, as another ZStack user would."""
    import asyncio

    from pydantic import SecretStr

    from .zstack.client import ZStackClient
    from .zstack.credentials import AccountCredentials
    from .zstack.models import AddModelServiceParam

    async def create() -> None:
        creds = AccountCredentials(account_name="admin", password=SecretStr(DEMO_PASSWORD))
        async with ZStackClient(url, creds) as client:
            if await client.get_model_service(OBSERVED_UUID) is None:
                param = AddModelServiceParam(
                    name="existing service",
                    yaml="services: []\n",
                    request_cpu=2,
                    request_memory=2048,
                    model_center_uuid="5b1a1e0c6c2d4c8fb1f0a3d2e4c6b8a9",
                    install_path="/opt/zstack/model-services/existing",
                    start_command="python serve.py",
                    resource_uuid=OBSERVED_UUID,
                )
                await client.add_model_service(param)

    asyncio.run(create())


def _namespace_and_secret() -> str:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return (
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n---\n"
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: zstack-credentials\n"
        f"  namespace: {NAMESPACE}\ntype: Opaque\ndata:\n"
        f"  accountName: {b64('admin')}\n  password: {b64(DEMO_PASSWORD)}\n"
    )
