"""What `wavegen generate` writes reads back elsewhere; checkpoints move between device counts.

- WAVs: soundfile and librosa both read them at the run's sample rate, 16384 samples, 16-bit PCM.
- A checkpoint written by a process with 1 (simulated) device restores, bit for bit, in a fresh
  process with 8 and trains on from it, and the reverse (subprocesses, so each gets its own
  XLA_FLAGS device count).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from wavegen import cli

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "experiments" / "quickstart.py") + ":tiny"


def test_generated_wavs_read_back_with_soundfile_and_librosa(tmp_path):
    work, out = tmp_path / "run", tmp_path / "wavs"
    argv = ["train", "--config", TINY, "--workdir", str(work), "--no-progress",
            "--config.train.num_steps=1", "--config.train.checkpoint_every=1"]  # fmt: skip
    assert cli.main(argv) == 0
    assert cli.main(["generate", "--workdir", str(work), "--num", "3", "--out", str(out)]) == 0
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 3
    for w in wavs:
        info = sf.info(w)
        assert (info.samplerate, info.frames, info.channels) == (16000, 16384, 1)
        assert (info.format, info.subtype) == ("WAV", "PCM_16")
        x, sr = sf.read(w, dtype="int16")
        assert sr == 16000 and x.shape == (16384,) and x.dtype == np.int16
        y, sr_l = librosa.load(w, sr=None, mono=False)
        assert sr_l == 16000 and y.shape == (16384,) and y.dtype == np.float32
        np.testing.assert_allclose(y, x / 32768.0, atol=1e-6)  # same samples either way
        assert np.abs(y).max() <= 1.0 and np.isfinite(y).all()


WORKER = """
import json, sys
from pathlib import Path
import jax, numpy as np
from wavegen.config import load_config
from wavegen.train import build_task
from wavegen.train.runs import load_run
from wavegen.train.loop import fit

mode, work, steps = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
out = {"devices": jax.device_count()}
if mode == "restore":
    _, state, step = load_run(work)
    saved = np.load(work / "params.npz", allow_pickle=False)
    leaves = [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]
    out["restored_step"] = step
    out["restored_equal"] = len(leaves) == len(saved.files) and all(
        np.array_equal(saved[f"a{i}"], x) for i, x in enumerate(leaves))
cfg = load_config(sys.argv[4], [f"train.num_steps={steps}", "train.checkpoint_every=1"])
state = fit(build_task(cfg), work, progress=False)
leaves = [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]
np.savez(work / "params.npz", **{f"a{i}": x for i, x in enumerate(leaves)})
out["trained_to"] = json.loads((work / "done.json").read_text())["step"]
out["finite"] = all(np.isfinite(x).all() for x in leaves if x.dtype.kind == "f")
print("RESULT " + json.dumps(out))
"""


def run_worker(devices: int, mode: str, work: Path, steps: int) -> dict:
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
    )
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, mode, str(work), str(steps), TINY],
        env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


@pytest.mark.slow
@pytest.mark.parametrize("first, second", [(1, 8), (8, 1)])
def test_checkpoint_restores_and_continues_on_another_device_count(first, second, tmp_path):
    work = tmp_path / "run"
    a = run_worker(first, "train", work, 2)
    assert a == {"devices": first, "trained_to": 2, "finite": True}
    b = run_worker(second, "restore", work, 4)
    assert b["devices"] == second and b["restored_step"] == 2 and b["restored_equal"]
    assert b["trained_to"] == 4 and b["finite"]
