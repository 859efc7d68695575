#!/usr/bin/env bash
# The operator image built from this repository's Dockerfile with podman, on a Debian machine
# without a Docker engine or a reachable image registry (docs/image.md).
#
#   hack/image.sh preflight    can podman build and run containers here as the tests do? (exit 1
#                              and why if not; installs the tools first)
#   hack/image.sh build        build the image on the TEST-ONLY stand-in base
#                              (hack/image-test-base.sh); prints IMAGE, IMAGE_ID, BASE and
#                              CONTAINERS_CONF as KEY=value lines on stdout, progress on stderr
#   hack/image.sh build --real-base
#                              the same on the Dockerfile's own digest-pinned python:3.11-slim
#                              (needs a registry: not on the test machines)
#   hack/image.sh env          print CONTAINERS_CONF=..., for running podman by hand:
#                              export "$(hack/image.sh env)"
#
# Needs root: rootful podman, debootstrap, and apt-get to install podman, runc and debootstrap
# when missing (those three only). Podman reads a private containers.conf (CONTAINERS_CONF,
# nothing in /etc changes): runc, because crun fails on setrlimit and on hybrid cgroups here;
# cgroupfs, because there is no systemd; no default ulimits, which this sandbox refuses. The
# build uses chroot isolation and the host network (its pip downloads from PyPI), and podman's
# layer cache: a second build with unchanged inputs reuses every layer.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${ZSTACK_IMAGE:-localhost/zstack-operator:test}
cache=${ZSTACK_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zstack-operator}
export CONTAINERS_CONF="$cache/podman/containers.conf"

die() { echo "hack/image.sh: $*" >&2; exit 1; }

ensure_tools() {
  [ "$(id -u)" -eq 0 ] || die "needs root (rootful podman, debootstrap, apt-get); running as uid $(id -u)"
  local missing=() pkg
  for pkg in podman runc debootstrap; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

write_containers_conf() {
  mkdir -p "$(dirname "$CONTAINERS_CONF")"
  local want
  want=$(cat <<'CONF'
# Written by hack/image.sh (CONTAINERS_CONF points here; /etc/containers is left alone).
[containers]
# This sandbox refuses to raise rlimits, and podman's default ulimits would try.
default_ulimits = []

[engine]
# crun fails here on setrlimit and on the hybrid cgroup hierarchy; Debian's runc works.
runtime = "runc"
# No systemd to delegate cgroups to, and no journald for events.
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
)
  [ -f "$CONTAINERS_CONF" ] && [ "$(cat "$CONTAINERS_CONF")" = "$want" ] && return
  printf '%s\n' "$want" >"$CONTAINERS_CONF"
}

# The flags every container of the tests gets, so preflight proves exactly those work.
# shellcheck disable=SC2054 # the commas are the tmpfs mount's options
RUN_FLAGS=(--network=host --read-only --read-only-tmpfs=false --cap-drop=ALL --security-opt=no-new-privileges
  --user 65532:65532 --tmpfs /tmp:rw,size=64m,mode=1777)

preflight() {
  ensure_tools
  write_containers_conf
  podman info >/dev/null 2>"$cache/podman/info.err" \
    || die "podman cannot start here: $(tail -3 "$cache/podman/info.err")"
  # The smallest image there is: /bin/true and the libraries it links, from this machine.
  local probe ref=localhost/zstack-operator-probe:1
  if ! podman image exists "$ref"; then
    probe=$(mktemp -d)
    mkdir -p "$probe/bin"
    cp /bin/true "$probe/bin/"
    ldd /bin/true | grep -o '/[^ ]*' | xargs -I{} cp --parents {} "$probe"
    tar -C "$probe" -c . | podman import --quiet - "$ref" >/dev/null
    rm -rf "$probe"
  fi
  podman run --rm "${RUN_FLAGS[@]}" "$ref" /bin/true 2>"$cache/podman/run.err" \
    || die "podman cannot run a container here as the tests do: $(tail -3 "$cache/podman/run.err")"
  local context built
  context=$(mktemp -d)
  printf 'FROM %s\nRUN ["/bin/true"]\n' "$ref" >"$context/Containerfile"
  built=$(podman build --quiet --isolation=chroot --network=host --pull=never --layers=false \
    "$context" 2>"$cache/podman/build.err") \
    || die "podman cannot build here: $(tail -3 "$cache/podman/build.err")"
  rm -rf "$context"
  podman rmi --force "$built" >/dev/null
  echo "podman builds and runs containers here" >&2
}

build() {
  local base pull=never
  ensure_tools
  write_containers_conf
  if [ "${1:-}" = --real-base ]; then
    base=$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)
    pull=missing
  else
    base=$(hack/image-test-base.sh)
  fi
  local iidfile start=$SECONDS log="$cache/podman/build.log"
  iidfile=$(mktemp)
  echo "==> podman build on $base (log: $log)" >&2
  podman build --isolation=chroot --network=host --pull="$pull" --layers \
    --build-arg PYTHON_IMAGE="$base" --iidfile "$iidfile" --tag "$IMAGE" \
    --file Dockerfile . >"$log" 2>&1 \
    || { tail -40 "$log" >&2; die "podman build failed (whole log: $log)"; }
  echo "    built in $((SECONDS - start)) s ($(grep -c '^--> Using cache' "$log") steps from the cache)" >&2
  echo "IMAGE=$IMAGE"
  echo "IMAGE_ID=$(cat "$iidfile")"
  echo "BASE=$base"
  echo "CONTAINERS_CONF=$CONTAINERS_CONF"
  rm -f "$iidfile"
}

case "${1:-}" in
  preflight) preflight ;;
  build) shift; build "$@" ;;
  env) write_containers_conf; echo "CONTAINERS_CONF=$CONTAINERS_CONF" ;;
  *) sed -n '4,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
