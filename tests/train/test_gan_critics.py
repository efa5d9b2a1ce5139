"""WaveGAN with spectral normalisation, the library's critics and mean-feature matching."""

import jax
import numpy as np
import pytest

from tests.train.test_gan_stabilisers import one_step, tiny
from tests.train.test_gan_training import params_of
from wavegen.config import ConfigError, load_config
from wavegen.models import spectral_norm as sn
from wavegen.train import build_task
from wavegen.train.loop import fit

SN = ("model.spectral_norm=True", "loss.name=hinge")
# The cheapest library critic beside the paper's D, at width 1, for the end-to-end tests.
MULTI = (
    "model.critic=wavegan+mrstft",
    "model.critic_channels=1",
    "loss.feature_matching=1.0",
    "loss.name=hinge",  # no WGAN-GP double backward through the STFT critic: compiles in ~1 min
)
# The log-spectrogram critic: a multi-critic that compiles in seconds (the default suite's).
SPEC = ("model.critic=wavegan+spec", "loss.feature_matching=1.0", "loss.name=hinge")


def _sigma_max(w) -> float:
    w = np.asarray(w, np.float64)
    return float(np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0])


def _power_step(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    v = m @ u
    v /= np.linalg.norm(v)
    u = m.T @ v
    return u / np.linalg.norm(u)


# ---- spectral normalisation ----
@pytest.mark.slow  # ~35 s; tests/models/test_spectral_norm.py checks sigma = 1 in the default suite
def test_effective_kernels_have_unit_spectral_norm_after_training_steps():
    task = build_task(tiny(*SN))
    state = task.init_state()
    assert max(_sigma_max(w) for w in jax.tree.leaves(state["d"]) if w.ndim >= 2) > 1.1
    for step in range(10):  # 20 critic updates, so 20 power iterations
        state, metrics = one_step(task, state, step, seed=step)
    eff, _ = sn.normalize(state["d"], state["d_sn"])
    kernels = [w for w in jax.tree.leaves(eff) if w.ndim >= 2]
    assert len(kernels) == 5  # four convs and the dense head
    for w in kernels:
        # σ(W, u) = ||M u|| never exceeds σ_max, so W / σ is at least 1; above 1 by how far one
        # power iteration per update lags the moving weights (1.012 at most here; allow 5%).
        assert 1 - 1e-5 <= _sigma_max(w) <= 1.05
    assert np.isfinite(float(metrics["d/sn_sigma"]))


def test_vectors_advance_by_one_power_iteration_per_critic_update_not_by_the_optimizer():
    task = build_task(
        tiny(*SN, "train.d_steps=1", "train.optimizer=sgd", "train.learning_rate=0.1")
    )
    state = task.init_state()
    before = jax.tree.map(np.asarray, {"d": state["d"], "u": state["d_sn"]})
    new, _ = one_step(task, state)
    # The optimiser state is D's alone, as with SN off.
    off = build_task(tiny("loss.name=hinge", "train.d_steps=1", "train.optimizer=sgd"))
    assert jax.tree.structure(new["d_opt"]) == jax.tree.structure(off.init_state()["d_opt"])
    # One iteration from the pre-step weights: G's update read the vectors without advancing.
    for name in ("0", "1", "2", "3"):
        w = before["d"]["downconvs"][int(name)]["kernel"].astype(np.float64)
        u = before["u"]["downconvs"][name]["kernel"].astype(np.float64)
        want = _power_step(w.reshape(-1, w.shape[-1]), u)
        np.testing.assert_allclose(new["d_sn"]["downconvs"][name]["kernel"], want, rtol=1e-4)
    # The weights moved (lr 0.1) while u is exactly the iteration above: not a trained leaf.
    assert not np.allclose(
        new["d"]["downconvs"][1]["kernel"], before["d"]["downconvs"][1]["kernel"]
    )


def test_critic_update_logs_the_mean_sigma_it_divided_by():
    task = build_task(tiny(*SN, "train.d_steps=1"))
    state = task.init_state()
    _, metrics = one_step(task, state)
    u = sn.power_iteration(state["d"], state["d_sn"])
    _, sigmas = sn.normalize(state["d"], u)
    np.testing.assert_allclose(float(metrics["d/sn_sigma"]), float(np.mean(sigmas)), rtol=1e-5)


def test_sn_off_leaves_the_state_exactly_as_before():
    state = build_task(tiny()).init_state()
    assert sorted(state) == ["d", "d_opt", "g", "g_opt", "step"]
    assert jax.tree.map(np.shape, state["d"]) == {
        "downconvs": {
            i: {"bias": (4 << i,), "kernel": (25, 1 if i == 0 else 2 << i, 4 << i)}
            for i in range(4)
        },
        "head": {"linear": {"bias": (1,), "kernel": (16 * 32, 1)}},
    }
    _, metrics = one_step(build_task(tiny()), state)
    assert "d/sn_sigma" not in metrics and "g/feature_matching" not in metrics


@pytest.mark.parametrize("name", ["wavegan_sc09", "specgan_sc09"])
def test_paper_configs_keep_the_papers_critic(name):
    cfg = load_config(f"experiments/{name}.py")
    assert cfg.model.critic == "wavegan" and cfg.model.spectral_norm is False
    assert cfg.loss.feature_matching == 0.0


# ---- library critics and feature matching ----
@pytest.mark.slow  # ~100 s, nearly all compiling the STFT critic's double backward
def test_wavegan_plus_mrstft_trains_with_finite_losses_and_logs_feature_matching():
    _multi_critic_trains(MULTI)


def test_spec_critic_trains_with_finite_losses_and_logs_feature_matching():
    _multi_critic_trains(SPEC)


def _multi_critic_trains(critic):
    task = build_task(tiny(*critic))
    state = task.init_state()
    assert sorted(state["d"]["parts"]) == [0, 1]
    for step in range(3):
        state, metrics = one_step(task, state, step, seed=step)
    values = {k: float(v) for k, v in metrics.items()}
    assert all(np.isfinite(v) for v in values.values()), values
    assert values["g/feature_matching"] > 0
    np.testing.assert_allclose(
        values["g/loss"], values["g/adv_loss"] + values["g/feature_matching"], rtol=1e-5
    )


def test_feature_matching_with_the_default_critic_uses_wavegans_features():
    task = build_task(tiny("loss.feature_matching=2.0", "train.d_steps=1"))
    _, m = one_step(task, task.init_state())
    np.testing.assert_allclose(
        float(m["g/loss"]), float(m["g/adv_loss"]) + 2.0 * float(m["g/feature_matching"]), rtol=1e-5
    )


@pytest.mark.parametrize(
    "override, key",
    [
        (["model.critic=foo"], "model.critic"),
        (["model.critic=wavegan+wavegan"], "model.critic"),
        (["model.critic=msd+"], "model.critic"),
        (["model.critic=msd", "model.num_classes=2"], "model.critic"),
        (["model.critic=mpd", "model.minibatch_std=4"], "model.critic"),
        (["model.critic_channels=0"], "model.critic_channels"),
        (["loss.feature_matching=-1.0"], "loss.feature_matching"),
    ],
)
def test_bad_critic_keys_fail_when_the_task_is_built(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_task(tiny(*override))


def test_specgan_refuses_wavegan_only_keys():
    spec = "experiments/specgan_sc09.py"
    for override, key in [
        ("model.critic=msd", "model.critic"),
        ("model.spectral_norm=True", "model.spectral_norm"),
        ("loss.feature_matching=1.0", "loss.feature_matching"),
    ]:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            build_task(load_config(spec, [override]))


def test_resume_is_bit_identical_with_sn_critics_and_feature_matching(tmp_path):
    ov = (*SN, *SPEC, "train.ema_decay=0.99")
    full = fit(build_task(tiny(*ov, "train.num_steps=4")), tmp_path / "a", progress=False)
    fit(build_task(tiny(*ov, "train.num_steps=2")), tmp_path / "b", progress=False)
    resumed = fit(build_task(tiny(*ov, "train.num_steps=4")), tmp_path / "b", progress=False)
    for x, y in zip(params_of(full), params_of(resumed), strict=True):
        np.testing.assert_array_equal(x, y)
    for k in ("d_sn", "g_ema", "d_opt"):
        for x, y in zip(jax.tree.leaves(full[k]), jax.tree.leaves(resumed[k]), strict=True):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
