#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a used one: one command.
#   hack/test.sh            lint, types, layering, CRD drift, then every test (unit, client, e2e)
#   hack/test.sh -k NAME    extra arguments go to pytest
# It creates .venv, installs pinned dependencies, builds the local Kubernetes control plane once
# per machine (cached under ~/.cache/zstack-operator; several minutes the first time), and the
# tests start and stop their own API server and ZStack simulators.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/lib.sh
ensure_venv

# System tools the tests call; a fresh machine lacks them (the dev-cluster build installs its own).
if ! command -v lua5.1 >/dev/null 2>&1; then
  echo "==> installing lua5.1 (the Argo CD health check also runs under Debian's interpreter)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lua5.1 >/dev/null
fi

echo "==> ruff" >&2
ruff check .
ruff format --check --quiet . || { echo "ruff format would change files (run: ruff format .)" >&2; exit 1; }
echo "==> mypy (strict)" >&2
mypy
echo "==> import layering" >&2
lint-imports --no-cache
echo "==> CRD up to date with the models" >&2
python -m zstack_operator.crdgen --check
python hack/render-manifests.py --check
echo "==> local control plane (built once per machine)" >&2
zstack-operator dev-cluster build
echo "==> pytest" >&2
if [ "$#" -gt 0 ]; then
  exec pytest "$@"
fi
pytest
# The operator's own e2e tests once more against the oldest supported ZStack release profile
# (no inventory version, no architectureImages; docs/simulator.md): the newest ran above.
echo "==> pytest: the operator against ZStack 5.1.20" >&2
ZSTACK_E2E_SIM_ARGS="--zstack-version 5.1.20" exec pytest -p no:cacheprovider \
  tests/e2e/test_operator.py tests/e2e/test_tenancy.py
