#!/usr/bin/env bash
# The main job from a fresh machine: set up .venv, train the quickstart WaveGAN (pitch-conditional,
# experiments/quickstart.py) on the built-in synthetic notes, write sample WAVs, and say where to
# look. Extra args go to `wavegen train`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$root/tools/setup.sh")"
cd "$root"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$HOME/.cache/wavegen-numba}"
workdir="${WORKDIR:-runs/quickstart}"
"$venv/bin/wavegen" train --config experiments/quickstart.py --workdir "$workdir" "$@"
# The model is conditioned on the note: 21 clips cycle through the set's 21 notes.
"$venv/bin/wavegen" generate --workdir "$workdir" --num 21 --out "$workdir/samples"
cat <<MSG

Listen:       $workdir/samples/*.wav (21 clips, one per note A3..G5, 16 kHz)
TensorBoard:  $venv/bin/tensorboard --logdir $workdir   then open http://localhost:6006
              (AUDIO tab: generated clips from fixed latents and real clips; SCALARS: losses
              and pitch/* = clean-note fraction and distinct pitches of 64 generated clips)
Pretrained:   $venv/bin/wavegen generate --workdir pretrained/quickstart --num 21 --out DIR
MSG
