"""The ``wavegen vae`` subcommands end to end on a tiny 2-step run (phase 1 only): encode,
decode, reconstruct, interpolate, sample-prior, eval, generate, and their user errors."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wavegen import cli
from wavegen.config import load_config

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "experiments" / "vae_notes.py") + ":tiny"
CFG = load_config(TINY)
SR = CFG.data.sample_rate  # 16000
COMPRESSION = CFG.model.pqmf_bands * math.prod(CFG.model.ratios)  # 4 · 2 · 2 = 16
LSB = 2 / 32767  # two 16-bit steps: the WAVs are PCM_16


def tone(path: Path, seconds: float, freq: float, sr: int) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


def read(path: Path) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32")
    assert sr == SR
    return x


def run(*argv) -> int:
    return cli.main([str(a) for a in argv])


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A tiny VAE workdir trained 2 steps through the CLI (synthetic data, no files needed)."""
    root = tmp_path_factory.mktemp("vae_cli")
    rc = run(
        "train",
        "--config",
        TINY,
        "--workdir",
        root / "run",
        "--no-progress",
        "--config.train.adversarial_start=-1",
    )
    assert rc == 0
    assert (root / "run" / "checkpoints" / "2").is_dir()
    return root / "run"


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> dict[str, Path]:
    """a: 0.3 s at 16 kHz; b: 0.3 s at 8 kHz (resampled to the run's 16 kHz); c: 0.1 s."""
    d = tmp_path_factory.mktemp("wavs")
    return {
        "a": tone(d / "a.wav", 0.3, 440.0, SR),
        "b": tone(d / "b.wav", 0.3, 660.0, 8000),
        "c": tone(d / "c.wav", 0.1, 880.0, SR),
    }


def test_encode_decode_reconstruct_round_trip(work, wavs, tmp_path):
    z_path = tmp_path / "z.npy"
    assert run("vae", "encode", "--workdir", work, wavs["a"], wavs["c"], "--out", z_path) == 0
    z = np.load(z_path)
    # c (1600 samples) is zero-padded to a's 4800: both have ceil(4800 / 16) = 300 frames.
    assert z.shape == (2, math.ceil(4800 / COMPRESSION), CFG.model.latent_dim)
    assert z.dtype == np.float32 and np.isfinite(z).all()
    one = tmp_path / "one.npy"
    assert run("vae", "encode", "--workdir", work, wavs["a"], "--out", one, "--step", 2) == 0
    np.testing.assert_allclose(np.load(one)[0], z[0], atol=1e-5)  # batching changes nothing

    assert run("vae", "decode", "--workdir", work, z_path, "--out", tmp_path / "dec") == 0
    decoded = sorted((tmp_path / "dec").glob("*.wav"))
    assert [p.name for p in decoded] == ["decoded_0000.wav", "decoded_0001.wav"]
    for p in decoded:
        info = sf.info(p)
        assert (info.frames, info.samplerate, info.subtype) == (300 * COMPRESSION, SR, "PCM_16")

    rec = tmp_path / "rec.wav"
    assert run("vae", "reconstruct", "--workdir", work, wavs["a"], rec) == 0
    y = read(rec)
    assert y.shape == (4800,)  # a's length: 4800 is a whole number of frames
    np.testing.assert_allclose(y, read(decoded[0]), atol=LSB)  # decode(encode(a))
    assert np.abs(y).max() > 0


def test_interpolate_ends_are_the_reconstructions(work, wavs, tmp_path):
    out = tmp_path / "interp"
    assert (
        run("vae", "interpolate", "--workdir", work, wavs["a"], wavs["b"], "--num", 4, "--out", out)
        == 0
    )
    paths = sorted(out.glob("*.wav"))
    assert [p.name for p in paths] == [f"interp_{i:04d}.wav" for i in range(4)]
    clips = [read(p) for p in paths]
    assert all(c.shape == (4800,) for c in clips)  # b: 2400 samples at 8 kHz → 4800 at 16 kHz
    for name, clip in (("a", clips[0]), ("b", clips[-1])):
        assert (
            run("vae", "reconstruct", "--workdir", work, wavs[name], tmp_path / f"{name}.wav") == 0
        )
        np.testing.assert_allclose(clip, read(tmp_path / f"{name}.wav"), atol=LSB)
    assert not np.allclose(clips[0], clips[-1], atol=1e-3)


def test_sample_prior_writes_clips_of_the_asked_duration(work, tmp_path):
    args = ("vae", "sample-prior", "--workdir", work, "--num", 2, "--seconds", 0.1)
    assert run(*args, "--out", tmp_path / "p", "--temperature", 0.5) == 0
    assert run(*args, "--out", tmp_path / "q", "--temperature", 0.5) == 0
    p = sorted((tmp_path / "p").glob("*.wav"))
    assert [x.name for x in p] == ["prior_0000.wav", "prior_0001.wav"]
    for x in p:
        assert sf.info(x).frames == 1600 and sf.info(x).samplerate == SR
        np.testing.assert_array_equal(read(x), read(tmp_path / "q" / x.name))  # seed 0 both
    assert not np.array_equal(read(p[0]), read(p[1]))


