#!/usr/bin/env bash
# The prepared accelerator check (issue 18), <= 10 min on a machine with a GPU:
#   tools/device_check.sh [FSDD_RECORDINGS_DIR] [OUT_DIR]
# 1. tools/bench.py at batch 64, d=64 (the paper's WaveGAN) in float32 and in bfloat16;
# 2. a 5-minute run of experiments/wavegan_fsdd_fast.py (digit-conditional) on FSDD;
# 3. appends a dated section with the numbers to docs/benchmarks.md and keeps the JSON/logs
#    under OUT_DIR (default runs/device_check).
# It needs a jax that sees a GPU (jax[cuda12]) already installed: the device machines cannot
# reach a package registry. Exits 2 with a message when no GPU is visible; never used by tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-$root/.venv/bin/python}"
[ -x "$py" ] || py=python3
data="${1:-${WAVEGEN_FSDD:-$root/../shared/data/fsdd/recordings}}"
out="${2:-$root/runs/device_check}"
mkdir -p "$out"

backend="$("$py" -c 'import jax; print(jax.default_backend())' 2>/dev/null || echo none)"
if [ "$backend" != "gpu" ]; then
  echo "device_check: jax's default backend is '$backend', not 'gpu' (install jax[cuda12])" >&2
  exit 2
fi
gpu="$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)"

for dt in float32 bfloat16; do
  timeout 180 "$py" tools/bench.py --batch 64 --dim 64 --reps 3 --no-torch --dtype "$dt" \
    --json "$out/bench_$dt.json" > "$out/bench_$dt.log" 2>&1 ||
    echo "device_check: bench $dt failed, see $out/bench_$dt.log" >&2
done

train_note="skipped: no FSDD recordings at $data"
if [ -d "$data" ]; then
  rm -rf "$out/fsdd_fast"
  start=$(date +%s)
  # SIGTERM after 5 minutes: the loop saves a checkpoint and exits 0.
  timeout --signal=TERM 300 "$py" -m wavegen train --config experiments/wavegan_fsdd_fast.py \
    --workdir "$out/fsdd_fast" --config.data.path="$data" --no-progress \
    > "$out/fsdd_fast.log" 2>&1 || true
  secs=$(($(date +%s) - start))
  steps="$(grep -o 'step [0-9]*/' "$out/fsdd_fast.log" | tail -1 | tr -dc 0-9)"
  train_note="${steps:-0} steps of experiments/wavegan_fsdd_fast.py in ${secs} s"
fi

"$py" - "$out" "$gpu" "$train_note" >> docs/benchmarks.md <<'EOF'
import datetime, json, sys
from pathlib import Path

out, gpu, note = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
rows = []
for dt in ("float32", "bfloat16"):
    p = out / f"bench_{dt}.json"
    if not p.is_file():
        rows.append(f"| {dt} | failed | | |")
        continue
    r = json.loads(p.read_text())["jax"]
    rows.append(
        f"| {dt} | {r['d_step_s'] * 1e3:.1f} | {r['g_step_s'] * 1e3:.1f} | "
        f"{r['iteration_s'] * 1e3:.1f} |"
    )
print(f"\n## Device check, {datetime.date.today()} ({gpu or 'GPU'})\n")
print("`tools/device_check.sh`: WaveGAN d=64, batch 64, 5 D + 1 G per iteration, jax on the GPU.\n")
print("| compute dtype | D step (ms) | G step (ms) | iteration (ms) |")
print("|---|---:|---:|---:|")
print("\n".join(rows))
print(f"\nTraining: {note}.")
EOF
echo "device_check: wrote $out and appended to docs/benchmarks.md"
