"""The latent prior through the shared loop, over a tiny VAE trained here: resume, data
parallelism, the sampler and the CLI (train, generate, vae sample-prior --prior), config checks."""

import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
import soundfile as sf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wavegen import cli
from wavegen.config import ConfigError, load_config
from wavegen.data import build_dataset
from wavegen.train import build_task, runs
from wavegen.train.checkpoint import CheckpointError
from wavegen.train.loop import SampleRequest, fit
from wavegen.train.parallel import make_mesh
from wavegen.train.prior import PriorTask

REPO = Path(__file__).resolve().parents[2]
VAE_TINY = str(REPO / "experiments" / "vae_notes.py") + ":tiny"
TINY = str(REPO / "experiments" / "prior_notes.py") + ":tiny"


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    """A tiny VAE trained for 1 step (no adversarial phase): 128 latent frames of 4 dims."""
    work = tmp_path_factory.mktemp("prior") / "vae"
    overrides = ["train.adversarial_start=-1", "train.num_steps=1", "train.checkpoint_every=1"]
    fit(build_task(load_config(VAE_TINY, overrides)), work, progress=False)
    return work


def tiny(vae: Path, *overrides: str):
    return load_config(TINY, [f"prior.vae_workdir={vae}", *overrides])


def params_of(state) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state["params"]))]


def test_data_are_the_vae_posterior_means(vae_run):
    """The training arrays: every clip's posterior means, L = 2048 / 16 frames of 4 dims."""
    task = PriorTask(tiny(vae_run))
    assert (task.frames, task.latent_dim, task.compression) == (128, 4, 16)
    dataset = build_dataset(task.config.data, split="train", progress=False)
    arrays = task.data_arrays(dataset)
    n = len(dataset)
    assert arrays["z"].shape == (n, 128, 4) and arrays["label"].shape == (n,)
    vae_task, vae_state, _ = runs.load_vae_run(vae_run)
    waves = np.asarray(dataset.waveforms[:5], np.float32)
    mean, _ = jax.device_get(vae_task.encode(vae_state["enc"], waves))  # eager, unbatched
    np.testing.assert_allclose(arrays["z"][:5], mean, rtol=1e-4, atol=1e-5)


def test_resume_equals_uninterrupted(vae_run, tmp_path):
    full = fit(build_task(tiny(vae_run, "train.num_steps=4")), tmp_path / "a", progress=False)
    fit(build_task(tiny(vae_run, "train.num_steps=2")), tmp_path / "b", progress=False)
    resumed = fit(build_task(tiny(vae_run, "train.num_steps=4")), tmp_path / "b", progress=False)
    init = params_of(build_task(tiny(vae_run)).init_state())
    moved = 0
    for x, y, x0 in zip(params_of(full), params_of(resumed), init, strict=True):
        np.testing.assert_array_equal(x, y)
        moved += not np.array_equal(x, x0)
    assert moved == len(init), "every parameter should have been updated"


def test_eight_devices_equal_one_device_with_sgd(vae_run, tmp_path):
    """One plain-SGD step on 1 and on 8 devices: the updates agree to 1e-4 of their norm (a
    per-device instead of a global mean would be off by 7/8)."""
    assert jax.device_count() >= 8, "conftest sets 8 simulated CPU devices"
    cfg = ("train.optimizer=sgd", "train.learning_rate=0.05", "train.num_steps=1")
    one = fit(PriorTask(tiny(vae_run, *cfg)), tmp_path / "one", mesh=make_mesh(1), progress=False)
    eight = fit(
        PriorTask(tiny(vae_run, *cfg)), tmp_path / "eight", mesh=make_mesh(8), progress=False
    )
    init = params_of(PriorTask(tiny(vae_run, *cfg)).init_state())
    moved = 0
    for x, y, x0 in zip(params_of(one), params_of(eight), init, strict=True):
        update = np.linalg.norm(x - x0)
        assert np.linalg.norm(y - x) <= 1e-4 * update + 1e-9
        moved += update > 0
    assert moved == len(init), "SGD should have changed every parameter"


def test_train_generate_and_sample_prior_through_the_cli(vae_run, tmp_path):
    work = tmp_path / "prior"
    argv = ["train", "--config", TINY, "--workdir", str(work), "--no-progress"]
    assert cli.main([*argv, f"--config.prior.vae_workdir={vae_run}"]) == 0
    assert (work / "done.json").is_file()
    acc = EventAccumulator(str(work), size_guidance={"audio": 0, "scalars": 0})
    acc.Reload()
    assert "loss/nll" in acc.Tags()["scalars"]
    for prefix in ("samples/", "real/", "vae_reconstruction/"):
        assert any(t.startswith(prefix) for t in acc.Tags()["audio"]), prefix

    out = tmp_path / "gen"
    assert cli.main(["generate", "--workdir", str(work), "--num", "3", "--out", str(out)]) == 0
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 3 and all(sf.info(w).frames == 2048 for w in wavs)

    # 0.3 s = 4800 samples: 300 latent frames (longer than training), cropped back.
    prior_out, normal_out = tmp_path / "learned", tmp_path / "normal"
    base = ["vae", "sample-prior", "--workdir", str(vae_run), "--num", "2", "--seconds", "0.3"]
    assert cli.main([*base, "--out", str(prior_out), "--prior", str(work)]) == 0
    assert cli.main([*base, "--out", str(normal_out)]) == 0
    learned = [sf.read(p, dtype="float32")[0] for p in sorted(prior_out.glob("prior_*.wav"))]
    normal = [sf.read(p, dtype="float32")[0] for p in sorted(normal_out.glob("prior_*.wav"))]
    assert len(learned) == len(normal) == 2
    assert all(x.shape == (4800,) for x in learned + normal)
    assert not np.array_equal(learned[0], normal[0])  # --prior changed where latents come from

    # A run that is not a latent prior, or a prior over another VAE run, is refused (exit 2).
    assert cli.main([*base, "--out", str(prior_out), "--prior", str(vae_run)]) == 2
    other = tmp_path / "other_vae"
    shutil.copytree(vae_run, other)
    argv = ["vae", "sample-prior", "--workdir", str(other), "--seconds", "0.1"]
    assert cli.main([*argv, "--out", str(prior_out), "--prior", str(work)]) == 2


