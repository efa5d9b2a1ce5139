#!/usr/bin/env bash
# Runs the test suite from a fresh machine: sets up .venv, then pytest (extra args pass through).
#   tools/test.sh                 # default suite (a few minutes on 2 cores)
#   tools/test.sh -m slow         # the slow tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$root/tools/setup.sh")"
cd "$root"
export XLA_FLAGS="${XLA_FLAGS:---xla_force_host_platform_device_count=8}"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$HOME/.cache/wavegen-numba}"
export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"
if [ $# -eq 0 ]; then set -- -m "not slow"; fi
exec "$venv/bin/python" -m pytest -q "$@"
