"""The operator image under podman: building it (hack/image.sh) and running it as the chart does.

Owned here: ``build_image`` (the session's one build, or podman's cache of it, or the skip that
``ZSTACK_IMAGE_TESTS=skip`` asks for), ``Podman`` (the podman command with the build's private
containers.conf) and ``run_flags``, which turns the chart's rendered Deployment into
``podman run`` flags. The flags are read off the Deployment, never restated: a setting the chart
adds that this translation does not know (a volume kind, an env source, a securityContext
field) raises ``UntranslatableError`` instead of being dropped, so the test cannot quietly run the
image differently from the chart.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: ``skip``: the machine cannot build or run the image and whoever runs the tests says so.
#: Unset (or ``run``): build and run; a machine that cannot fails instead of skipping quietly.
SWITCH = "ZSTACK_IMAGE_TESTS"


class UntranslatableError(AssertionError):
    """The chart sets something ``run_flags`` cannot reproduce under podman."""


@dataclass(frozen=True)
class Built:
    """What ``hack/image.sh build`` reports."""

    image: str
    image_id: str
    base: str
    containers_conf: str


def build_image() -> Built:
    """Build the image (layer-cached, so quick when nothing changed), or skip when told to."""
    switch = os.environ.get(SWITCH, "")
    if switch == "skip":
        pytest.skip(f"{SWITCH}=skip: the operator image was NOT built and NOT run")
    if switch not in ("", "run"):
        pytest.fail(f"{SWITCH}={switch!r}: only 'skip' or 'run' (the default) mean something")
    done = subprocess.run(
        [str(ROOT / "hack" / "image.sh"), "build"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"hack/image.sh build exited {done.returncode} (on a machine that cannot build or "
            f"run containers, set {SWITCH}=skip):\n{done.stderr[-4000:]}"
        )
    found = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return Built(found["IMAGE"], found["IMAGE_ID"], found["BASE"], found["CONTAINERS_CONF"])


@dataclass(frozen=True)
class Podman:
    """``podman`` with the containers.conf the image was built with."""

    containers_conf: str

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run podman; with ``check``, a non-zero exit raises with its stderr."""
        done = subprocess.run(
            ["podman", *args],
            env={**os.environ, "CONTAINERS_CONF": self.containers_conf},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            command = " ".join(args)
            raise AssertionError(f"podman {command} exited {done.returncode}:\n{done.stderr}")
        return done

    def running(self, name: str) -> bool:
        """Whether the container exists and runs."""
        state = self("inspect", "--format", "{{.State.Running}}", name, check=False)
        return state.stdout.strip() == "true"


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in env values and args: ``$$`` is a literal ``$``, an
    undefined reference stays as written."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return _REFERENCE.sub(one, text)


_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi)?$")


def _bytes(quantity: str) -> int:
    match = _QUANTITY.match(str(quantity))
    if match is None:
        raise UntranslatableError(f"quantity {quantity!r}")
    factor = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}[match[2]]
    return int(match[1]) * factor


def _cpus(quantity: str) -> str:
    text = str(quantity)
    return str(int(text[:-1]) / 1000) if text.endswith("m") else text


_POD_FIELDS = {"metadata.name", "metadata.namespace"}
_CONTAINER_SC = {
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "capabilities",
    "seccompProfile",
}
_POD_SC = {"runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile"}


def _security(pod_sc: dict[str, Any], container_sc: dict[str, Any]) -> list[str]:
    for what, given, known in (
        ("pod", pod_sc, _POD_SC),
        ("container", container_sc, _CONTAINER_SC),
    ):
        if set(given) - known:
            raise UntranslatableError(f"{what} securityContext fields {sorted(set(given) - known)}")
    merged = {**pod_sc, **container_sc}
    if merged.get("runAsNonRoot") and not merged.get("runAsUser"):
        # The kubelet would check the image's user; the chart names one, so the test needs not.
        raise UntranslatableError("runAsNonRoot without a non-zero runAsUser")
    flags: list[str] = []
    if "runAsUser" in merged:
        user = str(merged["runAsUser"])
        flags += ["--user", f"{user}:{merged['runAsGroup']}" if "runAsGroup" in merged else user]
    if merged.get("readOnlyRootFilesystem"):
        # podman's --read-only alone mounts writable tmpfs on /run, /tmp and /var/tmp;
        # Kubernetes mounts none, so neither does this (the chart's /tmp is a volume below).
        flags += ["--read-only", "--read-only-tmpfs=false"]
    if merged.get("allowPrivilegeEscalation") is False:
        flags.append("--security-opt=no-new-privileges")
    caps = merged.get("capabilities", {})
    if set(caps) - {"drop", "add"}:
        raise UntranslatableError(f"capabilities {caps}")
    flags += [f"--cap-drop={c}" for c in caps.get("drop", [])]
    flags += [f"--cap-add={c}" for c in caps.get("add", [])]
    # podman applies its default seccomp profile, the runtime's default, unless told otherwise.
    if merged.get("seccompProfile", {"type": "RuntimeDefault"}) != {"type": "RuntimeDefault"}:
        raise UntranslatableError(f"seccompProfile {merged['seccompProfile']}")
    return flags


def run_flags(
    pod: dict[str, Any], pod_name: str, namespace: str
) -> tuple[list[str], list[str], dict[str, str]]:
    """``podman run`` flags, the container's args and its environment, from a pod spec.

    The in-cluster service account is no part of this (out of cluster there is none): the
    caller mounts a kubeconfig instead. Probes are not run by podman; the test asks them itself.
    """
    (container,) = pod["containers"]
    if container.get("command"):
        raise UntranslatableError("command (the test runs the image's own entrypoint)")
    fields = {"metadata.name": pod_name, "metadata.namespace": namespace}
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(str(item["value"]), env)
            continue
        path = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if path not in _POD_FIELDS:
            raise UntranslatableError(f"env {item['name']} from {item.get('valueFrom')}")
        env[item["name"]] = fields[path]
    flags = _security(pod.get("securityContext", {}), container.get("securityContext", {}))
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if set(volume) != {"name", "emptyDir"} or mount.get("readOnly") or mount.get("subPath"):
            raise UntranslatableError(f"volume {volume} mounted as {mount}")
        # An emptyDir is a fresh, world-writable directory; its sizeLimit bounds it like the
        # tmpfs size does.
        options = ["rw", "mode=1777"]
        if "sizeLimit" in volume["emptyDir"]:
            options.append(f"size={_bytes(volume['emptyDir']['sizeLimit'])}")
        flags += ["--tmpfs", f"{mount['mountPath']}:{','.join(options)}"]
    limits = container.get("resources", {}).get("limits", {})
    if set(limits) - {"cpu", "memory"}:
        raise UntranslatableError(f"resource limits {limits}")
    if "memory" in limits:
        flags.append(f"--memory={_bytes(limits['memory'])}")
    if "cpu" in limits:
        flags.append(f"--cpus={_cpus(limits['cpu'])}")
    args = [expand(str(arg), env) for arg in container.get("args", [])]
    return flags, args, env
