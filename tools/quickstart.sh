#!/usr/bin/env bash
# The main job from a fresh machine: set up .venv, train the quickstart WaveGAN on the built-in
# synthetic data, write sample WAVs, and say where to look. Extra args go to `wavegen train`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$root/tools/setup.sh")"
cd "$root"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$HOME/.cache/wavegen-numba}"
workdir="${WORKDIR:-runs/quickstart}"
"$venv/bin/wavegen" train --config experiments/quickstart.py --workdir "$workdir" "$@"
"$venv/bin/wavegen" generate --workdir "$workdir" --num 8 --out "$workdir/samples"
cat <<MSG

Listen:       $workdir/samples/*.wav (8 clips, 16 kHz)
TensorBoard:  $venv/bin/tensorboard --logdir $workdir   then open http://localhost:6006
              (AUDIO tab: generated clips from fixed latents and real clips; SCALARS: losses)
MSG
