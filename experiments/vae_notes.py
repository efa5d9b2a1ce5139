"""RAVE-like waveform VAE on the shared notes set (10 GM instruments, 16 kHz, 16384 samples).

Full scale (RAVE v1 sizes: 16-band PQMF, ratios 4·4·4·2 → 2048× compression, 8 latent frames
per clip of 128 channels, capacity 64, 1M steps in the paper; adversarial phase after 500k) is a
GPU job:

    wavegen train --config experiments/vae_notes.py --workdir runs/vae_notes \
        --config.data.path=../shared/data/notes

Then use it with ``wavegen vae reconstruct / encode / decode / interpolate / sample-prior /
eval --workdir runs/vae_notes ...`` (docs/vae.md) or ``wavegen generate``.

Expected runtime: the full config is days on a GPU (RAVE trains ~6 days on one). `:cpu`
(capacity 32, latent 16, 512× compression, batch 16, 3000 steps, no adversarial phase) takes
~20-50 min on a 2-core CPU depending on how busy it is (0.34 s/step idle, see docs/vae.md);
`:tiny` runs in seconds on the built-in synthetic notes (no files needed) and is for tests
(adversarial from step index 1).
"""

from wavegen.train.vae import vae_config

HARMONIC_STEPS = 8000


def get_config(arg: str | None = None):
    cfg = vae_config()
    cfg.data.source = "notes"
    cfg.data.sample_rate = 16000
    cfg.data.length = 16384
    cfg.data.label = "metadata"
    cfg.data.label_column = "instrument"
    cfg.model.latent_dim = 128
    cfg.model.capacity = 64
    cfg.loss.name = "hinge"  # of the adversarial phase
    cfg.loss.kl_warmup_steps = 200_000
    cfg.train.adversarial_start = 500_000
    cfg.train.batch_size = 8
    cfg.train.num_steps = 1_000_000
    cfg.train.learning_rate = 1e-4  # RAVE: Adam(1e-4, betas (0.5, 0.9)), the base b1/b2
    cfg.train.log_every = 100
    cfg.train.sample_every = 5000
    cfg.train.checkpoint_every = 5000
    if arg in ("cpu", "harmonic"):
        cfg.model.latent_dim = 16
        cfg.model.capacity = 32
        cfg.model.max_channels = 256
        cfg.model.ratios = (4, 4, 2)  # 16 bands · 32 = 512× → 32 latent frames per clip
        cfg.loss.kl_warmup_steps = 2000
        cfg.loss.weights["kl"] = 0.01
        cfg.train.adversarial_start = -1
        cfg.train.batch_size = 16
        cfg.train.learning_rate = 3e-4
        cfg.train.num_steps = 3000
        cfg.train.log_every = 25
        cfg.train.sample_every = 500
        cfg.train.checkpoint_every = 500
        cfg.train.num_samples = 4
        cfg.train.num_heldout = 32
    if arg == "harmonic":
        # The :cpu model plus DDSP's harmonic oscillator bank at the input's YIN pitch (the
        # last of the 16 latent channels), the recipe of docs/vae.md's ablation table.
        cfg.model.harmonics = 64
        cfg.train.num_steps = HARMONIC_STEPS
        cfg.train.sample_every = 1000
        cfg.train.checkpoint_every = 1000
    elif arg == "tiny":
        cfg.data.source = "synthetic"
        cfg.data.synthetic_size = 64
        cfg.data.length = 2048
        cfg.data.label = "none"
        cfg.data.label_column = ""
        cfg.model.latent_dim = 4
        cfg.model.pqmf_bands = 4
        cfg.model.capacity = 4
        cfg.model.max_channels = 8
        cfg.model.ratios = (2, 2)
        cfg.model.dilations = (1, 3)
        cfg.model.discriminator.names = ("mpd", "stft")
        cfg.model.discriminator.channels = 1
        cfg.model.discriminator.periods = (2, 3)
        cfg.model.discriminator.fft_sizes = (256,)
        cfg.loss.stft_fft_sizes = (512, 256, 128)
        cfg.loss.mel_fft_sizes = (512, 256)
        cfg.loss.weights["recon/mel"] = 0.5
        cfg.loss.kl_warmup_steps = 4
        cfg.train.adversarial_start = 1
        cfg.train.num_steps = 2
        cfg.train.log_every = 1
        cfg.train.sample_every = 2
        cfg.train.checkpoint_every = 2
        cfg.train.num_samples = 2
        cfg.train.num_heldout = 4
    elif arg not in (None, "cpu"):
        raise ValueError(f"unknown variant {arg!r}; known: cpu, harmonic, tiny")
    return cfg
