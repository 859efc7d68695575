#!/usr/bin/env bash
# The operator's main job on one machine, with nothing to configure:
#   hack/demo.sh         local control plane + ZStack simulator + operator + samples, shown Ready
#   hack/demo.sh down    stop everything it started
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/lib.sh
ensure_venv
exec zstack-operator demo "$@"
