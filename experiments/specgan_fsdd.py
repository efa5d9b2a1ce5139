"""SpecGAN on FSDD spoken digits (8 kHz), the SpecGAN row of the FSDD table, sized for a 2-core CPU.

Same data, batch, loss and step count as ``experiments/wavegan_fsdd.py`` so the rows compare:
d=16, batch 32, WGAN-GP, 5 critic updates per G update, on 128x128 normalised log-magnitude
spectrograms (STFT 256/128 of 16384 samples), audio by 16 plain Griffin-Lim iterations (as the
reference).

    wavegen train --config experiments/specgan_fsdd.py --workdir runs/specgan_fsdd \
        --config.data.path=../shared/data/fsdd/recordings

Expected runtime: see docs/results.md for the measured run (under an hour on a 2-core CPU).
Variant: `:tiny` (seconds, for tests).
"""

from pathlib import Path

from wavegen.config import load_config
from wavegen.defaults import make_tiny_gan


def get_config(arg: str | None = None):
    # The WaveGAN FSDD settings (data, batch, loss, steps), so the two table rows compare.
    cfg = load_config(
        str(Path(__file__).with_name("wavegan_fsdd.py"))
    ).copy_and_resolve_references()
    cfg.model.name = "specgan"
    cfg.model.phase_shuffle = 0
    cfg.model.griffin_lim = "plain"  # the reference's invert_spectra_griffin_lim, 16 iterations
    cfg.model.griffin_lim_iters = 16
    if arg == "tiny":
        make_tiny_gan(cfg)
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: tiny")
    return cfg
