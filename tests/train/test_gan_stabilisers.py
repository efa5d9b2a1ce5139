"""GAN stabilisers: EMA, R1/R2 (lazy), TTUR, augmentation, minibatch std, d_steps, short clips."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.train.test_gan_training import TINY, params_of
from wavegen.config import ConfigError, load_config
from wavegen.losses.gan import gradient_norm_penalty
from wavegen.models.wavegan import generator_convs, minibatch_stddev
from wavegen.train import augment, build_task
from wavegen.train.gan import ema_decay_at, ema_update
from wavegen.train.loop import SampleRequest, fit

STABILISED = (
    "train.d_steps=1",
    "train.ema_decay=0.99",
    "loss.name=dcgan",
    "loss.r1_weight=1.0",
    "loss.r2_weight=0.5",
    "loss.reg_every=2",
    "model.minibatch_std=4",
    "train.augment_p=0.5",
    "train.augment_shift=64",
    "train.augment_gain_db=3.0",
    "train.g_learning_rate=1e-4",
    "train.d_learning_rate=3e-4",
)


def tiny(*overrides: str):
    return load_config(TINY, ["data.length=4096", *overrides])


def one_step(task, state, step=0, seed=0):
    """Runs one jitted train step on a deterministic real batch of the task's shape."""
    cfg = task.config
    rng = np.random.default_rng(seed)
    lead = (
        (cfg.train.batch_size,)
        if task.batch_group == 1
        else (task.batch_group, cfg.train.batch_size)
    )
    batch = {
        "x": jnp.asarray(rng.uniform(-0.5, 0.5, lead + (cfg.data.length,)), jnp.float32),
        "label": jnp.zeros(lead, jnp.int32),
    }
    return jax.jit(task.train_step)(state, batch, jax.random.key(step))


# ---- EMA ----
def test_ema_decay_warms_up_like_tf_num_updates_then_holds():
    for n, want in [(0, 0.1), (1, 2 / 11), (90, 0.91), (10_000, 0.999)]:
        np.testing.assert_allclose(float(ema_decay_at(0.999, jnp.int32(n))), want, rtol=1e-6)


def test_ema_update_formula():
    ema, p = {"w": jnp.array([1.0, 2.0])}, {"w": jnp.array([3.0, -2.0])}
    out = ema_update(ema, p, jnp.float32(0.75))
    np.testing.assert_allclose(out["w"], 0.75 * np.array([1.0, 2.0]) + 0.25 * np.array([3.0, -2.0]))


def test_train_step_updates_ema_from_the_new_generator_weights():
    task = build_task(tiny("train.ema_decay=0.9", "train.d_steps=1"))
    state = task.init_state()
    g0 = jax.tree.map(np.asarray, state["g"])
    new, metrics = one_step(task, state)
    decay = 1.0 / 10.0  # min(0.9, (1 + 0) / (10 + 0)) at the first update
    np.testing.assert_allclose(float(metrics["g/ema_decay"]), decay, rtol=1e-6)
    for e, a, b in zip(
        jax.tree.leaves(new["g_ema"]), jax.tree.leaves(g0), jax.tree.leaves(new["g"]), strict=True
    ):
        np.testing.assert_allclose(e, decay * a + (1 - decay) * np.asarray(b), rtol=1e-5, atol=1e-7)
    assert int(new["step"]) == 1


def test_samples_come_from_the_ema_weights():
    task = build_task(tiny("train.ema_decay=0.9"))
    state = task.init_state()
    # Make G and its EMA differ: zero the EMA's output layer, so its clips are silent.
    state["g_ema"] = jax.tree.map(jnp.zeros_like, state["g_ema"])
    clips = task.sample_audio(state, SampleRequest(2))
    np.testing.assert_array_equal(clips, 0.0)
    assert np.abs(task.sample_audio({"g": state["g"]}, SampleRequest(2))).max() > 0


