"""Config schemas: the sections every family shares, and the GAN families' full schema.

Every family's config has the same ``seed``, ``data`` (:func:`data_config`: where audio comes
from and how it is decoded, sliced and batched) and shared ``train`` keys (:func:`train_config`:
optimiser, step loop, checkpoints, summaries, monitors), so the data pipeline, the loop,
checkpointing and logging read the same keys for all. Each family declares the rest — its
``model`` section (``model.name`` picks the family) and its own ``loss`` / ``train`` / other
keys — in one place, through :func:`family_config`:

- WaveGAN and SpecGAN: :func:`base_config` here (their models live in ``wavegen.models``);
- the waveform VAE: ``wavegen.train.vae.vae_config``;
- SampleRNN: ``wavegen.train.rnn.rnn_config``;
- the latent prior: ``wavegen.train.prior.prior_config``.

A family's config holds no other family's keys, so a key it does not read is an unknown-key
error when set (``wavegen.config.apply_override``), not silently ignored.
"""

from __future__ import annotations

import ml_collections


def data_config() -> ml_collections.ConfigDict:
    """Defaults of the ``data`` section (see ``wavegen.data.build_dataset``)."""
    return ml_collections.ConfigDict(
        dict(
            # 'synthetic' (built in, no files), 'folder', or a preset of 'folder':
            # 'fsdd', 'sc09', 'nsynth', 'notes', 'drums'.
            source="synthetic",
            # Folder for file sources. Empty → the WAVEGEN_DATA environment variable.
            path="",
            sample_rate=16000,
            length=16384,  # samples per example (the model's output length)
            # Labels: 'none', 'pattern' (regex with a named group 'label' on the file name),
            # 'parent' (parent folder name), 'metadata' (metadata.csv column `label_column`).
            label="none",
            label_pattern="",
            label_column="",
            split="train",  # 'train', 'test' or 'all'
            pad="end",  # short clips: 'end' or 'center' zero padding
            crop="random",  # long clips: 'random', 'start' or 'center' window
            slices_per_file=1,
            # >0: replace the labels by this many k-means clusters of the clips' log-mel
            # statistics (self-conditioning; wavegen.data.clusters): no human labels are read.
            clusters=0,
            normalize="none",  # 'none', 'peak' or 'rms'
            skip_bad=False,  # True: skip unreadable/bad files and log them; False: raise
            cache_dir="",  # empty → ~/.cache/wavegen (or WAVEGEN_CACHE)
            # Built-in synthetic set: number of clips and the seed that makes them.
            synthetic_size=512,
            synthetic_seed=0,
            synthetic_labels="pitch_class",  # 'pitch_class' (7 labels) or 'note' (21: 'A3'..'G5')
            prefetch=2,  # batches prepared ahead on a background thread
            # Seed of random slice offsets and of the k-means clusters; the batch order follows
            # the top-level `seed` (and the epoch) only.
            seed=0,
        )
    )


def train_config() -> ml_collections.ConfigDict:
    """Defaults of the ``train`` keys every family reads (the loop, optimiser, checkpoints,
    summaries and monitors: ``wavegen.train.loop``, ``wavegen.train.optim``)."""
    return ml_collections.ConfigDict(
        dict(
            batch_size=64,  # global batch over all devices and hosts
            num_steps=200_000,  # training steps (a GAN's: generator updates)
            optimizer="adam",  # 'adam' or 'sgd' (sgd: for exactness tests)
            learning_rate=1e-4,
            b1=0.5,
            b2=0.9,
            log_every=50,
            sample_every=1000,
            num_samples=8,  # fixed-latent audio summaries
            checkpoint_every=1000,
            keep_checkpoints=3,
            nan_policy="stop",  # 'stop' or 'skip'
            distributed=False,  # call jax.distributed.initialize() first
            # Fine-tuning: WORKDIR[:STEP] of another run whose parameters a new run starts from
            # (names and shapes must match; wavegen.train.init_from); optimiser states stay
            # fresh unless init_optimizer. Ignored once the run has a checkpoint of its own.
            init_from="",
            init_optimizer=False,
            # [a, b]: jax.profiler trace of steps a..b (from 1) into WORKDIR/plugins/profile.
            profile_steps=(),
            # Diversity/quality monitors run on `monitor_num` clips from fixed latents every
            # `sample_every` steps (wavegen.eval.monitors): 'auto' (pitch metrics for pitched
            # data, classifier metrics when `monitor_classifier` names a classifier run,
            # reconstruction f0/loudness fidelity for VAE runs), 'none', or a comma list of
            # 'pitch', 'classifier', 'reconstruction'.
            monitor="auto",
            monitor_classifier="",
            monitor_num=64,
        )
    )


def family_config(
    model: dict, *, loss: dict | None = None, train: dict | None = None, **sections: dict
) -> ml_collections.ConfigDict:
    """A family's full schema: the shared sections plus the family's own keys.

    Args:
      model: the family's ``model`` section (with its ``name``); nested dicts become
        sub-sections (e.g. the VAE's ``model.discriminator``).
      loss: the family's ``loss`` section, or None when it has no loss keys.
      train: ``train`` keys of this family only, added to :func:`train_config`'s.
      **sections: further top-level sections (e.g. the prior's ``prior``).

    Raises:
      ValueError: ``train`` repeats a shared key (a family may not redefine one).
    """
    cfg = ml_collections.ConfigDict()
    cfg.seed = 0
    cfg.data = data_config()
    cfg.model = ml_collections.ConfigDict(model)
    if loss is not None:
        cfg.loss = ml_collections.ConfigDict(loss)
    cfg.train = train_config()
    clash = sorted(set(train or {}) & set(cfg.train))
    if clash:
        raise ValueError(f"family train keys {clash} repeat shared train keys")
    cfg.train.update(train or {})
    for name, section in sections.items():
        cfg[name] = ml_collections.ConfigDict(section)
    return cfg


