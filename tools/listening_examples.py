#!/usr/bin/env python3
"""Listening examples of a generator: FLACs of generated and real clips and a spectrogram grid.

    .venv/bin/python tools/listening_examples.py pretrained/quickstart --name quickstart \
        --num 8 --labels 0,3,6,9,12,15,18,20

writes docs/audio/NAME/{generated,real}_NN.flac (16-bit FLAC, a few kB each) and
docs/img/NAME_spectrograms.png: a row of real training clips above a row of generated ones,
drawn by the same function as TensorBoard's (mel axis), so the two rows compare directly. For a
conditional model ``--labels`` picks the label of each generated clip and real clips with the
same labels are shown above them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workdir", help="run directory or published-generator folder")
    p.add_argument("--name", required=True, help="folder name under docs/audio/")
    p.add_argument("--num", type=int, default=8, help="clips per row (default 8)")
    p.add_argument("--labels", default="", help="comma-separated labels (conditional models)")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    args = p.parse_args(argv)

    import jax.numpy as jnp
    import soundfile as sf

    from wavegen.data import build_dataset
    from wavegen.models.latents import latents
    from wavegen.train.runs import load_run
    from wavegen.train.summaries import encode_png, spectrogram_image

    task, state, _ = load_run(args.workdir)
    cfg = task.config
    sr = int(cfg.data.sample_rate)
    labels = [int(v) for v in args.labels.split(",")] if args.labels else None
    if labels is not None and len(labels) != args.num:
        raise SystemExit(f"--labels has {len(labels)} entries for --num {args.num}")
    z = latents(args.num, cfg.model.latent_dim, args.seed)
    lab = None if labels is None else jnp.asarray(labels, jnp.int32)
    out = task.sample_batches_fn(
        task.sampling_params(state), z[None], None if lab is None else lab[None]
    )
    fake = task.to_audio(np.asarray(out)[0])
    data = build_dataset(cfg.data, split="train", progress=False)
    if labels is None:
        real = data.waveforms[: args.num]
    else:  # the first training clip of each requested label
        real = np.stack([data.waveforms[np.flatnonzero(data.labels == c)[0]] for c in labels])

    audio_dir = REPO / "docs" / "audio" / args.name
    audio_dir.mkdir(parents=True, exist_ok=True)
    for kind, clips in (("real", real), ("generated", fake)):
        for i, clip in enumerate(clips):
            sf.write(audio_dir / f"{kind}_{i:02d}.flac", np.clip(clip, -1, 1), sr, subtype="PCM_16")
    rows = [
        np.concatenate([spectrogram_image(c, sr) for c in clips], axis=1) for clips in (real, fake)
    ]
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    img_path = REPO / "docs" / "img" / f"{args.name}_spectrograms.png"
    img_path.write_bytes(encode_png(np.concatenate([rows[0], gap, rows[1]], axis=0)))
    names = list(data.label_names)
    what = [names[c] for c in labels] if labels is not None and names else None
    print(
        f"wrote {2 * args.num} FLACs to {audio_dir} and {img_path}"
        + (f"; labels {what}" if what else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