# ---- R1 / R2 ----
def test_r1_of_a_quadratic_critic_is_the_mean_squared_input_norm():
    # D(x) = 0.5 Σ_t a_t x_t² has ∇D = a ⊙ x, so R1 = mean_i Σ_t a_t² x_it² (analytic).
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.uniform(0.5, 2.0, 32), jnp.float32)
    x = jnp.asarray(rng.normal(size=(5, 32)), jnp.float32)
    pen = gradient_norm_penalty(lambda v: 0.5 * jnp.sum(a * v**2, axis=1), x)
    want = np.mean(np.sum((np.asarray(a) * np.asarray(x)) ** 2, axis=1))
    np.testing.assert_allclose(float(pen), want, rtol=1e-5)


def test_lazy_r1_runs_every_reg_every_critic_updates():
    task = build_task(
        tiny("loss.name=dcgan", "loss.r1_weight=1.0", "loss.reg_every=3", "train.d_steps=1")
    )
    state = task.init_state()
    seen = []
    for step in range(6):
        state, metrics = one_step(task, state, step)
        seen.append(float(metrics["d/regularized"]))
        assert (float(metrics["d/r1_penalty"]) > 0) == bool(seen[-1])
    assert seen == [1, 0, 0, 1, 0, 0]


def test_r1_adds_gamma_half_times_the_penalty_to_the_critic_loss():
    base = build_task(tiny("loss.name=dcgan", "train.d_steps=1"))
    reg = build_task(tiny("loss.name=dcgan", "train.d_steps=1", "loss.r1_weight=4.0"))
    _, m0 = one_step(base, base.init_state())
    _, m1 = one_step(reg, reg.init_state())
    np.testing.assert_allclose(float(m1["d/adv_loss"]), float(m0["d/loss"]), rtol=1e-5)
    want = float(m0["d/loss"]) + 2.0 * float(m1["d/r1_penalty"])
    np.testing.assert_allclose(float(m1["d/loss"]), want, rtol=1e-5)


# ---- TTUR ----
def test_separate_learning_rates_scale_each_networks_first_sgd_update():
    def first_update(**rates):
        ov = [f"train.{k}={v}" for k, v in rates.items()]
        task = build_task(tiny("train.optimizer=sgd", "train.d_steps=1", *ov))
        state = task.init_state()
        before = jax.tree.map(np.asarray, {"g": state["g"], "d": state["d"]})
        new, _ = one_step(task, state)
        return {
            k: np.concatenate(
                [
                    np.ravel(np.asarray(b) - a)
                    for a, b in zip(
                        jax.tree.leaves(before[k]), jax.tree.leaves(new[k]), strict=True
                    )
                ]
            )
            for k in ("g", "d")
        }

    ref = first_update(learning_rate=1e-3)
    ttur = first_update(learning_rate=1e-3, d_learning_rate=3e-3)
    np.testing.assert_allclose(ttur["d"], 3.0 * ref["d"], rtol=1e-4, atol=1e-7)
    # G steps through the *updated* D, so only its first update under equal D rates compares.
    g_only = first_update(learning_rate=1e-3, g_learning_rate=2e-3)
    np.testing.assert_allclose(g_only["g"], 2.0 * ref["g"], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(g_only["d"], ref["d"], rtol=1e-6, atol=1e-12)


# ---- augmentation ----
def test_augment_applies_one_draw_identically_to_any_batch():
    key = jax.random.key(3)
    params = augment.sample_params(key, 6, max_shift=5, max_gain_db=6.0, p=1.0)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(6, 40)), jnp.float32)
    out = np.asarray(augment.apply(x, params))
    for i in range(6):
        s, g = int(params.shift[i]), float(params.gain[i])
        want = np.zeros(40, np.float32)
        if s >= 0:
            want[s:] = np.asarray(x[i, : 40 - s])
        else:
            want[:s] = np.asarray(x[i, -s:])
        np.testing.assert_allclose(out[i], g * want, rtol=1e-6)
    # Real and fake batches with the same key get the same transform distribution: same params.
    again = augment.sample_params(key, 6, max_shift=5, max_gain_db=6.0, p=1.0)
    np.testing.assert_array_equal(params.shift, again.shift)