# The GAN families' own keys (WaveGAN, SpecGAN: wavegen.models, wavegen.train.gan).
GAN_MODEL = dict(
    name="wavegan",  # 'wavegan' or 'specgan'
    dim=64,  # model size d
    latent_dim=100,
    upsample="zeros",  # 'zeros' (transposed conv) or 'nearest'
    post_proc_filt_len=0,  # 512 in the paper's optional post-processing filter; 0 = off
    phase_shuffle=2,
    kernel_size=25,
    # 'auto' picks the fast matmul formulation; 'lax' forces lax.conv (for comparison).
    conv_impl="auto",
    # 'float32' or 'bfloat16': dtype of the convs / matmuls / activations; params,
    # optimiser state, losses, penalties and FFTs stay float32 (wavegen.models.precision).
    compute_dtype="float32",
    num_classes=0,  # >0: class-conditional
    label_embed_dim=32,  # width of G's label embedding (conditional models)
    # >0: ProGAN minibatch-stddev feature in D over groups of this many examples (WaveGAN)
    minibatch_std=0,
    # WaveGAN's critic: '+'-joined 'wavegan' (the paper's D), 'msd' (MelGAN), 'mpd'
    # (HiFi-GAN), 'mrstft' (EnCodec), 'spec' (log-spectrogram), e.g. 'wavegan+spec'
    # (wavegen.models.critics);
    # the library ones' width is `critic_channels` (16 = the papers').
    critic="wavegan",
    critic_channels=4,
    # FFT size of the 'spec' critic (hop n_fft/4): 1024 at 16 kHz = 15.6 Hz bins.
    spec_critic_fft=1024,
    # Spectral normalisation of every D weight (SN-GAN; WaveGAN; one power iteration per
    # critic update, vectors in state["d_sn"]; wavegen.models.spectral_norm).
    spectral_norm=False,
    # SpecGAN's audio: 'plain' Griffin-Lim as the reference code, or 'momentum' (fast GL).
    griffin_lim="plain",
    griffin_lim_iters=16,
)
GAN_LOSS = dict(
    name="wgan-gp",  # 'wgan-gp', 'hinge', 'dcgan', 'lsgan'
    gp_weight=10.0,
    # R1 / R2 gradient penalties (γ of Mescheder et al. 2018: the penalty is γ/2·E||∇D||²
    # on real / fake inputs), usually with the non-saturating loss ('dcgan'); 0 = off.
    r1_weight=0.0,
    r2_weight=0.0,
    # Lazy regularisation (StyleGAN2): R1/R2 on every `reg_every`-th critic update,
    # weighted ×reg_every so the expected penalty is unchanged.
    reg_every=1,
    # Weight of mean-feature matching in G's loss (Salimans et al. 2016: L1 between the
    # batch means of D's features on real and fake clips; WaveGAN); 0 = off.
    feature_matching=0.0,
)
GAN_TRAIN = dict(
    d_steps=5,  # critic updates per generator update
    # TTUR (Heusel et al. 2017): separate G / D learning rates; 0 = train.learning_rate.
    g_learning_rate=0.0,
    d_learning_rate=0.0,
    # Exponential moving average of G's weights (ProGAN / StyleGAN / BigGAN); 0 = off.
    # Sampling, summaries, eval and `wavegen generate` then use the averaged weights.
    ema_decay=0.0,
    # Differentiable augmentation of every D input (DiffAugment / ADA): each transform is
    # applied with probability `augment_p` per example; 0 = off (wavegen.train.augment).
    augment_p=0.0,
    augment_shift=0,  # largest random time shift, samples (zero-filled)
    augment_gain_db=0.0,  # largest random gain either way, dB
)


def base_config() -> ml_collections.ConfigDict:
    """The GAN families' full schema (WaveGAN by default; ``model.name='specgan'``).

    The GAN experiments start from it and override what they need; the other families'
    schemas are listed in this module's docstring.
    """
    return family_config(GAN_MODEL, loss=GAN_LOSS, train=GAN_TRAIN)


def make_tiny_gan(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The `:tiny` variant every GAN experiment shares: d=4, batch 8, 2 critic updates, 2 steps."""
    cfg.model.dim = 4
    cfg.train.batch_size = 8
    cfg.train.d_steps = 2
    cfg.train.num_steps = 2
    cfg.train.log_every = 1
    cfg.train.sample_every = 2
    cfg.train.checkpoint_every = 2
    cfg.train.num_samples = 2
    return cfg


def fast_gan_recipe(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The WaveGAN recipe that converges in minutes on 2 CPU cores (docs/results.md, found by
    the quickstart's sweep); the data, length, labels and step counts stay the experiment's.

    d = 16 with the paper's transposed convs; a log-spectrogram critic beside the waveform D
    ('wavegan+spec', which sees harmonics); the non-saturating loss with R1 (γ = 1); one critic
    update per G update; Adam(4e-4, 0.5, 0.99); ProGAN's minibatch stddev (groups of 4) in both
    critics; an EMA of G (0.99) for every sample; batch 16.
    """
    cfg.model.name = "wavegan"
    cfg.model.dim = 16
    cfg.model.upsample = "zeros"
    cfg.model.minibatch_std = 4
    cfg.model.critic = "wavegan+spec"
    cfg.loss.name = "dcgan"
    cfg.loss.r1_weight = 1.0
    cfg.train.batch_size = 16
    cfg.train.d_steps = 1
    cfg.train.learning_rate = 4e-4
    cfg.train.b2 = 0.99
    cfg.train.ema_decay = 0.99
    return cfg
