"""Loaders and inspect on the shared read-only datasets (skipped when ../shared/data is absent)."""

import numpy as np
import pytest

from wavegen.data import build_dataset
from wavegen.data.inspect import format_report, inspect_folder
from wavegen.defaults import data_config

pytestmark = pytest.mark.data


def preset(shared, source, sub, tmp_path, **kw):
    c = data_config()
    c.source, c.path, c.cache_dir = source, str(shared / sub), str(tmp_path / "cache")
    for k, v in kw.items():
        c[k] = v
    return c


def test_inspect_reports_the_three_sets(shared_data):
    fsdd = inspect_folder(shared_data / "fsdd" / "recordings")
    assert (fsdd["files"], fsdd["labels"], fsdd["sample_rates"]) == (3000, 10, {"8000": 3000})
    assert (
        0.1
        < fsdd["duration_s"]["min"]
        < fsdd["duration_s"]["median"]
        < fsdd["duration_s"]["max"]
        < 3
    )
    notes, drums = inspect_folder(shared_data / "notes"), inspect_folder(shared_data / "drums")
    assert (notes["files"], notes["labels"], notes["sample_rates"]) == (860, 10, {"16000": 860})
    assert (drums["files"], drums["labels"], drums["sample_rates"]) == (747, 8, {"16000": 747})
    assert notes["duration_s"]["max"] == pytest.approx(16384 / 16000)
    assert "3000" in format_report(fsdd) and "8000 Hz" in format_report(fsdd)


def test_fsdd_official_split(shared_data, tmp_path):
    kw = dict(sample_rate=8000, length=16384)
    test = build_dataset(
        preset(shared_data, "fsdd", "fsdd/recordings", tmp_path, **kw), "test", progress=False
    )
    assert len(test) == 300 and test.label_names == [str(d) for d in range(10)]
    assert np.bincount(test.labels).tolist() == [30] * 10
    for src, lab in zip(test.sources, test.labels, strict=True):
        name = src.rsplit("/", 1)[1]
        assert int(name.split("_")[2].split(".")[0]) <= 4 and name[0] == test.label_names[lab]


@pytest.mark.slow
def test_fsdd_train_split(shared_data, tmp_path):
    train = build_dataset(
        preset(shared_data, "fsdd", "fsdd/recordings", tmp_path, sample_rate=8000, length=16384),
        "train",
        progress=False,
    )
    assert len(train) == 2700


@pytest.mark.parametrize(
    "source, column, n_labels", [("notes", "instrument", 10), ("drums", "kit", 8)]
)
def test_notes_and_drums_splits(shared_data, tmp_path, source, column, n_labels):
    c = preset(shared_data, source, source, tmp_path)
    test, train = (
        build_dataset(c, "test", progress=False),
        build_dataset(c, "train", progress=False),
    )
    assert len(test) + len(train) == {"notes": 860, "drums": 747}[source]
    assert len(train.label_names) == n_labels
    assert test.waveforms.shape[1] == 16384 and set(test.sources).isdisjoint(train.sources)
    for src in test.sources:  # velocity 80 and pitch/note divisible by 4
        _, num, vel = src.rsplit("/", 1)[1].rsplit(".", 1)[0].rsplit("_", 2)
        assert int(vel) == 80 and int(num) % 4 == 0
