"""The audio data pipeline: files or a procedural set → fixed-length clips → batches.

- ``build_dataset(cfg.data, split)``: scan, label, split, decode (mono, resample, normalise),
  slice to ``data.length`` and cache once (``AudioDataset``; waveforms [N, length] float32).
- ``BatchIterator``: deterministic, resumable, per-host, prefetching batches.
- ``spectral``: SpecGAN's normalised log-magnitude features and Griffin-Lim inversion.
- ``inspect``: a folder summary for ``wavegen data inspect``.

Bad input raises ``AudioDataError`` naming the file or config key.
"""

from wavegen.data import spectral
from wavegen.data.batching import BatchIterator
from wavegen.data.dataset import AudioDataset
from wavegen.data.errors import AudioDataError
from wavegen.data.pipeline import build_dataset

__all__ = ["AudioDataError", "AudioDataset", "BatchIterator", "build_dataset", "spectral"]
