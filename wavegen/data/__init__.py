"""The audio data pipeline every model shares: sources → decoding → cache → batches.

- :func:`build_dataset`: a ``data`` config → :class:`AudioDataset` (decoded once, cached).
- :class:`BatchIterator`: deterministic, resumable, per-host, prefetched batches on the mesh.
- :mod:`wavegen.data.spectral`: SpecGAN's spectrogram features and their inverse.
- :mod:`wavegen.data.inspect`: what ``wavegen data inspect`` reports.
"""

from wavegen.data.build import build_dataset
from wavegen.data.dataset import AudioDataset
from wavegen.data.errors import AudioDataError
from wavegen.data.pipeline import BatchIterator

__all__ = ["AudioDataError", "AudioDataset", "BatchIterator", "build_dataset"]