def test_augment_statistics_match_the_configured_distribution():
    params = augment.sample_params(jax.random.key(0), 20_000, max_shift=4, max_gain_db=6.0, p=0.3)
    shift, gain_db = np.asarray(params.shift), 20 * np.log10(np.asarray(params.gain))
    applied = gain_db != 0
    assert abs(applied.mean() - 0.3) < 0.015
    assert np.abs(gain_db).max() <= 6.0 + 1e-4
    # Shifts are uniform on -4..4 when applied; P(shift = 0) = 0.7 + 0.3 / 9.
    assert abs((shift == 0).mean() - (0.7 + 0.3 / 9)) < 0.015
    assert shift.min() == -4 and shift.max() == 4


def test_augment_is_differentiable_in_the_audio():
    params = augment.AugmentParams(jnp.array([2, -1], jnp.int32), jnp.array([2.0, 0.5]))
    grad = jax.grad(lambda x: jnp.sum(augment.apply(x, params)))(jnp.ones((2, 8)))
    # Output sample t reads input t - s: inputs shifted off the end get no gradient.
    np.testing.assert_allclose(grad[0], [2, 2, 2, 2, 2, 2, 0, 0])
    np.testing.assert_allclose(grad[1], [0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])


# ---- minibatch stddev ----
def test_minibatch_stddev_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(8, 5, 3)).astype(np.float32)
    out = np.asarray(minibatch_stddev(jnp.asarray(h), 4))
    assert out.shape == (8, 5, 4)
    np.testing.assert_array_equal(out[..., :3], h)
    for i in range(8):
        group = h[i % 2 :: 2]  # the examples j ≡ i (mod B/G), B/G = 2
        want = np.mean(np.sqrt(np.var(group, axis=0) + 1e-8))
        np.testing.assert_allclose(out[i, :, 3], want, rtol=1e-5)


def test_minibatch_stddev_is_zero_for_identical_examples():
    h = jnp.tile(jnp.arange(6.0).reshape(1, 3, 2), (4, 1, 1))
    np.testing.assert_allclose(minibatch_stddev(h, 4)[..., 2], 1e-4, rtol=1e-3)


# ---- d_steps, lengths, validation ----
@pytest.mark.parametrize("d_steps", [1, 2, 3])
def test_every_d_steps_trains_through_the_loop(tmp_path, d_steps):
    cfg = tiny(f"train.d_steps={d_steps}", "train.num_steps=2")
    state = fit(build_task(cfg), tmp_path, progress=False)
    assert int(state["step"]) == 2


@pytest.mark.parametrize("length", [4096, 8192])
def test_short_wavegan_lengths(length):
    cfg = load_config(TINY, [f"data.length={length}"])
    specs = generator_convs(cfg.model, length)
    assert specs[-1].out_len == length and specs[-1].out_ch == 1
    task = build_task(cfg)
    state = task.init_state()
    clips = task.sample_audio(state, SampleRequest(3))
    assert clips.shape == (3, length)
    logits = task.critic(state["d"], jnp.asarray(clips), None, jax.random.key(0))
    assert logits.shape == (3,)


@pytest.mark.parametrize(
    "override, key",
    [
        ("train.ema_decay=1.0", "train.ema_decay"),
        ("loss.r1_weight=-1.0", "loss.r1_weight"),
        ("loss.reg_every=0", "loss.reg_every"),
        ("train.augment_p=1.5", "train.augment_p"),
        ("train.augment_shift=5000", "train.augment_shift"),
        ("train.d_steps=0", "train.d_steps"),
        ("loss.name=wasserstein", "loss.name"),
        ("model.minibatch_std=-1", "model.minibatch_std"),
    ],
)
def test_bad_stabiliser_keys_fail_when_the_task_is_built(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_task(tiny(override))


def test_resume_is_bit_identical_with_every_stabiliser_on(tmp_path):
    full = fit(build_task(tiny(*STABILISED, "train.num_steps=4")), tmp_path / "a", progress=False)
    fit(build_task(tiny(*STABILISED, "train.num_steps=2")), tmp_path / "b", progress=False)
    resumed = fit(
        build_task(tiny(*STABILISED, "train.num_steps=4")), tmp_path / "b", progress=False
    )
    for x, y in zip(params_of(full), params_of(resumed), strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(jax.tree.leaves(full["g_ema"]), jax.tree.leaves(resumed["g_ema"]), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