def test_sample_latents_follow_the_noise_and_the_labels(vae_run):
    task = PriorTask(tiny(vae_run, "model.num_classes=3"))
    state = task.init_state()
    a = task.sample_latents(state, 4, frames=10, seed=1, batch_size=3)
    assert a.shape == (4, 10, 4) and a.dtype == np.float32
    # Batches of 3 + 1 and one of 4 differ only by float round-off.
    np.testing.assert_allclose(
        a, task.sample_latents(state, 4, frames=10, seed=1), rtol=1e-5, atol=1e-5
    )
    assert not np.allclose(a, task.sample_latents(state, 4, frames=10, seed=2))
    # Labels cycle 0, 1, 2, 0; --label 0 keeps clip 0 and changes clip 1.
    fixed = task.sample_latents(state, 4, frames=10, seed=1, label=0)
    np.testing.assert_allclose(fixed[0], a[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(fixed[1], a[1])
    # The interpolation moves the noise only: at temperature 0 all clips of one class agree.
    kw = dict(frames=10, seed=1, label=1, interpolate=True)
    line = task.sample_latents(state, 3, temperature=0.0, **kw)
    np.testing.assert_allclose(line[0], line[2], rtol=1e-5, atol=1e-5)
    line = task.sample_latents(state, 3, **kw)
    assert not np.allclose(line[0], line[2])
    with pytest.raises(ValueError, match="outside"):
        task.sample_latents(state, 1, label=3)


def test_unknown_prior_key_is_a_config_error_before_data_is_decoded(vae_run, monkeypatch, tmp_path):
    def no_data(*args, **kwargs):
        raise AssertionError("data was decoded before the config was checked")

    monkeypatch.setattr("wavegen.train.loop.build_dataset", no_data)
    with pytest.raises(ConfigError, match="prior.vae_wrkdir"):
        tiny(vae_run, "prior.vae_wrkdir=x")
    cfg = tiny(vae_run)
    with cfg.unlocked():
        cfg.prior.temperature = 0.5  # not a key of the schema
    with pytest.raises(ConfigError, match="prior.temperature"):
        fit(build_task(cfg), tmp_path / "bad", progress=False)
    with pytest.raises(ConfigError, match="prior.vae_workdir"):
        build_task(load_config(TINY))  # no VAE named
    argv = ["train", "--config", TINY, "--workdir", str(tmp_path / "cli"), "--no-progress"]
    assert cli.main([*argv, f"--config.prior.vae_workdir={vae_run}", "--config.prior.x=1"]) == 2
    with pytest.raises(ConfigError, match="data.length"):
        PriorTask(tiny(vae_run, "data.length=2050"))


def test_published_vae_and_prior_read_back_as_their_runs(vae_run, tmp_path):
    """`wavegen publish` of a VAE (encoder + decoder) and of a prior (with its VAE copied in):
    the folders encode, decode and sample exactly what the runs do, moved anywhere."""
    from wavegen.train.publish import publish_generator
    from wavegen.train.runs import load_run

    prior_dir = tmp_path / "prior"
    fit(build_task(tiny(vae_run, "train.num_steps=2")), prior_dir, progress=False)
    assert cli.main(["publish", "--workdir", str(vae_run), "--out", str(tmp_path / "pv")]) == 0
    publish_generator(prior_dir, tmp_path / "pp")
    moved = tmp_path / "elsewhere"
    shutil.move(str(tmp_path / "pp"), moved)  # self-contained: its VAE is inside
    vtask, vstate, _ = runs.load_vae_run(vae_run)
    ptask, pstate, _ = runs.load_vae_run(tmp_path / "pv")
    assert set(pstate) == {"enc", "dec"}
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 2048)).astype(np.float32)
    z = runs.encode(vtask, vstate, x)
    np.testing.assert_array_equal(runs.encode(ptask, pstate, x), z)
    np.testing.assert_array_equal(runs.decode(ptask, pstate, z), runs.decode(vtask, vstate, z))
    run_task, run_state, _ = load_run(prior_dir)
    pub_task, pub_state, step = load_run(moved)
    assert step == 2 and set(pub_state) == {"params"}
    want = run_task.sample_audio(run_state, SampleRequest(3, seed=1))
    np.testing.assert_array_equal(pub_task.sample_audio(pub_state, SampleRequest(3, seed=1)), want)
    # Pointing to the published VAE instead of copying it: the same samples, no vae/ inside.
    publish_generator(prior_dir, tmp_path / "pp2", vae=tmp_path / "pv")
    assert not (tmp_path / "pp2" / "vae").exists()
    task2, state2, _ = load_run(tmp_path / "pp2")
    np.testing.assert_array_equal(task2.sample_audio(state2, SampleRequest(3, seed=1)), want)
    other = tmp_path / "pv_other"  # a published VAE with other weights
    shutil.copytree(tmp_path / "pv", other)
    with np.load(other / "generator.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    first = sorted(arrays)[0]
    arrays[first] = arrays[first] + 1.0
    np.savez(other / "generator.npz", **arrays)
    with pytest.raises(CheckpointError, match="not those of the prior's VAE"):
        publish_generator(prior_dir, tmp_path / "pp3", vae=other)
