"""Cutting decoded clips to the model's length, as WaveGAN's loader does.

Short clips are zero-padded (at the end, or centred); long clips give one or more windows
('start', 'center', or 'random' with a per-file seed so the cache is deterministic).
"""

from __future__ import annotations

import numpy as np

from wavegen.data.errors import AudioDataError

PADS = ("end", "center")
CROPS = ("random", "start", "center")


def check_slicing(pad: str, crop: str, slices_per_file: int) -> None:
    if pad not in PADS:
        raise AudioDataError(f"data.pad must be one of {PADS}, got {pad!r}")
    if crop not in CROPS:
        raise AudioDataError(f"data.crop must be one of {CROPS}, got {crop!r}")
    if slices_per_file < 1:
        raise AudioDataError(f"data.slices_per_file must be >= 1, got {slices_per_file}")


def slice_clip(
    x: np.ndarray, length: int, *, pad: str, crop: str, slices: int, seed: int
) -> np.ndarray:
    """Windows of one clip.

    Args:
      x: [T] float32.
      length: samples per window.
      pad: 'end' or 'center' zero padding for T < length.
      crop: window placement for T > length.
      slices: windows per clip (T > length only; a short clip gives one).
      seed: per-file seed for 'random' windows.

    Returns:
      [S, length] float32.
    """
    t = x.shape[0]
    if t <= length:
        left = (length - t) // 2 if pad == "center" else 0
        out = np.zeros((1, length), np.float32)
        out[0, left : left + t] = x
        return out
    span = t - length
    if crop == "random":
        starts = np.random.default_rng(seed).integers(0, span + 1, size=slices)
    elif slices == 1:
        starts = np.array([0 if crop == "start" else span // 2])
    else:  # several deterministic windows: evenly spaced over the clip
        starts = np.linspace(0, span, slices).round().astype(int)
    return np.stack([x[s : s + length] for s in starts]).astype(np.float32, copy=False)
