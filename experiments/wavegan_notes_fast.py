"""A fast-converging, pitch-conditional WaveGAN for the shared GM notes (16 kHz) on a 2-core CPU.

The quickstart's recipe (`wavegen.defaults.fast_gan_recipe`; docs/results.md, "Quickstart
recipes") on real instrument notes: 10 General MIDI instruments, MIDI pitches 28-96, 860 clips
of 16384 samples. Conditioned on the MIDI pitch as GANSynth is (69 labels, the `pitch` column of
metadata.csv), so every pitch is reachable and the instrument comes from the latent; the first
8192 samples (0.51 s: the attack and the start of the sustain) of each note.

    wavegen train --config experiments/wavegan_notes_fast.py --workdir runs/notes_fast \
        --config.data.path=../shared/data/notes

Expected runtime: ~53 min on 2 CPU cores (8000 steps at 2.6 steps/s); docs/results.md ("GM
notes") gives the timed run and its pitch monitor (clean-note fraction, distinct pitches, JSD to
the training pitches, logged every `train.sample_every` steps): 79% clean notes of 58 pitches,
95% of them the pitch asked for. `pretrained/notes_fast/` is that run's generator. `:tiny` is a
seconds-long smoke test on the built-in notes.
"""

from wavegen.defaults import base_config, fast_gan_recipe, make_tiny_gan

VARIANTS = ("tiny",)
NUM_PITCHES = 69  # MIDI 28..96, every one in the training split


def get_config(arg: str | None = None):
    cfg = base_config()
    cfg.data.source = "notes"
    cfg.data.sample_rate = 16000
    cfg.data.length = 8192
    cfg.data.crop = "start"
    cfg.data.label = "metadata"
    cfg.data.label_column = "pitch"
    fast_gan_recipe(cfg)
    cfg.model.num_classes = NUM_PITCHES
    cfg.train.num_steps = 8000
    cfg.train.log_every = 100
    cfg.train.sample_every = 500
    cfg.train.checkpoint_every = 1000
    cfg.train.num_samples = 8
    cfg.train.monitor_num = 69  # one clip per pitch
    if arg == "tiny":
        cfg.data.source = "synthetic"
        cfg.data.synthetic_size = 64
        cfg.data.synthetic_labels = "note"
        cfg.data.label = "none"
        cfg.data.label_column = ""
        cfg.model.num_classes = 21
        make_tiny_gan(cfg)
        cfg.train.d_steps = 1
        cfg.train.monitor_num = 16
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: {', '.join(VARIANTS)}")
    return cfg
