"""``wavegen data cache``: builds the decode cache ahead of training; training then hits it."""

from pathlib import Path

import pytest

from tests.data.conftest import tone, write_audio
from wavegen import cli
from wavegen.config import load_config
from wavegen.data import audio_io, build_dataset
from wavegen.data.cache import MARKER, WAVEFORMS

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "experiments" / "quickstart.py") + ":tiny"


@pytest.fixture
def fsdd_folder(tmp_path) -> Path:
    """FSDD-named WAVs: take index 0-4 is the test split, 5-49 train (3 + 2 files)."""
    root = tmp_path / "recordings"
    for digit, take in [(1, 7), (2, 9), (3, 12), (1, 0), (2, 3)]:
        write_audio(root / f"{digit}_jackson_{take}.wav", tone(900, 150.0 * (digit + 1)))
    return root


def test_data_cache_builds_train_and_test_and_training_hits_it(
    fsdd_folder, tmp_path, capsys, monkeypatch
):
    overrides = [
        "--config.data.source=fsdd",
        f"--config.data.path={fsdd_folder}",
        f"--config.data.cache_dir={tmp_path / 'cache'}",
        "--config.data.sample_rate=8000",
        "--config.data.length=1024",
    ]
    argv = ["data", "cache", "--config", TINY, "--no-progress", *overrides]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    entries = sorted(p for p in (tmp_path / "cache").iterdir() if not p.name.startswith("."))
    assert len(entries) == 2  # one entry per split
    assert "train: 3 clips in " in out and "test: 2 clips in " in out
    for entry in entries:
        assert str(entry) in out and (entry / MARKER).is_file()
    stamps = {
        e: ((e / WAVEFORMS).stat().st_mtime_ns, (e / MARKER).stat().st_mtime_ns) for e in entries
    }

    decoded = []
    real = audio_io.decode
    monkeypatch.setattr(audio_io, "decode", lambda *a, **k: decoded.append(a) or real(*a, **k))
    data = load_config(TINY, overrides).data
    for split, n in (("train", 3), ("test", 2)):
        ds = build_dataset(data, split=split, progress=False)
        assert len(ds) == n and Path(ds.cache_path) in stamps
    assert decoded == []  # nothing decoded again: both splits came from the cache
    for e, before in stamps.items():
        assert ((e / WAVEFORMS).stat().st_mtime_ns, (e / MARKER).stat().st_mtime_ns) == before


def test_data_cache_of_a_plain_folder_builds_train_only(tmp_path, capsys):
    for i in range(2):
        write_audio(tmp_path / "wavs" / f"{i}.wav", tone(900, 200.0 * (i + 1)))
    argv = ["data", "cache", "--config", TINY, "--no-progress", "--config.data.source=folder"]
    argv += [f"--config.data.path={tmp_path / 'wavs'}", f"--config.data.cache_dir={tmp_path / 'c'}"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "train: 2 clips" in out and "test:" not in out


def test_data_cache_of_synthetic_data_says_there_is_nothing_to_cache(capsys):
    assert cli.main(["data", "cache", "--config", TINY]) == 0
    assert "no cache" in capsys.readouterr().out
