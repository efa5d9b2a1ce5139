"""The decode-once cache: hits skip decoding; changed inputs and broken entries are rebuilt."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.data.conftest import tone, write_audio
from wavegen.data import audio_io, build_dataset
from wavegen.data.cache import INDEX, MARKER, WAVEFORMS


@pytest.fixture
def counted_decode(monkeypatch):
    """Counts calls of the file decoder (the expensive step a cache hit must avoid)."""
    calls = []
    real = audio_io.decode

    def counting(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(audio_io, "decode", counting)
    return calls


@pytest.fixture
def folder(tmp_path):
    for i in range(3):
        write_audio(tmp_path / "audio" / f"{i}.wav", tone(900, 200.0 * (i + 1)), subtype="FLOAT")
    return tmp_path / "audio"


def entry_of(ds):
    return Path(ds.cache_path)


def test_second_build_is_a_cache_hit_and_read_only(folder, make_cfg, counted_decode):
    first = build_dataset(make_cfg(folder), progress=False)
    assert len(counted_decode) == 3
    second = build_dataset(make_cfg(folder), progress=False)
    assert len(counted_decode) == 3  # nothing decoded again
    assert isinstance(second.waveforms, np.memmap) and not second.waveforms.flags.writeable
    np.testing.assert_array_equal(first.waveforms, second.waveforms)
    assert second.sources == first.sources and second.sample_rate == 8000
    entry = entry_of(second)
    assert sorted(p.name for p in entry.iterdir()) == sorted([INDEX, MARKER, WAVEFORMS])
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left
    np.load(entry / WAVEFORMS, allow_pickle=False)  # plain .npy, no pickle needed


def test_a_changed_setting_is_a_different_entry(folder, make_cfg, counted_decode):
    a = build_dataset(make_cfg(folder), progress=False)
    b = build_dataset(make_cfg(folder, normalize="peak"), progress=False)
    assert a.cache_path != b.cache_path and len(counted_decode) == 6
    np.testing.assert_allclose(np.abs(b.waveforms).max(axis=1), 0.99, rtol=1e-5)


def test_rewritten_file_invalidates_the_cache(folder, make_cfg, counted_decode):
    before = build_dataset(make_cfg(folder), progress=False)
    path = folder / "1.wav"
    stat = path.stat()
    write_audio(path, tone(900, 3000.0, amp=0.1), subtype="FLOAT")  # same size, new content
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    after = build_dataset(make_cfg(folder), progress=False)
    assert after.cache_path != before.cache_path and len(counted_decode) == 6
    np.testing.assert_allclose(after.waveforms[1, :900], tone(900, 3000.0, amp=0.1), atol=1e-7)
    np.testing.assert_array_equal(after.waveforms[0], before.waveforms[0])


@pytest.mark.parametrize("damage", ["no_marker", "truncated_array", "bad_json", "wrong_shape"])
def test_broken_entry_is_rebuilt_not_reused(damage, folder, make_cfg, counted_decode):
    good = np.array(build_dataset(make_cfg(folder), progress=False).waveforms)
    entry = entry_of(build_dataset(make_cfg(folder), progress=False))
    if damage == "no_marker":
        (entry / MARKER).unlink()
    elif damage == "truncated_array":
        with open(entry / WAVEFORMS, "r+b") as f:
            f.truncate(os.path.getsize(entry / WAVEFORMS) // 2)
    elif damage == "bad_json":
        (entry / INDEX).write_text('{"labels": [')
    else:
        index = json.loads((entry / INDEX).read_text())
        index["num_examples"] = 2
        (entry / INDEX).write_text(json.dumps(index))
    rebuilt = build_dataset(make_cfg(folder), progress=False)
    assert len(counted_decode) == 6  # decoded again
    np.testing.assert_array_equal(rebuilt.waveforms, good)
    assert (entry / MARKER).is_file()


def test_cache_dir_falls_back_to_env(folder, make_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("WAVEGEN_CACHE", str(tmp_path / "envcache"))
    ds = build_dataset(make_cfg(folder, cache_dir=""), progress=False)
    assert ds.cache_path.startswith(str(tmp_path / "envcache"))


KILLED_BUILD = """
import sys, time
from pathlib import Path
from wavegen.data import audio_io, build_dataset
from wavegen.defaults import data_config

real, done = audio_io.decode, []
def slow(path, *a, **k):
    x = real(path, *a, **k)
    done.append(path)
    if len(done) == 2:
        Path(sys.argv[3]).write_text("two files decoded")
    time.sleep(0.5)
    return x
audio_io.decode = slow
cfg = data_config()
cfg.update(source="folder", path=sys.argv[1], cache_dir=sys.argv[2], length=1024,
           sample_rate=8000, split="all")
build_dataset(cfg, progress=False)
"""


def test_sigkill_during_build_leaves_no_entry_and_next_build_rebuilds(tmp_path, make_cfg):
    """A build killed half way leaves only its temporary folder (no entry in place); the next
    build decodes everything again, matches an uninterrupted build, and removes the leftover."""
    import signal
    import subprocess
    import sys
    import time

    folder = tmp_path / "audio"
    for i in range(12):
        write_audio(folder / f"{i:02d}.wav", tone(900, 100.0 * (i + 1)), subtype="FLOAT")
    cache, flag = tmp_path / "cache", tmp_path / "flag"
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(folder), str(cache), str(flag)],
        env=dict(os.environ, PYTHONPATH=str(repo)),
    )
    deadline = time.time() + 120
    while not flag.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert flag.exists(), "the build subprocess never got going"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = [p for p in cache.iterdir() if p.name.startswith(".")]
    assert partial and not [p for p in cache.iterdir() if not p.name.startswith(".")]

    ds = build_dataset(make_cfg(folder), progress=False)
    reference = build_dataset(make_cfg(folder, cache_dir=str(tmp_path / "ref")), progress=False)
    assert len(ds) == 12
    np.testing.assert_array_equal(ds.waveforms, reference.waveforms)
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # leftover cleaned up
