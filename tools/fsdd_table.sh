#!/usr/bin/env bash
# Regenerates the FSDD table of docs/results.md from scratch, in one command:
#   tools/fsdd_table.sh [FSDD_RECORDINGS_DIR] [RUNS_DIR]
# Trains what is missing (the evaluation classifier; WaveGAN without and with phase shuffle,
# SpecGAN, the digit-conditional WaveGAN and SampleRNN, experiments/{wavegan,specgan,samplernn}_fsdd.py,
# and the fast recipe's digit-conditional and self-conditioned WaveGANs, wavegan_fsdd_fast.py,
# the latter at 30000 steps as published in pretrained/fsdd_selfcond: each resumes if
# interrupted, is skipped if done), scores real train/test data and 1000 generated clips per model (conditional
# models: 100 per digit, with the classifier's accuracy on the digit asked for), and writes
# RUNS_DIR/fsdd_table.md (+ .tex). Expected on an idle 2-core CPU: ~2.5 hours (docs/results.md
# has each run's time: 8-23 min for the 500-iteration runs, ~23 min and ~48 min for the fast
# recipe's two runs, a 2-15 min classifier, ~1 min of evaluation per model).
# Defaults: ../shared/data/fsdd/recordings, runs/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$root/tools/setup.sh")"
data="${1:-${WAVEGEN_FSDD:-$root/../shared/data/fsdd/recordings}}"
runs="${2:-$root/runs}"
if [ ! -d "$data" ]; then
  echo "fsdd_table: FSDD recordings not found at $data (pass the folder as the first argument)" >&2
  exit 2
fi
cd "$root"
wg="$venv/bin/wavegen"
common=(--classifier "$runs/clf_fsdd" --data "$data" --preset fsdd --no-progress)
mkdir -p "$runs/eval_fsdd"

[ -f "$runs/clf_fsdd/classifier.json" ] ||
  "$wg" eval train-classifier --data "$data" --preset fsdd --out "$runs/clf_fsdd" --no-progress

# name|experiment|table row|overrides (space-separated --config.KEY=VALUE, optional)
models=(
  "wavegan_fsdd_ps0|experiments/wavegan_fsdd.py:ps0|WaveGAN d=16 (no phase shuffle)"
  "wavegan_fsdd_ps2|experiments/wavegan_fsdd.py|WaveGAN d=16 + phase shuffle 2"
  "specgan_fsdd|experiments/specgan_fsdd.py|SpecGAN d=16"
  "wavegan_fsdd_cond|experiments/wavegan_fsdd.py:cond|WaveGAN d=16 + phase shuffle 2 (digit-conditional)"
  "samplernn_fsdd_cond|experiments/samplernn_fsdd.py:cond|SampleRNN (digit-conditional)"
  "fsdd_fast_cond|experiments/wavegan_fsdd_fast.py|Fast recipe WaveGAN d=16, 0.51 s (digit-conditional)"
  "fsdd_fast_selfcond_30k|experiments/wavegan_fsdd_fast.py:selfcond|Fast recipe WaveGAN d=16, 0.51 s (self-conditioned, no labels), 30000 steps|--config.train.num_steps=30000"
)
for entry in "${models[@]}"; do
  IFS='|' read -r name config _ overrides <<< "$entry"
  read -r -a extra <<< "${overrides:-}"
  [ -f "$runs/$name/done.json" ] || "$wg" train --config "$config" --workdir "$runs/$name" \
    --config.data.path="$data" "${extra[@]}" --no-progress
done

# Real rows: 1000 training clips (the generated rows' n: IS and |D|self depend on n) and the whole
# 300-clip test split.
[ -f "$runs/eval_fsdd/real_train.json" ] || "$wg" eval real --split train --num 1000 \
  "${common[@]}" --out "$runs/eval_fsdd/real_train.json"
[ -f "$runs/eval_fsdd/real_test.json" ] ||
  "$wg" eval real --split test "${common[@]}" --out "$runs/eval_fsdd/real_test.json"
rows=("$runs/eval_fsdd/real_train.json" "$runs/eval_fsdd/real_test.json")
for entry in "${models[@]}"; do
  IFS='|' read -r name _ row _ <<< "$entry"
  out="$runs/eval_fsdd/$name.json"
  if [ ! -f "$out" ] || [ "$runs/$name/done.json" -nt "$out" ]; then
    "$wg" eval run --source "$runs/$name" "${common[@]}" --num 1000 --name "$row" --out "$out"
  fi
  rows+=("$out")
done
"$venv/bin/python" tools/make_table.py "${rows[@]}" \
  --markdown "$runs/fsdd_table.md" --latex "$runs/fsdd_table.tex"
cat "$runs/fsdd_table.md"
