"""Quickstart: a small WaveGAN on the built-in synthetic notes (no files needed).

The README's first command. Trains a d=16 WaveGAN (WGAN-GP, phase shuffle 2) on 16384-sample
clips of procedurally generated pitched notes at 16 kHz, then writes WAVs and TensorBoard events.

    wavegen train --config experiments/quickstart.py --workdir runs/quickstart

Expected runtime: ~5 min on a 2-core CPU (300 steps); `:tiny` is a seconds-long smoke test.
"""

from wavegen.defaults import base_config


def get_config(arg: str | None = None):
    cfg = base_config()
    cfg.data.source = "synthetic"
    cfg.data.sample_rate = 16000
    cfg.data.length = 16384
    cfg.data.synthetic_size = 512
    cfg.model.name = "wavegan"
    cfg.model.dim = 16
    cfg.train.batch_size = 16
    cfg.train.num_steps = 300
    cfg.train.log_every = 10
    cfg.train.sample_every = 100
    cfg.train.checkpoint_every = 100
    cfg.train.num_samples = 4
    if arg == "tiny":
        cfg.data.synthetic_size = 64
        cfg.model.dim = 4
        cfg.train.batch_size = 8
        cfg.train.d_steps = 2
        cfg.train.num_steps = 4
        cfg.train.log_every = 2
        cfg.train.sample_every = 2
        cfg.train.checkpoint_every = 2
        cfg.train.num_samples = 2
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: tiny")
    return cfg


def get_sweep(arg: str | None = None):
    """Phase shuffle × loss (4 runs): `wavegen sweep experiments/quickstart.py:tiny --root R`."""
    from wavegen.train.sweep import product

    return product(("model.phase_shuffle", [0, 2]), ("loss.name", ["wgan-gp", "hinge"]))
