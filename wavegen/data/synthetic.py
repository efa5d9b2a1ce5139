"""The built-in procedural dataset: pitched notes that need no files.

Each clip is one note: a fundamental from a fixed set of pitch classes (the naturals C..B, octaves
3-5, i.e. 131-988 Hz) plus 4 harmonics with a random spectral roll-off, shaped by an ADSR
envelope (attack, decay to a sustain level, release) and a little white noise. Labels are the
pitch class, so the set also exercises class-conditional models. Everything is drawn from one
``np.random.Generator(synthetic_seed)`` and synthesised with vectorised numpy: 512 clips of
16384 samples take a fraction of a second, so the set is never cached.

Split: clip ``i`` is test when ``i % 10 == 0`` (every 10th clip), train otherwise; 'all' is every
clip. Parameters are drawn for all ``synthetic_size`` clips first, so clip ``i`` is the same in
every split.
"""

from __future__ import annotations

import numpy as np

from wavegen.data.audio_io import normalize_batch
from wavegen.data.dataset import AudioDataset, sorted_label_names
from wavegen.data.errors import AudioDataError

PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}  # semitones above C
OCTAVES = (3, 4, 5)
NUM_HARMONICS = 4
NOISE_LEVEL = 0.005  # white noise std relative to the note's amplitude
TEST_EVERY = 10


def split_indices(size: int, split: str) -> np.ndarray:
    """Clip indices [n] int of a split of the synthetic set (see the module docstring)."""
    idx = np.arange(size)
    if split == "all":
        return idx
    if split == "test":
        return idx[idx % TEST_EVERY == 0]
    if split == "train":
        return idx[idx % TEST_EVERY != 0]
    raise AudioDataError(f"data.split must be 'train', 'test' or 'all', got {split!r}")


def synthesize_notes(
    size: int, length: int, sample_rate: int, seed: int, normalize: str = "none"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All ``size`` clips of the set.

    Returns:
      (waveforms [size, length] float32 in [-1, 1], labels [size] int32, label names).
    """
    if size < 1 or length < 1 or sample_rate < 1:
        raise AudioDataError(
            "data.synthetic_size, data.length and data.sample_rate must be positive, got "
            f"{size}, {length}, {sample_rate}"
        )
    rng = np.random.default_rng(seed)
    names = sorted_label_names(list(PITCH_CLASSES))
    offsets = np.array([PITCH_CLASSES[n] for n in names])
    label = rng.integers(0, len(names), size)
    octave = rng.choice(OCTAVES, size)
    midi = 12 * (octave + 1) + offsets[label]
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12.0)
    amp = rng.uniform(0.3, 0.9, size)
    rolloff = rng.uniform(1.0, 2.5, size)  # harmonic k has amplitude k**-rolloff
    attack = rng.uniform(0.005, 0.05, size)  # seconds
    decay = rng.uniform(0.05, 0.3, size)
    sustain = rng.uniform(0.2, 0.7, size)
    duration = length / sample_rate
    release_at = rng.uniform(0.3, 0.8, size) * duration
    release = rng.uniform(0.05, 0.3, size)

    t = np.arange(length, dtype=np.float32) / np.float32(sample_rate)  # [T] seconds
    col = lambda v: v.astype(np.float32)[:, None]  # noqa: E731  [N] → [N, 1] for broadcasting
    out = np.zeros((size, length), np.float32)
    for k in range(1, NUM_HARMONICS + 1):
        fk = f0 * k
        gain = np.where(fk < sample_rate / 2, k**-rolloff, 0.0)  # no aliased harmonics
        cycles = col(fk) * t  # [N, T]; keep only the fraction so float32 sin stays accurate
        out += col(gain) * np.sin(np.float32(2 * np.pi) * (cycles - np.floor(cycles)))
    # Piecewise-linear ADSR as a product of clipped ramps (vectorised over clips and time).
    env = np.clip(t / col(attack), 0.0, 1.0)
    env *= 1.0 - col(1.0 - sustain) * np.clip((t - col(attack)) / col(decay), 0.0, 1.0)
    env *= np.clip(1.0 - (t - col(release_at)) / col(release), 0.0, 1.0)
    out *= env
    out *= col(amp / np.abs(out).max(axis=1).clip(1e-6))
    out += col(amp * NOISE_LEVEL) * rng.standard_normal((size, length), dtype=np.float32)
    out = normalize_batch(out, normalize)
    return np.clip(out, -1.0, 1.0, out=out), label.astype(np.int32), names


def build_synthetic(cfg, split: str) -> AudioDataset:
    """The synthetic set's ``split`` under the ``data`` config ``cfg``."""
    waves, labels, names = synthesize_notes(
        int(cfg.synthetic_size),
        int(cfg.length),
        int(cfg.sample_rate),
        int(cfg.synthetic_seed),
        str(cfg.normalize),
    )
    idx = split_indices(int(cfg.synthetic_size), split)
    return AudioDataset(
        waveforms=waves[idx],
        labels=labels[idx],
        label_names=names,
        sample_rate=int(cfg.sample_rate),
        sources=[f"synthetic:{i}" for i in idx],
        skipped=[],
    )
