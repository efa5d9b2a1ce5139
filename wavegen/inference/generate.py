"""Generating audio from a restored run (any family) and writing it as WAV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from wavegen.train.loop import SampleRequest


def generate_audio(
    task,
    state,
    num: int,
    *,
    seed: int = 0,
    interpolate: bool = False,
    label: int | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Generates ``num`` clips [num, T] float32 in [-1, 1] with the task's ``sample_audio``.

    Every family samples its own way (GAN: G(z); VAE: decoder of prior draws; RNN: ancestral
    sampling); ``label`` selects a class of a conditional model (None: labels cycle 0, 1, ...).
    """
    if num < 1:
        raise ValueError(f"--num must be >= 1, got {num}")
    request = SampleRequest(num, seed, interpolate, label, batch_size)
    return task.sample_audio(state, request)


def write_wavs(
    clips: np.ndarray, out_dir: str | Path, sample_rate: int, prefix: str = ""
) -> list[Path]:
    """Writes clips [N, T] as 16-bit PCM WAVs ``out_dir/{prefix}{i:04d}.wav``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, clip in enumerate(np.asarray(clips)):
        path = out_dir / f"{prefix}{i:04d}.wav"
        sf.write(path, np.clip(clip, -1.0, 1.0), sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths
