"""The decoded dataset every model trains on."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class AudioDataset:
    """Fixed-length mono clips with integer labels.

    Attributes:
      waveforms: [N, length] float32 in [-1, 1]; a read-only ``np.memmap`` when it comes from the
        cache (index it or ``np.asarray`` it; don't write to it).
      labels: [N] int32 index into ``label_names``; -1 for every example when unlabelled.
      label_names: index → name, sorted (numerically when every name is an integer).
      sample_rate: Hz of ``waveforms``.
      sources: per example, the source file path (``'synthetic:<i>'`` for the built-in set).
        A file cut into several slices appears once per slice.
      skipped: ``(file, reason)`` for every file skipped with ``skip_bad=True``.
      cache_path: the cache folder the arrays were loaded from (None when not cached); derived
        data such as spectrogram moments is stored beside them.
    """

    waveforms: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    sample_rate: int
    sources: list[str]
    skipped: list[tuple[str, str]]
    cache_path: str | None = None

    def __len__(self) -> int:
        return int(self.waveforms.shape[0])


def sorted_label_names(names: set[str] | list[str]) -> list[str]:
    """Distinct names sorted stably: numerically when all are integers ('2' < '10'), else text."""
    unique = set(names)
    if unique and all(_is_int(n) for n in unique):
        return sorted(unique, key=lambda n: (int(n), n))
    return sorted(unique)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
