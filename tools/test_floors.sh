#!/usr/bin/env bash
# Proves the dependency floors: installs wavegen into a separate venv (.venv-floors) with every
# direct dependency at the lowest version pyproject.toml allows (constraints-floors.txt), then runs
# a smoke subset of the tests (config, flax nnx models, optax/orbax training and resume,
# TensorBoard event files, the classifier's checkpoint round trip). A few minutes; extra args pass
# through to pytest.
#   tools/test_floors.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${WAVEGEN_FLOORS_VENV:-$root/.venv-floors}"
py="${PYTHON:-python3}"
cd "$root"
stamp="$venv/.wavegen-floors-installed"
want="$(cat pyproject.toml constraints-floors.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing wavegen at its dependency floors into $venv ..." >&2
  start=$SECONDS
  "$venv/bin/python" -m pip install -q -e ".[dev]" -c constraints-floors.txt
  echo "installed in $((SECONDS - start)) s" >&2
  echo "$want" > "$stamp"
fi
# Fail loudly if pip resolved anything other than the pinned floors.
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
import re
import sys

bad = []
for line in open("constraints-floors.txt"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = re.split(r"==", line)
    got = md.version(name)
    if got != want:
        bad.append(f"{name}: installed {got}, floor {want}")
if bad:
    sys.exit("floors venv does not hold the floors:\n  " + "\n  ".join(bad))
pins = [n.strip() for n in open("constraints-floors.txt") if n.strip() and not n.startswith("#")]
print("floors installed:", ", ".join(pins))
PY
export XLA_FLAGS="${XLA_FLAGS:---xla_force_host_platform_device_count=8}"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$HOME/.cache/wavegen-numba}"
export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"
# -p no:cacheprovider: leave the main venv's .pytest_cache alone.
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider --durations=10 \
  tests/test_config.py \
  "tests/models/test_discriminators.py::test_multi_period_shapes" \
  "tests/models/test_discriminators.py::test_unknown_name_raises" \
  tests/train/test_summaries.py \
  "tests/train/test_gan_training.py::test_cli_train_then_generate" \
  "tests/train/test_gan_training.py::test_resume_equals_uninterrupted" \
  "tests/eval/test_classifier.py::test_round_trip_gives_identical_predictions_and_features" \
  "$@"
