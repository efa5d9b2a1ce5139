"""SpecGAN on SC09 at paper scale (Donahue et al. 2019, Table 1 "SpecGAN"): DCGAN-style 5x5
stride-2 G/D with d=64 on 128x128 normalised log-magnitude spectrograms (STFT 256/128 at 16 kHz),
WGAN-GP, batch 64; audio via 16 plain Griffin-Lim iterations
(the reference's; `--config.model.griffin_lim=momentum` for fast Griffin-Lim).

    wavegen train --config experiments/specgan_sc09.py --workdir runs/specgan_sc09 \
        --config.data.path=/data/speech_commands_v0.02

Expected runtime: paper scale is a GPU job (~200k iterations); `:tiny` is a test-sized variant.
"""

from wavegen.defaults import base_config, make_tiny_gan


def get_config(arg: str | None = None):
    cfg = base_config()
    cfg.data.source = "sc09"
    cfg.data.sample_rate = 16000
    cfg.data.length = 16384
    cfg.data.label = "parent"
    cfg.model.name = "specgan"
    cfg.model.dim = 64
    cfg.model.phase_shuffle = 0
    cfg.model.griffin_lim = "plain"  # the reference's invert_spectra_griffin_lim, 16 iterations
    cfg.model.griffin_lim_iters = 16
    cfg.train.batch_size = 64
    cfg.train.num_steps = 200_000
    if arg == "tiny":
        make_tiny_gan(cfg)
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: tiny")
    return cfg
