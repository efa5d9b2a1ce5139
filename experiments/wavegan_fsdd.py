"""WaveGAN on FSDD spoken digits (8 kHz), sized for a 2-core CPU in under an hour.

FSDD is the SC09 task (spoken digits zero..nine) recorded at 8 kHz, read in place; 16384 samples
at 8 kHz is 2.05 s, longer than every clip, so clips are zero-padded at the end. d=16 (1/16 of the
paper's FLOPs), batch 32, WGAN-GP, phase shuffle 2, official train split (indices 5-49).

    wavegen train --config experiments/wavegan_fsdd.py --workdir runs/wavegan_fsdd \
        --config.data.path=../shared/data/fsdd/recordings

Expected runtime: ~25 min on an idle 2-core CPU (500 iterations at 2.6 s, measured with
tools/bench.py); docs/results.md gives the wall time of the measured run on a shared machine.
Variants: `:ps0` (no phase shuffle, the paper's ablation), `:cond` (class-conditional on the
digit: label embedding concatenated to z, projection discriminator; same runtime), `:tiny`
(seconds, for tests).
"""

from wavegen.defaults import base_config, make_tiny_gan


def get_config(arg: str | None = None):
    cfg = base_config()
    cfg.data.source = "fsdd"
    cfg.data.sample_rate = 8000
    cfg.data.length = 16384
    cfg.data.label = "pattern"
    cfg.data.pad = "end"
    cfg.data.normalize = "peak"
    cfg.model.name = "wavegan"
    cfg.model.dim = 16
    cfg.model.phase_shuffle = 2
    cfg.train.batch_size = 32
    cfg.train.num_steps = 500
    cfg.train.log_every = 20
    cfg.train.sample_every = 100
    cfg.train.checkpoint_every = 100
    if arg == "ps0":
        cfg.model.phase_shuffle = 0
    elif arg == "cond":
        cfg.model.num_classes = 10
    elif arg == "tiny":
        make_tiny_gan(cfg)
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: ps0, cond, tiny")
    return cfg
