"""Quickstart: a small pitch-conditional WaveGAN on the built-in synthetic notes (no files needed).

The README's first command. Trains a d=16 WaveGAN on 4096-sample (0.26 s) clips of the built-in
procedural notes at 16 kHz (21 pitches: C..B naturals, octaves 3-5), conditioned on the note as
GANSynth conditions on pitch, then writes WAVs and TensorBoard events (with the pitch monitor:
clean-note fraction, distinct pitches, pitch-histogram JSD).

    wavegen train --config experiments/quickstart.py --workdir runs/quickstart

Expected runtime: ~4 min of training on a 2-core CPU (docs/results.md gives the steps/s and
what each ingredient bought); `:tiny` is a seconds-long smoke test.

The recipe, found by the sweep in docs/results.md ("Quickstart recipes"):
- conditioning on the note (21 labels): unconditional, no recipe tried made clean notes of the
  set in 1500 steps;
- a log-spectrogram critic beside the waveform D ('wavegan+spec'), which sees harmonics;
- the non-saturating loss with R1 (γ = 1), one critic update per G update, Adam(4e-4, 0.5, 0.99);
- ProGAN's minibatch stddev in both critics, an EMA of G (0.99) for every sample;
- the paper's transposed convs: with conditioning they beat nearest-neighbour upsampling (100% vs
  84% clean notes at 1500 steps), though early on they produce their 62.5-250 Hz comb.

Variants: `tiny` is the former quickstart at test size (what the test suite trains);
`paper` is the former quickstart (16384 samples, the paper's WGAN-GP with 5 critic
updates, transposed convs, unconditional, 300 steps: one 62.5 Hz buzz in every clip);
`uncond` is this recipe without the labels.
"""

from wavegen.defaults import base_config, fast_gan_recipe

VARIANTS = ("tiny", "paper", "uncond")


def get_config(arg: str | None = None):
    cfg = base_config()
    cfg.data.source = "synthetic"
    cfg.data.sample_rate = 16000
    cfg.data.length = 4096
    cfg.data.synthetic_size = 512
    cfg.data.synthetic_labels = "note"
    fast_gan_recipe(cfg)
    cfg.model.num_classes = 21
    cfg.train.num_steps = 1500
    cfg.train.log_every = 50
    cfg.train.sample_every = 250
    cfg.train.checkpoint_every = 500
    cfg.train.num_samples = 8
    if arg in ("paper", "tiny"):
        cfg.data.length = 16384
        cfg.data.synthetic_labels = "pitch_class"
        cfg.model.num_classes = 0
        cfg.model.upsample = "zeros"
        cfg.model.minibatch_std = 0
        cfg.model.critic = "wavegan"
        cfg.loss.name = "wgan-gp"
        cfg.loss.r1_weight = 0.0
        cfg.train.d_steps = 5
        cfg.train.learning_rate = 1e-4
        cfg.train.b2 = 0.9
        cfg.train.ema_decay = 0.0
        cfg.train.num_steps = 300
        cfg.train.log_every = 10
        cfg.train.sample_every = 100
        cfg.train.checkpoint_every = 100
        cfg.train.num_samples = 4
    if arg == "tiny":  # the former quickstart at test size: what the test suite trains
        cfg.data.synthetic_size = 64
        cfg.model.dim = 4
        cfg.train.batch_size = 8
        cfg.train.d_steps = 2
        cfg.train.num_steps = 4
        cfg.train.log_every = 2
        cfg.train.sample_every = 2
        cfg.train.checkpoint_every = 2
        cfg.train.num_samples = 2
        cfg.train.monitor_num = 16
    if arg == "uncond":
        cfg.data.synthetic_labels = "pitch_class"
        cfg.model.num_classes = 0
    elif arg not in (None, "paper", "tiny"):
        raise ValueError(f"unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
    return cfg


def get_sweep(arg: str | None = None):
    """The recipe's ingredients one removed at a time, then three stabilisers added (9 runs).

    Each run is the recipe's 1500 steps. `wavegen sweep --config experiments/quickstart.py
    --root R` (~3 min each on 2 cores, 26 min for the 9, one at a time; docs/results.md has
    the table).
    `:tiny` is the sweep machinery's test: phase shuffle × loss on the tiny former quickstart,
    4 runs of seconds each.
    """
    if arg == "tiny":
        from wavegen.train.sweep import product

        return product(("model.phase_shuffle", [0, 2]), ("loss.name", ["wgan-gp", "hinge"]))
    return [
        {},  # the recipe
        {"model.num_classes": 0, "data.synthetic_labels": "pitch_class"},  # unconditional
        {"model.critic": "wavegan"},  # no spectrogram critic
        {"model.upsample": "nearest"},  # nearest-neighbour upsampling + conv
        {"model.minibatch_std": 0},
        {"train.ema_decay": 0.0},
        # added: SN-GAN's spectral normalisation of D with its hinge loss, in place of R1
        {"model.spectral_norm": True, "loss.name": "hinge", "loss.r1_weight": 0.0},
        # added: DiffAugment (shift up to 256 samples = 16 ms, gain up to 6 dB, p = 0.5)
        {"train.augment_p": 0.5, "train.augment_shift": 256, "train.augment_gain_db": 6.0},
        # added: lazy R1 (StyleGAN2): the penalty every 16th critic update, weighted x16
        {"loss.reg_every": 16},
    ]
