"""WaveGAN on the shared notes set (10 GM instruments, NSynth-shaped), 16 kHz, 16384 samples.

Paper scale (d=64, batch 64, WGAN-GP, phase shuffle 2) is a GPU job:

    wavegen train --config experiments/wavegan_notes.py --workdir runs/wavegan_notes \
        --config.data.path=../shared/data/notes

Expected runtime: paper scale took ~4 days for 200k iterations on a P100 (the paper), far too slow
for a CPU (see docs/benchmarks.md). `:cpu` (d=16, batch 32, 1000 iterations) fits in ~60 min on a
2-core CPU; `:tiny` is for tests.
"""

from wavegen.defaults import base_config, make_tiny_gan


def get_config(arg: str | None = None):
    cfg = base_config()
    cfg.data.source = "notes"
    cfg.data.sample_rate = 16000
    cfg.data.length = 16384
    cfg.data.label = "metadata"
    cfg.data.label_column = "instrument"
    cfg.model.name = "wavegan"
    cfg.model.dim = 64
    cfg.train.batch_size = 64
    cfg.train.num_steps = 200_000
    if arg == "cpu":
        cfg.model.dim = 16
        cfg.train.batch_size = 32
        cfg.train.num_steps = 1000
        cfg.train.log_every = 20
        cfg.train.sample_every = 200
        cfg.train.checkpoint_every = 200
    elif arg == "tiny":
        make_tiny_gan(cfg)
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: cpu, tiny")
    return cfg
