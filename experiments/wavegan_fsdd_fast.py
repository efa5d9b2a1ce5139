"""A fast-converging WaveGAN recipe for FSDD spoken digits (8 kHz) on a 2-core CPU.

The quickstart's recipe (docs/results.md, "Quickstart recipes") moved to speech: 4096-sample
clips (0.51 s at 8 kHz: 76% of FSDD's recordings fit whole, and the rest keep their first
0.51 s, which the evaluation classifier still labels right 98.7% of the time), where the
paper-sized `wavegan_fsdd.py` pads to 2.05 s; d=16, the paper's transposed convs, a
log-spectrogram critic beside the waveform D ('wavegan+spec', 512-point FFT = 64 ms at 8 kHz),
the non-saturating loss with R1 (gamma = 1), one critic update per G update, Adam(4e-4, 0.5,
0.99), minibatch stddev and an EMA of G (0.99). The default is digit-conditional (label
embedding into G, projection D); `:selfcond` reads no labels and conditions on 20 clusters of
the clips themselves; `:uncond` is the plain unconditional model.

    wavegen train --config experiments/wavegan_fsdd_fast.py --workdir runs/fsdd_fast_cond \
        --config.data.path=../shared/data/fsdd/recordings \
        --config.train.monitor_classifier=runs/clf_fsdd

Expected runtime (20000 steps, ~15 steps/s): 23 min on an idle 2-core AMD EPYC (AVX-512 with
BF16), the classifier monitor included; 6000 steps take ~10 min. docs/results.md ("A recipe that
converges") has the curves and scores of each variant. The classifier monitor (optional) logs
predicted-class entropy and the accuracy on the digit asked for every `train.sample_every`
steps. Variants: `selfcond` (no labels: 20 self-found clusters), `uncond` (unconditional),
`tiny` (seconds, for tests).
"""

from wavegen.defaults import base_config, fast_gan_recipe, make_tiny_gan

VARIANTS = ("uncond", "selfcond", "tiny")


def get_config(arg: str | None = None):
    cfg = base_config()
    cfg.data.source = "fsdd"
    cfg.data.sample_rate = 8000
    cfg.data.length = 4096
    cfg.data.label = "pattern"
    cfg.data.pad = "end"
    cfg.data.crop = "start"
    cfg.data.normalize = "peak"
    fast_gan_recipe(cfg)
    cfg.model.num_classes = 10
    cfg.model.spec_critic_fft = 512  # 64 ms at 8 kHz
    cfg.train.num_steps = 20000
    cfg.train.log_every = 100
    cfg.train.sample_every = 1000
    cfg.train.checkpoint_every = 2000
    cfg.train.num_samples = 10
    cfg.train.monitor_num = 100
    if arg == "uncond":
        cfg.model.num_classes = 0
    elif arg == "selfcond":
        # Unconditional in what it is given and asked: no digit labels. G and D are conditioned
        # on 20 k-means clusters of the clips' log-mel statistics (wavegen.data.clusters), found
        # before training; sampling draws the cluster from the training shares (Liu et al. 2020).
        cfg.data.label = "none"
        cfg.data.clusters = 20
        cfg.model.num_classes = 20
    elif arg == "tiny":
        make_tiny_gan(cfg)
        cfg.train.d_steps = 1
        cfg.train.monitor_num = 16
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
    return cfg
