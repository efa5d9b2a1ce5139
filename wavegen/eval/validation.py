"""Input checks shared by the evaluation metrics, so every metric rejects bad arrays the same way.

Metric inputs come from long generation / feature-extraction runs; a NaN or a transposed array
should fail loudly with the argument's name instead of producing a plausible-looking number.
"""

from __future__ import annotations

import numpy as np

from wavegen.errors import WavegenError


class MetricInputError(WavegenError):
    """A metric received an array of the wrong shape, size or content."""


def check_array(
    name: str,
    x: np.ndarray,
    *,
    ndim: int | tuple[int, ...] = 2,
    min_rows: int = 1,
    expected: str = "[N, F]",
) -> np.ndarray:
    """Returns ``x`` as a float64 array after checking rank, row count and finiteness.

    Args:
        name: argument name used in the error message (e.g. ``'feats_a'``).
        x: array-like to check.
        ndim: allowed rank(s).
        min_rows: minimum size of the first axis.
        expected: shape description for the error message.

    Raises:
        MetricInputError: wrong rank, too few rows, an empty axis, or NaN/Inf entries.
    """
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MetricInputError(
            f"{name}: expected a real-valued array {expected}; got dtype {arr.dtype}"
        )
    arr = arr.astype(np.float64, copy=False)
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in allowed:
        raise MetricInputError(f"{name}: expected shape {expected}; got shape {arr.shape}")
    if arr.size == 0:
        raise MetricInputError(
            f"{name}: expected a non-empty array {expected}; got shape {arr.shape}"
        )
    if arr.shape[0] < min_rows:
        raise MetricInputError(
            f"{name}: expected at least {min_rows} rows in {expected}; got {arr.shape[0]}"
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise MetricInputError(f"{name}: expected finite values; found {bad} NaN/Inf entries")
    return arr


def check_same_width(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raises :class:`MetricInputError` unless ``a`` and ``b`` share their last dimension."""
    if a.shape[-1] != b.shape[-1]:
        raise MetricInputError(
            f"{name_a} has feature dimension {a.shape[-1]} but {name_b} has {b.shape[-1]}; "
            "expected the same"
        )


def check_same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raises :class:`MetricInputError` unless ``a`` and ``b`` have identical shapes."""
    if a.shape != b.shape:
        raise MetricInputError(
            f"{name_a} has shape {a.shape} but {name_b} has {b.shape}; expected the same shape"
        )
