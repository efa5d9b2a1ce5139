"""A learned prior over the latent sequences of the notes VAE (RAVE's second stage).

Conditional on the instrument (the notes preset's metadata.csv column, 10 classes): a causal
dilated conv stack (width 128, dilations 1…16, receptive field 63 frames) predicts a diagonal
Gaussian over each latent frame given the earlier ones (wavegen.models.latent_prior). First train
the VAE, then the prior over its frozen encoder's posterior means:

    wavegen train --config experiments/vae_notes.py:harmonic --workdir runs/vae \
        --config.data.path=../shared/data/notes
    wavegen train --config experiments/prior_notes.py --workdir runs/prior \
        --config.prior.vae_workdir=runs/vae --config.data.path=../shared/data/notes

Then ``wavegen generate --workdir runs/prior --num 10 --out prior_wavs`` (one clip per
instrument), ``--label 3`` for one instrument, or ``wavegen vae sample-prior --workdir runs/vae
--prior runs/prior --seconds 1 --out prior_wavs --temperature 0.8``.

Expected runtime: ~5 min on a 2-core CPU over the `:harmonic` VAE (32 frames × 16 dims per
clip): measured 4 min 50 s alone for the 20000 steps (~75 steps/s at batch 32), including
encoding the 745 training clips once and the pitch monitor every 5000 steps.
`:tiny` (synthetic notes, seconds, no files) is for tests: pair it with a VAE trained by
``experiments/vae_notes.py:tiny``.
"""

from wavegen.train.prior import prior_config


def get_config(arg: str | None = None):
    cfg = prior_config()
    # The VAE's data: the prior's clips must match the VAE's rate; labels are the prior's own.
    cfg.data.source = "notes"
    cfg.data.sample_rate = 16000
    cfg.data.length = 16384
    cfg.data.label = "metadata"
    cfg.data.label_column = "instrument"
    cfg.model.channels = 128
    cfg.model.kernel_size = 3
    cfg.model.dilations = (1, 2, 4, 8, 16)
    cfg.model.num_classes = 10
    # Frames as changes from the previous one: the harmonic VAE's pitch channel holds still
    # within a note (docs/vae.md: without it samples drift ~100 cents within a clip).
    cfg.model.residual = True
    cfg.prior.grad_clip = 1.0
    cfg.train.batch_size = 32
    cfg.train.num_steps = 20000  # docs/vae.md: 58% clean-note samples at 5000, 97% at 20000
    cfg.train.learning_rate = 1e-3
    cfg.train.b1 = 0.9
    cfg.train.b2 = 0.999
    cfg.train.log_every = 50
    cfg.train.sample_every = 5000
    cfg.train.checkpoint_every = 5000
    cfg.train.num_samples = 10
    if arg == "tiny":
        # Matches experiments/vae_notes.py:tiny's data (2048 samples → 128 latent frames).
        cfg.data.source = "synthetic"
        cfg.data.synthetic_size = 64
        cfg.data.length = 2048
        cfg.data.label = "none"
        cfg.data.label_column = ""
        cfg.model.channels = 8
        cfg.model.dilations = (1, 2)
        cfg.model.num_classes = 0
        cfg.train.batch_size = 8
        cfg.train.num_steps = 2
        cfg.train.log_every = 1
        cfg.train.sample_every = 2
        cfg.train.checkpoint_every = 2
        cfg.train.num_samples = 2
        cfg.train.monitor = "none"
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: tiny")
    return cfg
