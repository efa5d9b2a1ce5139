"""The shared config schema: every experiment starts from :func:`base_config` and edits it.

One schema for every model family (WaveGAN, SpecGAN, VAE, RNN) so the data pipeline, trainer
scaffolding, checkpointing and logging read the same keys. Sections:

- ``data``: where audio comes from and how it is decoded, sliced and batched (``wavegen.data``).
- ``model``: architecture (``wavegen.models``); ``model.name`` picks the family.
- ``loss``: objective (``wavegen.losses``).
- ``train``: optimisation, step loop, checkpoints, summaries (``wavegen.train``).
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
            normalize="none",  # 'none', 'peak' or 'rms'
            skip_bad=False,  # True: skip unreadable/bad files and log them; False: raise
            cache_dir="",  # empty → ~/.cache/wavegen (or WAVEGEN_CACHE)
            # Built-in synthetic set: number of clips and the seed that makes them.
            synthetic_size=512,
            synthetic_seed=0,
            prefetch=2,  # batches prepared ahead on a background thread
            seed=0,  # shuffling seed (order depends only on seed and epoch)
        )
    )


def base_config() -> ml_collections.ConfigDict:
    """The full default config; experiments override what they need."""
    cfg = ml_collections.ConfigDict()
    cfg.seed = 0
    cfg.data = data_config()
    cfg.model = ml_collections.ConfigDict(
        dict(
            name="wavegan",  # 'wavegan' or 'specgan'
            dim=64,  # model size d
            latent_dim=100,
            upsample="zeros",  # 'zeros' (transposed conv) or 'nearest'
            post_proc_filt_len=0,  # 512 in the paper's optional post-processing filter; 0 = off
            phase_shuffle=2,
            kernel_size=25,
            # 'auto' picks the fast matmul formulation; 'lax' forces lax.conv (for comparison).
            conv_impl="auto",
            num_classes=0,  # >0: class-conditional
        )
    )
    cfg.loss = ml_collections.ConfigDict(
        dict(
            name="wgan-gp",  # 'wgan-gp', 'hinge', 'dcgan', 'lsgan'
            gp_weight=10.0,
        )
    )
    cfg.train = ml_collections.ConfigDict(
        dict(
            batch_size=64,  # global batch over all devices and hosts
            num_steps=200_000,  # generator updates
            d_steps=5,  # critic updates per generator update
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
        )
    )
    return cfg


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
