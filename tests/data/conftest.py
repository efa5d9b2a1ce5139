"""Fixtures for the data-pipeline tests: a config factory and a small audio-file writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavegen.defaults import data_config


@pytest.fixture
def make_cfg(tmp_path):
    """``make_cfg(path, **overrides)`` → a data config reading ``path`` with a per-test cache."""

    def make(path: Path | str = "", **overrides):
        cfg = data_config()
        cfg.source = "folder"
        cfg.path = str(path)
        cfg.cache_dir = str(tmp_path / "cache")
        cfg.length = 1024
        cfg.sample_rate = 8000
        cfg.split = "all"
        for k, v in overrides.items():
            cfg[k] = v
        return cfg

    return make


def write_audio(path: Path, x: np.ndarray, sr: int = 8000, subtype: str | None = None) -> Path:
    """Writes x [T] or [T, C] with soundfile (format from the extension); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, subtype=subtype)
    return path


def tone(n: int, freq: float = 440.0, sr: int = 8000, amp: float = 0.5) -> np.ndarray:
    """[n] float32 sine."""
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)
