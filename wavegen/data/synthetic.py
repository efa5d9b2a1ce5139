"""The built-in procedural dataset: pitched notes that need no files.

Each clip is one note: a fundamental from a fixed set of pitch classes (the naturals C..B, octaves
3-5, i.e. 131-988 Hz) plus 4 harmonics with a random spectral roll-off, shaped by an ADSR
envelope (attack, decay to a sustain level, release) and a little white noise. Labels are the
pitch class (``data.synthetic_labels='pitch_class'``, 7 labels) or the note (``'note'``, 21
labels 'A3'..'G5', for pitch-conditional models as GANSynth's), so the set also exercises
class-conditional models; the clips are the same either way. Everything is drawn from one
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
NOISE_LEVEL = 0.005  # white (uniform) noise std relative to the note's amplitude
TEST_EVERY = 10
ENVELOPE_HOP = 32  # samples between exact envelope points (2 ms at 16 kHz)


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


LABELINGS = ("pitch_class", "note")


def synthesize_notes(
    size: int,
    length: int,
    sample_rate: int,
    seed: int,
    normalize: str = "none",
    labels: str = "pitch_class",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All ``size`` clips of the set; ``labels`` names what the labels are (:data:`LABELINGS`).

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
    # Harmonics by the Chebyshev recurrence sin((k+1)θ) = 2cosθ·sin(kθ) - sin((k-1)θ): two trig
    # evaluations per sample instead of one per harmonic (this set must build in well under 1 s).
    theta = col(f0) * t  # [N, T] cycles; keep only the fraction so float32 trig stays accurate
    theta -= np.floor(theta)
    theta *= np.float32(2 * np.pi)
    sin_k, two_cos = np.sin(theta), 2 * np.cos(theta)
    sin_prev = np.zeros_like(sin_k)
    out = np.zeros((size, length), np.float32)
    for k in range(1, NUM_HARMONICS + 1):
        gain = np.where(f0 * k < sample_rate / 2, k**-rolloff, 0.0)  # no aliased harmonics
        out += col(gain) * sin_k
        sin_k, sin_prev = two_cos * sin_k - sin_prev, sin_k
    out *= _adsr(length, sample_rate, attack, decay, sustain, release_at, release)
    out *= col(amp / np.abs(out).max(axis=1).clip(1e-6))
    # Uniform noise (std = half-width / sqrt 3): several times cheaper to draw than Gaussian.
    noise = rng.random((size, length), dtype=np.float32)
    noise -= 0.5
    noise *= col(amp * NOISE_LEVEL * np.sqrt(12.0))
    out += noise
    out = normalize_batch(out, normalize)
    out = np.clip(out, -1.0, 1.0, out=out)
    if labels == "pitch_class":
        return out, label.astype(np.int32), names
    if labels != "note":
        raise AudioDataError(f"data.synthetic_labels must be one of {LABELINGS}, got {labels!r}")
    note_names = [f"{names[c]}{o}" for c, o in zip(label, octave, strict=True)]
    all_notes = sorted_label_names([f"{n}{o}" for n in names for o in OCTAVES])
    index = {n: i for i, n in enumerate(all_notes)}
    return out, np.array([index[n] for n in note_names], np.int32), all_notes


def _adsr(
    length: int,
    sample_rate: int,
    attack: np.ndarray,
    decay: np.ndarray,
    sustain: np.ndarray,
    release_at: np.ndarray,
    release: np.ndarray,
) -> np.ndarray:
    """Piecewise-linear ADSR envelopes [N, length] from per-clip [N] parameters in seconds.

    Evaluated exactly every ``ENVELOPE_HOP`` samples as a product of clipped ramps and linearly
    interpolated in between (the envelope is piecewise linear, so this only rounds its corners):
    the full-rate product of ramps cost most of the set's build time.
    """
    hop = ENVELOPE_HOP
    frames = -(-length // hop) + 1
    t = (np.arange(frames) * hop / sample_rate)[None, :]  # [1, F] seconds
    a, d, s, r0, r = (v[:, None] for v in (attack, decay, sustain, release_at, release))
    coarse = np.clip(t / a, 0.0, 1.0)
    coarse *= 1.0 - (1.0 - s) * np.clip((t - a) / d, 0.0, 1.0)
    coarse *= np.clip(1.0 - (t - r0) / r, 0.0, 1.0)
    coarse = coarse.astype(np.float32)
    frac = np.arange(hop, dtype=np.float32) / hop  # [hop]
    slope = np.diff(coarse, axis=1)  # [N, F - 1]
    env = coarse[:, :-1, None] + slope[:, :, None] * frac  # [N, F - 1, hop]
    return env.reshape(len(attack), -1)[:, :length]


def build_synthetic(cfg, split: str) -> AudioDataset:
    """The synthetic set's ``split`` under the ``data`` config ``cfg``."""
    waves, labels, names = synthesize_notes(
        int(cfg.synthetic_size),
        int(cfg.length),
        int(cfg.sample_rate),
        int(cfg.synthetic_seed),
        str(cfg.normalize),
        str(cfg.get("synthetic_labels", "pitch_class")),
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
