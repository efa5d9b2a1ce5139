"""``wavegen data inspect``: counts, labels, durations, rates and bad files of a folder."""

import numpy as np
import pytest

from tests.data.conftest import tone, write_audio
from wavegen.data import AudioDataError
from wavegen.data.inspect import format_report, inspect_folder


def test_small_folder_report(tmp_path):
    write_audio(tmp_path / "yes" / "a.wav", tone(8000), sr=8000)  # 1.0 s
    write_audio(tmp_path / "yes" / "b.wav", np.zeros((4000, 2), np.float32), sr=8000)  # 0.5 s
    write_audio(tmp_path / "no" / "c.flac", tone(32000, sr=16000), sr=16000)  # 2.0 s
    (tmp_path / "no" / "broken.wav").write_text("junk")
    write_audio(tmp_path / "no" / "empty.wav", np.zeros(0, np.float32))
    r = inspect_folder(tmp_path)
    assert (r["num_files"], r["num_readable"]) == (5, 3)
    assert r["label_source"] == "parent folder" and r["labels"] == {"no": 1, "yes": 2}
    assert r["duration_s"]["min"] == 0.5 and r["duration_s"]["median"] == 1.0
    assert r["duration_s"]["max"] == 2.0
    assert r["sample_rates"] == {"8000": 2, "16000": 1} and r["channels"] == {"1": 2, "2": 1}
    assert sorted(name for name, _ in r["bad_files"]) == ["no/broken.wav", "no/empty.wav"]
    assert "zero-length" in dict(r["bad_files"])["no/empty.wav"]
    text = format_report(r)
    assert "files:         5" in text and "no/broken.wav" in text


def test_pattern_labels_and_missing_folder(tmp_path):
    for name in ("up_1.wav", "up_2.wav", "down_1.wav", "odd.wav"):
        write_audio(tmp_path / name, tone(100))
    r = inspect_folder(tmp_path, pattern=r"^(?P<label>[a-z]+)_\d")
    assert r["labels"] == {"down": 1, "up": 2} and r["unlabelled"] == 1
    with pytest.raises(AudioDataError, match="no such folder"):
        inspect_folder(tmp_path / "missing")


@pytest.mark.data
@pytest.mark.parametrize(
    "folder,files,labels,rate",
    [
        ("fsdd/recordings", 3000, 10, "8000"),
        ("notes", 860, 10, "16000"),
        ("drums", 747, 8, "16000"),
    ],
)
def test_shared_sets(folder, files, labels, rate, shared_data):
    r = inspect_folder(shared_data / folder)
    assert (r["num_files"], r["num_labels"]) == (files, labels)
    assert r["sample_rates"] == {rate: files} and r["bad_files"] == []
    assert 0 < r["duration_s"]["min"] <= r["duration_s"]["median"] <= r["duration_s"]["max"]
