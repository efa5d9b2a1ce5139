"""model.compute_dtype: bf16 use of float32 parameters, for every family."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wavegen.config import ConfigError, load_config
from wavegen.models import precision
from wavegen.train import build_task
from wavegen.train.loop import fit

REPO = Path(__file__).resolve().parents[2]
GAN = str(REPO / "experiments" / "quickstart.py") + ":tiny"
VAE = str(REPO / "experiments" / "vae_notes.py") + ":tiny"
RNN = str(REPO / "experiments" / "samplernn_fsdd.py") + ":tiny"


def test_unknown_compute_dtype_names_the_key():
    with pytest.raises(ConfigError, match="model.compute_dtype"):
        build_task(load_config(GAN, ["model.compute_dtype=float16"]))


def test_cast_touches_only_floating_arrays():
    tree = {"w": jnp.ones(3), "n": jnp.arange(3), "k": jax.random.key(0), "none": None}
    out = precision.cast_floating(tree, jnp.bfloat16)
    assert out["w"].dtype == jnp.bfloat16 and out["n"].dtype == tree["n"].dtype
    assert out["none"] is None and jax.dtypes.issubdtype(out["k"].dtype, jax.dtypes.prng_key)
    # float32 is the identity (the default path is the code from before the option).
    assert precision.cast_floating(tree, jnp.float32) is tree


def _dtypes_of_convs(fn, *args) -> set[str]:
    """The operand dtypes of every conv / dot in ``fn``'s jaxpr (nested jaxprs included)."""
    found: set[str] = set()

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name in ("conv_general_dilated", "dot_general"):
                found.update(str(v.aval.dtype) for v in eqn.invars)
            for value in eqn.params.values():  # nested jaxprs: pjit, scan, custom_vjp, ...
                for sub in value if isinstance(value, tuple | list) else (value,):
                    inner = getattr(sub, "jaxpr", sub)  # ClosedJaxpr → Jaxpr
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def test_bf16_generator_runs_its_convs_in_bf16_and_matches_float32():
    f32 = build_task(load_config(GAN))
    bf16 = build_task(load_config(GAN, ["model.compute_dtype=bfloat16"]))
    g = f32.init_state()["g"]
    z = f32.fixed_z[:4]
    labels = None if f32.fixed_labels is None else f32.fixed_labels[:4]
    assert _dtypes_of_convs(f32.generate, g, z, labels) == {"float32"}
    assert _dtypes_of_convs(bf16.generate, g, z, labels) == {"bfloat16"}
    ref, low = np.asarray(f32.generate(g, z, labels)), np.asarray(bf16.generate(g, z, labels))
    assert low.dtype == np.float32  # the audio leaves the network as float32
    # bf16 keeps 8 mantissa bits (relative step 2^-8 = 0.4%); a few layers compound that to a
    # few per cent of the output's scale, and never to zero error.
    err = np.abs(low - ref).max() / np.abs(ref).max()
    assert 1e-4 < err < 0.05


def _floats(state) -> np.ndarray:
    leaves = [x for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.floating)]
    assert leaves and all(x.dtype == jnp.float32 for x in leaves)  # params + optimiser state
    return np.concatenate([np.ravel(jax.device_get(x)) for x in leaves])


@pytest.mark.parametrize("config", [GAN, VAE, RNN], ids=["gan", "vae", "rnn"])
def test_bf16_training_keeps_float32_state_and_tracks_float32_updates(config, tmp_path):
    moved = {}
    for name in ("float32", "bfloat16"):
        cfg = load_config(config, ["train.num_steps=2", f"model.compute_dtype={name}"])
        start = _floats(build_task(cfg).init_state())
        moved[name] = _floats(fit(build_task(cfg), tmp_path / name, progress=False)) - start
    a, b = moved["float32"], moved["bfloat16"]
    # Same data, seeds and float32 parameters: bf16 gradients point the same way as float32
    # ones (Adam's first steps are ~lr * sign(grad), so only near-zero gradients may flip;
    # measured cosines 0.991 GAN, 0.9988 VAE, 0.9994 RNN), the state did move, and the bf16
    # run is not secretly the float32 one.
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert np.linalg.norm(a) > 0 and cosine > 0.95
    assert not np.array_equal(a, b)


def _logged(run, tag: str) -> np.ndarray:
    """Values [steps] of one scalar from a run's TensorBoard events, in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    return np.asarray([e.value for e in sorted(acc.Scalars(tag), key=lambda e: e.step)])


def test_bf16_gan_losses_follow_float32_over_ten_steps(tmp_path):
    """The issue's check: the same tiny run in bf16 logs the float32 run's losses, step by step,
    within a stated tolerance: 2% relative, plus 0.01 absolute for a loss near 0. bf16 rounds to
    0.4%; the runs' parameters drift apart a little more each step: measured over these ten
    steps, d/loss (~8) differs by up to 0.8%, g/loss (within 0.004 of 0 here) by up to 0.0007."""
    logged = {}
    for name in ("float32", "bfloat16"):
        overrides = ["train.num_steps=10", "train.log_every=1", f"model.compute_dtype={name}"]
        fit(build_task(load_config(GAN, overrides)), tmp_path / name, progress=False)
        logged[name] = {t: _logged(tmp_path / name, t) for t in ("d/loss", "g/loss")}
    for tag in ("d/loss", "g/loss"):
        ref, low = logged["float32"][tag], logged["bfloat16"][tag]
        assert len(ref) == len(low) == 10
        np.testing.assert_allclose(low, ref, rtol=0.02, atol=0.01, err_msg=tag)
        assert not np.array_equal(low, ref)