def test_training_monitors_reconstructions(work):
    """`wavegen train` on a VAE config logs the recon/* pitch and loudness scalars with no
    extra flags (train.monitor 'auto'), at the sample_every step (2) of the tiny run."""
    lines = [json.loads(s) for s in (work / "monitor.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2]
    assert {"recon/f0_within_50c", "recon/f0_num_clips", "recon/loudness_corr"} <= set(lines[0])
    assert lines[0]["recon/f0_num_clips"] == CFG.train.num_heldout  # 4 pitched held-out notes


def test_eval_recon_json(work, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert run("vae", "eval", "--workdir", work, "--json", out, "--max-examples", 4) == 0
    metrics = json.loads(out.read_text())
    assert set(metrics) == {
        "step",
        "split",
        "num_examples",
        "stft_distance",
        "mel_distance",
        "si_sdr_db",
        "f0_within_50c",
        "f0_median_error_cents",
        "f0_num_clips",
        "loudness_correlation",
    }
    assert (metrics["step"], metrics["split"], metrics["num_examples"]) == (2, "test", 4)
    # The synthetic notes are all pitched: every clip is counted.
    assert metrics["f0_num_clips"] == 4
    assert metrics["stft_distance"] > 0 and metrics["mel_distance"] > 0
    assert np.isfinite(metrics["si_sdr_db"])
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(printed.split("; written")[0]) == metrics

    # SI-SDR recomputed here: the first 4 test clips, written out, reconstructed through
    # `vae encode` + `vae decode` (16-bit WAVs) and scored with the textbook formula.
    from wavegen.data import build_dataset

    clips = np.asarray(build_dataset(CFG.data, split="test", progress=False).waveforms[:4])
    inputs = []
    for i, clip in enumerate(clips):
        inputs.append(tmp_path / f"in_{i}.wav")
        sf.write(inputs[-1], clip, SR, subtype="FLOAT")
    z = tmp_path / "z.npy"
    assert run("vae", "encode", "--workdir", work, *inputs, "--out", z) == 0
    assert run("vae", "decode", "--workdir", work, z, "--out", tmp_path / "dec") == 0
    decoded = [read(tmp_path / "dec" / f"decoded_{i:04d}.wav") for i in range(4)]
    scores = []
    for s, s_hat in zip(clips.astype(np.float64), decoded, strict=True):
        s, s_hat = s - s.mean(), s_hat[: len(s)] - s_hat[: len(s)].mean()
        target = (s_hat @ s) / (s @ s) * s  # the projection of the estimate on the reference
        scores.append(10 * np.log10(np.sum(target**2) / np.sum((target - s_hat) ** 2)))
    assert metrics["si_sdr_db"] == pytest.approx(np.mean(scores), abs=0.01)  # measured 0.0013


def test_generate_decodes_prior_draws(work, tmp_path, capsys):
    assert run("generate", "--workdir", work, "--num", 2, "--out", tmp_path / "g") == 0
    clips = [read(p) for p in sorted((tmp_path / "g").glob("*.wav"))]
    assert len(clips) == 2 and all(c.shape == (CFG.data.length,) for c in clips)
    assert not np.array_equal(clips[0], clips[1])
    assert run("generate", "--workdir", work, "--num", 2, "--out", tmp_path / "h") == 0
    for p in sorted((tmp_path / "h").glob("*.wav")):  # same seed, same clips
        np.testing.assert_array_equal(read(p), read(tmp_path / "g" / p.name))
    capsys.readouterr()
    assert run("generate", "--workdir", work, "--num", 2, "--label", 1, "--out", tmp_path) == 2
    assert "unconditional" in capsys.readouterr().err


def user_error(capsys, *argv) -> str:
    """Runs a command that must fail as a user error: exit 2, one line of ours on stderr (and
    no traceback; a library may still log a warning there)."""
    capsys.readouterr()
    assert run(*argv) == 2
    err = capsys.readouterr().err
    ours = [line for line in err.splitlines() if line.startswith("wavegen ")]
    name = " ".join(str(a) for a in argv[:2]) if argv[0] in ("vae", "eval", "data") else argv[0]
    assert len(ours) == 1 and ours[0].startswith(f"wavegen {name}: error:"), err
    assert "Traceback" not in err
    return ours[0]


def test_user_errors_exit_2_with_one_line(work, wavs, tmp_path, capsys):
    other = tmp_path / "gan"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model": {"name": "wavegan"}}))
    assert "'wavegan' run" in user_error(
        capsys, "vae", "reconstruct", "--workdir", other, wavs["a"], tmp_path / "x.wav"
    )
    assert "config.json" in user_error(capsys, "vae", "eval", "--workdir", tmp_path / "nothing")
    missing = tmp_path / "missing.wav"
    assert "missing.wav" in user_error(
        capsys, "vae", "encode", "--workdir", work, missing, "--out", tmp_path / "z.npy"
    )
    assert "missing.npy" in user_error(
        capsys, "vae", "decode", "--workdir", work, tmp_path / "missing.npy", "--out", tmp_path
    )
    np.save(tmp_path / "wrong.npy", np.zeros((1, 3, CFG.model.latent_dim + 1), np.float32))
    assert "latents" in user_error(
        capsys, "vae", "decode", "--workdir", work, tmp_path / "wrong.npy", "--out", tmp_path
    )
    assert "checkpoint" in user_error(
        capsys, "vae", "reconstruct", "--workdir", work, "--step", 7, wavs["a"], tmp_path / "x.wav"
    )
    # A bad argument value is argparse's error: exit 2 with usage and one line naming it.
    with pytest.raises(SystemExit) as exit_info:
        run(
            "vae",
            "interpolate",
            "--workdir",
            work,
            wavs["a"],
            wavs["b"],
            "--num",
            1,
            "--out",
            tmp_path,
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "wavegen vae interpolate: error: argument --num: must be >= 2, got 1" in err


def test_vae_commands_sit_under_vae(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("vae", "--help")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("encode", "decode", "reconstruct", "interpolate", "sample-prior", "eval"):
        assert command in out
    for old in ("encode", "reconstruct", "eval-recon"):  # no longer top-level commands
        with pytest.raises(SystemExit) as exit_info:
            run(old, "--workdir", "w")
        assert exit_info.value.code == 2
        assert "invalid choice" in capsys.readouterr().err
