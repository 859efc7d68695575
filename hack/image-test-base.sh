#!/usr/bin/env bash
# TEST-ONLY stand-in for the operator image's base. The real base is python:3.11-slim, pinned by
# digest in the Dockerfile; the test machines reach no image registry, so the image tests build
# the same Dockerfile on this instead: Debian bookworm (minbase) with its python3 (3.11) and
# python3-pip, `python` and `pip` on PATH as in python:3.11-slim, and Debian's PEP 668 marker
# removed because the Dockerfile installs with pip like on python:3.11-slim (which has none).
# Never publish an image built on it: its Python is Debian's, not the one the real base ships.
#
#   hack/image-test-base.sh   prints the podman image reference, building it first if needed
#
# Called by hack/image.sh (which installs debootstrap and podman and sets CONTAINERS_CONF).
# Cached once per machine, keyed on this script's own text (a changed recipe builds anew): the
# root filesystem as a tarball in $cache/image-test-base/<key>.tar and the imported image
# localhost/zstack-operator-test-base:<key>. $cache is $ZSTACK_OPERATOR_CACHE, else
# $XDG_CACHE_HOME/zstack-operator, else ~/.cache/zstack-operator (as the dev cluster's).
#
# The machine's own extra CA certificates (/usr/local/share/ca-certificates: here a
# TLS-inspecting egress proxy's, which may change from one machine to the next) go into one more
# layer on top, tagged <key>-ca<hash of them>, so pip in the build trusts what pip on the machine
# trusts. They are kept out of the cached tarball, and the real base gets none.
set -euo pipefail

mirror=${ZSTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${ZSTACK_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/zstack-operator}
dir="$cache/image-test-base"
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
ref="localhost/zstack-operator-test-base:$key"
tarball="$dir/$key.tar"

mkdir -p "$dir"
# Two test runs on one machine build it once: the second waits here, then finds it.
exec 9>"$dir/lock"
flock 9

shopt -s nullglob
extra_cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
final=$ref
if [ "${#extra_cas[@]}" -gt 0 ]; then
  final="$ref-ca$(cat "${extra_cas[@]}" | sha256sum | cut -c1-12)"
fi
if podman image exists "$final"; then
  echo "$final"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  echo "==> test-only base: debootstrap bookworm (minbase + python3, python3-pip), once per machine" >&2
  rootfs=$(mktemp -d "$dir/rootfs.XXXXXX")
  # --one-file-system: should a killed debootstrap leave /proc or a /dev bind mounted inside,
  # the clean-up must not reach through it into the machine's own.
  trap 'rm -rf --one-file-system "$rootfs"' EXIT
  start=$SECONDS
  debootstrap --variant=minbase --include=python3,python3-pip,python-is-python3,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$dir/debootstrap.log" 2>&1 \
    || { tail -20 "$dir/debootstrap.log" >&2; exit 1; }
  if grep -qF " $rootfs/" /proc/self/mounts; then
    echo "debootstrap left file systems mounted under $rootfs" >&2
    exit 1
  fi
  # Debian marks its Python externally managed; python:3.11-slim does not, and the Dockerfile
  # installs into the system Python as it does there. rm without -f: a moved marker must fail.
  rm "$rootfs"/usr/lib/python3.*/EXTERNALLY-MANAGED
  # What an image needs no copy of: apt's indexes and caches, and debootstrap's device nodes
  # (the container runtime makes /dev).
  rm -rf "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/var/cache/apt/* "${rootfs:?}"/dev/* \
    "${rootfs:?}"/var/log/* "${rootfs:?}"/tmp/*
  tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  echo "    debootstrap and tarball: $((SECONDS - start)) s" >&2
fi
# Older keys' tarballs are recipes nobody runs any more.
find "$dir" -maxdepth 1 -name '*.tar' ! -name "$key.tar" -delete

if ! podman image exists "$ref"; then
  echo "==> importing the test-only base as $ref" >&2
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL org.opencontainers.image.description="TEST-ONLY stand-in for python:3.11-slim (hack/image-test-base.sh)"' \
    --change 'CMD ["python3"]' \
    "$tarball" "$ref" >/dev/null
fi
if [ "$final" != "$ref" ]; then
  echo "==> adding this machine's extra CA certificates: $final" >&2
  context=$(mktemp -d)
  cp "${extra_cas[@]}" "$context/"
  printf '%s\n' "FROM $ref" "COPY *.crt /usr/local/share/ca-certificates/" \
    "RUN update-ca-certificates >/dev/null 2>&1" >"$context/Containerfile"
  podman build --quiet --isolation=chroot --network=host --pull=never --tag "$final" \
    "$context" >/dev/null
  rm -rf "$context"
fi
# Bases of older recipes: removed where no image built on them still needs their layers.
podman images --noheading --format '{{.Repository}}:{{.Tag}}' localhost/zstack-operator-test-base \
  | grep -v -e "^$ref\$" -e "^$final\$" | xargs -r podman rmi >/dev/null 2>&1 || true
echo "$final"
