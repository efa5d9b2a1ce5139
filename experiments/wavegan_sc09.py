"""WaveGAN on SC09 at paper scale (Donahue et al. 2019, Table 1 "WaveGAN"): d=64, 16384 samples
at 16 kHz, WGAN-GP, phase shuffle 2, batch 64, Adam(1e-4, 0.5, 0.9), 5 critic updates per G update.

SC09 (Speech Commands zero..nine) in its usual layout, read in place:

    wavegen train --config experiments/wavegan_sc09.py --workdir runs/wavegan_sc09 \
        --config.data.path=/data/speech_commands_v0.02

Expected runtime: the paper trained 200k iterations in ~4 days on one P100; see
docs/benchmarks.md for our per-iteration times (CPU, GPU). Not a CPU job. `:tiny` is a test-sized
variant (needs the same data layout; tests use it on files they write).
Variant `:ps0` turns phase shuffle off (the paper's ablation).
"""

from wavegen.defaults import base_config, make_tiny_gan


def get_config(arg: str | None = None):
    cfg = base_config()
    cfg.data.source = "sc09"
    cfg.data.sample_rate = 16000
    cfg.data.length = 16384
    cfg.data.label = "parent"
    cfg.model.name = "wavegan"
    cfg.model.dim = 64
    cfg.model.phase_shuffle = 2
    cfg.train.batch_size = 64
    cfg.train.num_steps = 200_000
    if arg == "ps0":
        cfg.model.phase_shuffle = 0
    elif arg == "tiny":
        make_tiny_gan(cfg)
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: tiny, ps0")
    return cfg
