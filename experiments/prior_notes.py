"""A learned prior over the latent sequences of the notes VAE (RAVE's second stage).

Conditional on the instrument (the notes preset's metadata.csv column, 10 classes): a causal
dilated conv stack (width 128, dilations 1…16, receptive field 63 frames) predicts a diagonal
Gaussian over each latent frame given the earlier ones (wavegen.models.latent_prior). First train
the VAE, then the prior over its frozen encoder's posterior means:

    wavegen train --config experiments/vae_notes.py:cpu --workdir runs/vae \
        --config.data.path=../shared/data/notes
    wavegen train --config experiments/prior_notes.py --workdir runs/prior \
        --config.prior.vae_workdir=runs/vae --config.data.path=../shared/data/notes

Then ``wavegen generate --workdir runs/prior --num 10 --out prior_wavs`` (one clip per
instrument), ``--label 3`` for one instrument, or ``wavegen vae sample-prior --workdir runs/vae
--prior runs/prior --seconds 1 --out prior_wavs --temperature 0.8``.

Expected runtime: ~6-10 min on a 2-core CPU over the `:cpu` VAE (32 frames × 16 dims per
clip): encoding the ~700 training clips once is under a minute, and the prior trained at
~17 steps/s (batch 32, measured over a `:cpu`-shaped VAE on synthetic clips, beside other work),
so 5000 steps are ~5 min plus the samples and pitch monitor every 1000 steps. Over the full
VAE (8 frames × 128 dims) a step costs about the same.
`:tiny` (synthetic notes, seconds, no files) is for tests: pair it with a VAE trained by
``experiments/vae_notes.py:tiny``.
"""

from wavegen.defaults import base_config
from wavegen.train.prior import prior_config


def get_config(arg: str | None = None):
    cfg = prior_config(base_config())
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
    cfg.prior.grad_clip = 1.0
    cfg.train.batch_size = 32
    cfg.train.num_steps = 5000
    cfg.train.learning_rate = 1e-3
    cfg.train.b1 = 0.9
    cfg.train.b2 = 0.999
    cfg.train.log_every = 50
    cfg.train.sample_every = 1000
    cfg.train.checkpoint_every = 1000
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
