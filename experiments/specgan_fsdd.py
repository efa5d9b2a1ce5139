"""SpecGAN on FSDD spoken digits (8 kHz), the SpecGAN row of the FSDD table, sized for a 2-core CPU.

Same data, batch, loss and step count as ``experiments/wavegan_fsdd.py`` so the rows compare:
d=16, batch 32, WGAN-GP, 5 critic updates per G update, on 128x128 normalised log-magnitude
spectrograms (STFT 256/128 of 16384 samples), audio by 16 Griffin-Lim iterations.

    wavegen train --config experiments/specgan_fsdd.py --workdir runs/specgan_fsdd \
        --config.data.path=../shared/data/fsdd/recordings

Expected runtime: see docs/results.md for the measured run (under an hour on a 2-core CPU).
Variant: `:tiny` (seconds, for tests).
"""

from experiments.wavegan_fsdd import get_config as wavegan_fsdd_config
from wavegen.defaults import make_tiny_gan


def get_config(arg: str | None = None):
    cfg = wavegan_fsdd_config()
    cfg.model.name = "specgan"
    cfg.model.phase_shuffle = 0
    if arg == "tiny":
        make_tiny_gan(cfg)
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: tiny")
    return cfg
