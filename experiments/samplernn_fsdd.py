"""Two-tier SampleRNN on FSDD spoken digits (8 kHz, 8-bit μ-law), sized for a 2-core CPU.

Frame tier: GRU of 512 units over 16-sample frames; sample tier: MLP of width 256 over the last
16 samples' code embeddings (32-d) + the upsampled frame state; 256-way softmax. Clips are the
first 8192 samples (1.02 s) of each recording, zero-padded at the end; each step trains on one
crop of 4096 samples per clip (most digits fit whole; crops start at 0 for those) in 8
truncated-BPTT chunks of 512 samples, one Adam update per chunk. See docs/rnn.md.

    wavegen train --config experiments/samplernn_fsdd.py --workdir runs/samplernn_fsdd \
        --config.data.path=/work/shared/data/fsdd/recordings
    wavegen train --config experiments/samplernn_fsdd.py:cond --workdir runs/samplernn_fsdd_cond \
        --config.data.path=/work/shared/data/fsdd/recordings

Expected runtime: ~20 min on an idle 2-core CPU (500 steps = 4000 updates at 2.4 s per step,
`tools/bench_rnn.py`); the measured `:cond` run took ~52 min single-threaded beside another
training run (5.7 s per step; docs/rnn.md has its results). Sampling runs at ~3.7× real time at
batch 16 (WaveGAN d=16: ~860×).
Variants: `:cond` (class-conditional on the digit, label embedding into the frame tier), `:tiny`
(synthetic notes, seconds, for tests).
"""

from wavegen.train.rnn import rnn_config


def get_config(arg: str | None = None):
    cfg = rnn_config()
    cfg.data.source = "fsdd"
    cfg.data.sample_rate = 8000
    cfg.data.length = 8192
    cfg.data.label = "pattern"
    cfg.data.pad = "end"
    cfg.data.crop = "start"
    cfg.data.normalize = "peak"
    cfg.model.frame_size = 16
    cfg.model.rnn_dim = 512
    cfg.model.mlp_dim = 256
    cfg.model.embed_dim = 32
    cfg.train.seq_len = 4096
    cfg.train.tbptt_len = 512
    cfg.train.grad_clip = 1.0
    cfg.train.num_heldout = 16
    cfg.train.batch_size = 16
    cfg.train.learning_rate = 1e-3
    cfg.train.b1 = 0.9
    cfg.train.b2 = 0.999
    cfg.train.num_steps = 500
    cfg.train.log_every = 10
    cfg.train.sample_every = 100
    cfg.train.checkpoint_every = 50
    cfg.train.num_samples = 10
    if arg == "cond":
        cfg.model.num_classes = 10
    elif arg == "tiny":
        cfg.data.source = "synthetic"
        cfg.data.synthetic_size = 32
        cfg.data.sample_rate = 16000
        cfg.data.length = 256
        cfg.data.label = "none"
        cfg.data.crop = "random"
        cfg.model.frame_size = 4
        cfg.model.rnn_dim = 8
        cfg.model.mlp_dim = 8
        cfg.model.embed_dim = 4
        cfg.train.seq_len = 128
        cfg.train.tbptt_len = 64
        cfg.train.num_heldout = 4
        cfg.train.batch_size = 8
        cfg.train.num_steps = 2
        cfg.train.log_every = 1
        cfg.train.sample_every = 2
        cfg.train.checkpoint_every = 2
        cfg.train.num_samples = 2
    elif arg is not None:
        raise ValueError(f"unknown variant {arg!r}; known: cond, tiny")
    return cfg
