"""Cutting decoded signals into fixed-length examples, as WaveGAN's loader does.

Short clips are zero-padded (at the end, or centred); long clips give ``slices_per_file`` windows:
one window at the start / centre / a random offset, or several windows evenly spaced ('start',
'center') or at random offsets ('random'). Random offsets come from a Generator seeded with
``(data.seed, file index)``, so a cache built twice holds the same windows.
"""

from __future__ import annotations

import numpy as np

from wavegen.data.errors import AudioDataError

PAD_MODES = ("end", "center")
CROP_MODES = ("random", "start", "center")


def check_slicing(length: int, pad: str, crop: str, slices_per_file: int) -> None:
    """Raises AudioDataError naming the ``data`` key that is out of range."""
    if length < 1:
        raise AudioDataError(f"data.length must be positive, got {length}")
    if pad not in PAD_MODES:
        raise AudioDataError(f"data.pad must be one of {PAD_MODES}, got {pad!r}")
    if crop not in CROP_MODES:
        raise AudioDataError(f"data.crop must be one of {CROP_MODES}, got {crop!r}")
    if slices_per_file < 1:
        raise AudioDataError(f"data.slices_per_file must be >= 1, got {slices_per_file}")


def num_slices(signal_length: int, length: int, slices_per_file: int) -> int:
    """How many examples a signal of ``signal_length`` samples gives (1 unless it is long)."""
    return slices_per_file if signal_length > length else 1


def slice_signal(
    x: np.ndarray,
    length: int,
    *,
    pad: str = "end",
    crop: str = "random",
    slices_per_file: int = 1,
    seed: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """Fixed-length windows of one signal.

    Args:
      x: [T] float32 signal.
      length: samples per window.
      pad: 'end' or 'center' zero padding when T < length.
      crop: 'start', 'center' or 'random' window placement when T > length.
      slices_per_file: windows taken from a long signal (evenly spaced over the whole signal
        for 'start'/'center', independent random offsets for 'random').
      seed: ``(data.seed, file index)`` for the random offsets.

    Returns:
      [num_slices(T, length, slices_per_file), length] float32.
    """
    t = x.shape[0]
    if t <= length:
        out = np.zeros((1, length), np.float32)
        start = (length - t) // 2 if pad == "center" else 0
        out[0, start : start + t] = x
        return out
    span = t - length  # largest valid offset
    if crop == "random":
        offsets = np.random.default_rng(seed).integers(0, span + 1, slices_per_file)
    elif slices_per_file > 1:
        offsets = np.round(np.linspace(0, span, slices_per_file)).astype(np.int64)
    else:
        offsets = np.array([span // 2 if crop == "center" else 0])
    return np.stack([x[o : o + length] for o in offsets]).astype(np.float32, copy=False)
