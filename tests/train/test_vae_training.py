"""VAE training through the shared loop on tiny shapes: resume, data parallelism, the phase-2
freeze, TensorBoard output, and the autoencode functions on the trained run."""

import math
from pathlib import Path

import jax
import numpy as np
import pytest
import soundfile as sf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wavegen.config import load_config
from wavegen.eval.reconstruction import evaluate_reconstruction
from wavegen.inference import autoencode
from wavegen.train import runs
from wavegen.train.checkpoint import CheckpointError
from wavegen.train.loop import SampleRequest, fit
from wavegen.train.parallel import make_mesh
from wavegen.train.vae import VAETask

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "experiments" / "vae_notes.py") + ":tiny"  # phase 2 from step index 1


def tiny(*overrides: str):
    return load_config(TINY, list(overrides))


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(tree))]


def params_of(state) -> list[np.ndarray]:
    return leaves({k: v for k, v in state.items() if k in ("enc", "dec", "disc")})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 4-step tiny run (step 0: VAE phase; steps 1-3: adversarial) and a 2-step run resumed
    to 4 steps in another workdir: (uninterrupted state, state after 2, resumed state, dirs)."""
    root = tmp_path_factory.mktemp("vae")
    full = fit(VAETask(tiny("train.num_steps=4")), root / "a", progress=False)
    half = fit(VAETask(tiny("train.num_steps=2")), root / "b", progress=False)
    half = jax.device_get(half)
    resumed = fit(VAETask(tiny("train.num_steps=4")), root / "b", progress=False)
    return full, half, resumed, root


def test_resume_equals_uninterrupted(trained):
    full, _, resumed, _ = trained
    for x, y in zip(params_of(full), params_of(resumed), strict=True):
        np.testing.assert_array_equal(x, y)
    assert int(full["step"]) == int(resumed["step"]) == 4


def test_adversarial_phase_freezes_the_encoder(trained):
    """Steps 1-3 are adversarial: the encoder after step 2 is the encoder after step 4, while
    the decoder and the discriminator keep changing."""
    full, half, _, _ = trained
    for x, y in zip(leaves(half["enc"]), leaves(full["enc"]), strict=True):
        np.testing.assert_array_equal(x, y)
    for part in ("dec", "disc"):
        pairs = zip(leaves(half[part]), leaves(full[part]), strict=True)
        assert any(not np.array_equal(x, y) for x, y in pairs), part


def test_tensorboard_has_losses_schedule_latents_and_reconstructions(trained):
    acc = EventAccumulator(
        str(trained[3] / "a"), size_guidance={"audio": 0, "scalars": 0, "images": 0}
    )
    acc.Reload()
    tags = acc.Tags()
    for name in (
        "recon/stft",
        "recon/mel",
        "kl",
        "kl/beta",
        "g/adv",
        "g/feature_matching",
        "d/loss",
        "loss/total",
        "heldout/si_sdr",
        "heldout/stft_distance",
        "latent/kl_channel/003",
        "latent/dims_for_99pct_variance",
    ):
        assert name in tags["scalars"], name
    assert "reconstruction/input/0" in tags["audio"]
    assert "reconstruction/output/1" in tags["audio"]
    assert "reconstruction/output_spectrogram/0" in tags["images"]
    # log_every=1: the value at step s is step index s-1's. β: 1e-4 → 0.1 log-linearly over 4.
    beta = {e.step: e.value for e in acc.Scalars("kl/beta")}
    for s in (1, 2, 3, 4):
        t = (s - 1) / 4
        assert beta[s] == pytest.approx(1e-4 ** (1 - t) * 0.1**t, rel=1e-5)
    phase = {e.step: e.value for e in acc.Scalars("train/adversarial")}
    assert phase == {1: 0.0, 2: 1.0, 3: 1.0, 4: 1.0}
    adv = {e.step: e.value for e in acc.Scalars("g/adv")}
    assert adv[1] == 0.0 and adv[2] != 0.0


def check_one_vs_eight_devices(tmp_path, *overrides: str) -> None:
    """One plain-SGD step (Adam would hide a gradient-scale bug) on 1 and on 8 devices: every
    parameter's update agrees to 1e-4 of its norm (measured: <= 2e-6; a per-device instead of
    global mean would be off by 7/8). Later steps amplify float round-off (~1e-4 after 2 steps
    at this learning rate), so one step is the clean comparison."""
    assert jax.device_count() >= 8, "conftest sets 8 simulated CPU devices"
    cfg = ("train.optimizer=sgd", "train.learning_rate=0.05", "train.num_steps=1", *overrides)
    one = fit(VAETask(tiny(*cfg)), tmp_path / "one", mesh=make_mesh(1), progress=False)
    eight = fit(VAETask(tiny(*cfg)), tmp_path / "eight", mesh=make_mesh(8), progress=False)
    init = params_of(VAETask(tiny(*cfg)).init_state())
    moved = 0
    for x, y, x0 in zip(params_of(one), params_of(eight), init, strict=True):
        update = np.linalg.norm(x - x0)
        assert np.linalg.norm(y - x) <= 1e-4 * update + 1e-9
        moved += update > 0
    assert moved > len(init) // 2, "SGD should have changed most parameters"


def test_eight_devices_equal_one_device_with_sgd(tmp_path):
    check_one_vs_eight_devices(tmp_path, "train.adversarial_start=-1")


@pytest.mark.slow
def test_eight_devices_equal_one_device_with_sgd_adversarial(tmp_path):
    """The same through an adversarial step (decoder and discriminator updates)."""
    check_one_vs_eight_devices(tmp_path, "train.adversarial_start=0")


def write_tone(path: Path, seconds: float, freq: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-3 * t)).astype(np.float32)
    sf.write(path, x, sr, subtype="PCM_16")
    return x


def test_autoencode_files_and_prior(trained, tmp_path):
    work = trained[3] / "a"
    task, state, step = runs.load_vae_run(work)
    assert step == 4
    compression = task.settings.compression
    for x, y in zip(params_of(state), params_of(trained[0]), strict=True):
        np.testing.assert_array_equal(x, y)

    # Any input length: padded to whole latent frames, cropped back.
    waves = np.random.default_rng(0).uniform(-0.5, 0.5, (3, 1000)).astype(np.float32)
    z = runs.encode(task, state, waves)
    assert z.shape == (3, math.ceil(1000 / compression), task.settings.latent_dim)
    assert runs.decode(task, state, z).shape == (3, z.shape[1] * compression)
    assert runs.reconstruct(task, state, waves).shape == waves.shape

    a = write_tone(tmp_path / "a.wav", 0.3, 440.0)
    write_tone(tmp_path / "b.wav", 0.2, 880.0)
    out = autoencode.reconstruct_file(work, tmp_path / "a.wav", tmp_path / "rec.wav")
    info = sf.info(out)
    assert (info.frames, info.samplerate, info.subtype) == (a.size, 16000, "PCM_16")

    paths = autoencode.interpolate_files(work, tmp_path / "a.wav", tmp_path / "b.wav", 3, tmp_path)
    assert [p.name for p in paths] == ["interp_0000.wav", "interp_0001.wav", "interp_0002.wav"]
    # The first end is the reconstruction of a (b is shorter, so a is not padded).
    first, _ = sf.read(paths[0], dtype="float32")
    rec, _ = sf.read(out, dtype="float32")
    np.testing.assert_allclose(first, rec, atol=2 / 32767)

    prior = autoencode.sample_prior(work, 2, 0.25, tmp_path / "prior", seed=1)
    assert len(prior) == 2 and all(sf.info(p).frames == 4000 for p in prior)

    metrics = evaluate_reconstruction(work, "test", max_examples=4)
    assert metrics["num_examples"] == 4 and metrics["step"] == 4
    for key in ("stft_distance", "mel_distance", "si_sdr_db"):
        assert np.isfinite(metrics[key]), key
    assert metrics["stft_distance"] > 0


def test_sample_audio_decodes_prior_draws(trained):
    """``wavegen generate`` on a VAE: clips of data.length, fixed by the seed; the interpolation
    is a straight line between two prior draws; a label is refused."""
    task = VAETask(tiny())
    state = trained[0]
    clips = task.sample_audio(state, SampleRequest(3, seed=5, batch_size=2))  # two batches
    assert clips.shape == (3, task.config.data.length) and clips.dtype == np.float32
    assert np.abs(clips).max() <= 1.0 and not np.array_equal(clips[0], clips[1])
    np.testing.assert_allclose(clips, task.sample_audio(state, SampleRequest(3, seed=5)), atol=1e-6)
    assert not np.array_equal(clips, task.sample_audio(state, SampleRequest(3, seed=6)))

    z = np.asarray(task.prior_latents(3, seed=5))
    frames = task.config.data.length // task.settings.compression
    assert z.shape == (3, frames, task.config.model.latent_dim)
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15  # N(0, I): 3 · 128 · 4 draws
    line = np.asarray(task.prior_latents(5, seed=5, interpolate=True))
    np.testing.assert_allclose(line[2], (line[0] + line[4]) / 2, atol=1e-6)
    np.testing.assert_allclose(line[1], (3 * line[0] + line[4]) / 4, atol=1e-6)
    assert not np.allclose(line[0], line[4])
    with pytest.raises(ValueError, match="unconditional"):
        task.sample_audio(state, SampleRequest(1, label=0))


def test_load_refuses_a_non_vae_or_missing_run(tmp_path):
    with pytest.raises(CheckpointError, match="config.json"):
        runs.load_vae_run(tmp_path)
    (tmp_path / "config.json").write_text('{"model": {"name": "wavegan"}}')
    with pytest.raises(CheckpointError, match="'wavegan' run"):
        runs.load_vae_run(tmp_path)


HARMONIC = (
    "model.harmonics=8",
    "model.latent_dim=4",
    "train.adversarial_start=-1",
    "model.f0_range=(60.0,2000.0)",
)


def test_harmonic_vae_carries_the_input_pitch_and_trains(tmp_path):
    """model.harmonics: the last latent channel is the input's pitch (octaves from A4),
    excluded from the KL; decoding a tone's latents gives audio of that f0; a run trains."""
    cfg = tiny(*HARMONIC)
    task = VAETask(cfg)
    state = jax.device_get(task.init_state())
    sr, n = cfg.data.sample_rate, cfg.data.length
    t = np.arange(n) / sr
    x = np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in (220.0, 660.0)]).astype(np.float32)
    mean, logvar = task.encode(state["enc"], x)
    frames = n // task.settings.compression
    assert mean.shape == (2, frames, 4)
    inner = np.asarray(mean[:, 1:-1, -1])  # the first/last frame reach into the padding
    expected = np.broadcast_to(np.log2([[0.5], [1.5]]), inner.shape)
    np.testing.assert_allclose(inner, expected, atol=0.02)
    assert task.learned_kl(mean, logvar).shape == (3,)
    y = np.asarray(task.decode(state["dec"], mean))
    assert y.shape == (2, n)
    # The untrained decoder's harmonic bank already sits at the input's f0: the strongest
    # harmonic-comb peak of each output is at 220 / 660 Hz (within one 2-Hz bin).
    spec = np.abs(np.fft.rfft(y * np.hanning(n), axis=-1))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    for f0, s in zip((220.0, 660.0), spec, strict=True):
        comb = [s[np.argmin(np.abs(freqs - k * f0))] for k in range(1, 4)]
        assert max(comb) > 10 * np.median(s)
    final = fit(VAETask(cfg), tmp_path / "run", progress=False)
    assert int(final["step"]) == cfg.train.num_steps
