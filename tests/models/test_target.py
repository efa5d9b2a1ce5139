"""The conv formulation follows the devices a model is compiled for (wavegen.models.target),
not the process's default backend: a TPU or multi-device target never gets the CPU kernels."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from wavegen.config import load_config
from wavegen.models import build_gan, layers
from wavegen.models import one_channel_conv as occ
from wavegen.models.target import Target, current_target, use_target
from wavegen.train import build_task


def tiny_cfg(**model) -> ml_collections.ConfigDict:
    cfg = load_config("experiments/quickstart.py:tiny")
    cfg.model.update(model)
    return cfg


def generator_hlo(target: Target | None, cfg: ml_collections.ConfigDict | None = None) -> str:
    """HLO text of the tiny WaveGAN generator built for ``target``, lowered on this host."""
    cfg = cfg or tiny_cfg()
    g, _ = build_gan(cfg, rngs=nnx.Rngs(0), target=target)
    graph, params = nnx.split(g)
    z = jnp.zeros((2, cfg.model.latent_dim), jnp.float32)
    return jax.jit(lambda p, z: nnx.merge(graph, p)(z)).lower(params, z).as_text()


def test_target_names_and_validation():
    assert Target("cuda", 2) == Target("gpu", 2)
    assert Target("cpu").single_cpu and not Target("cpu", 8).single_cpu
    assert not Target("tpu", 1).single_cpu
    with pytest.raises(ValueError, match="platform"):
        Target("npu")
    with pytest.raises(ValueError, match="num_devices"):
        Target("cpu", 0)
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:2]), ("data",))
    assert Target.from_mesh(mesh) == Target("cpu", 2)


def test_default_is_this_process_and_scopes_nest():
    assert current_target() == Target(jax.default_backend(), jax.device_count())
    with use_target(Target("tpu", 4)):
        with use_target(None):
            assert current_target() == Target("tpu", 4)
        assert layers.Conv1d(1, 16, 25, 4, rngs=nnx.Rngs(0)).target == Target("tpu", 4)
    assert current_target() == Target.local()


def test_the_target_is_static_metadata_of_every_conv_layer():
    g, d = build_gan(tiny_cfg(), rngs=nnx.Rngs(0), target=Target("tpu", 4))
    convs = [m for _, m in nnx.iter_graph((g, d)) if isinstance(m, layers.ConvBase)]
    assert convs and all(c.target == Target("tpu", 4) for c in convs)
    # Not an array: the parameters of a TPU-built and a CPU-built model are the same pytree.
    g_cpu, _ = build_gan(tiny_cfg(), rngs=nnx.Rngs(0), target=Target("cpu", 1))
    same = jax.tree.map(np.array_equal, nnx.state(g, nnx.Param), nnx.state(g_cpu, nnx.Param))
    assert all(jax.tree.leaves(same))


@pytest.fixture(scope="module")
def native():
    if not occ.available():
        pytest.skip(f"native kernels not built here: {occ._state.get('error')}")


def test_single_cpu_target_lowers_to_the_native_kernels(native):
    # 8 simulated devices here (tests/conftest.py): the target alone decides.
    assert jax.device_count() == 8
    cfg = tiny_cfg(dim=16)  # the kernels take a multiple of 16 channels
    assert "WavegenOneChannelConvTranspose" in generator_hlo(Target("cpu", 1), cfg)


def test_multi_device_and_accelerator_targets_use_xla_forms(native):
    cfg = tiny_cfg(dim=16)
    for target in (Target("cpu", 8), Target("gpu", 1), Target("tpu", 4), None):
        assert "Wavegen" not in generator_hlo(target, cfg), target


def test_post_filter_is_fft_on_cpu_and_toeplitz_elsewhere():
    cfg = tiny_cfg(post_proc_filt_len=512)
    assert "fft" in generator_hlo(Target("cpu", 8), cfg)
    assert "fft" not in generator_hlo(Target("tpu", 4), cfg)


def test_build_task_keeps_the_target_for_every_family():
    for spec in ("experiments/quickstart.py:tiny", "experiments/vae_notes.py:tiny"):
        task = build_task(load_config(spec), target=Target("tpu", 4))
        assert task.target == Target("tpu", 4)
    assert build_task(load_config("experiments/quickstart.py:tiny")).target == Target.local()


def test_tpu_topology_lowering_has_no_wavegen_custom_call():
    """The issue's failure: a step lowered for TPU devices from this CPU host."""
    pytest.importorskip("libtpu", reason="libtpu not installed (pip install -e .[aot])")
    from wavegen.train import aot, parallel
    from wavegen.train.loop import make_step_fn

    devices = aot.topology_devices(aot.resolve_topology("v4:2x2x1"))
    mesh = jax.sharding.Mesh(np.asarray(devices), (parallel.DATA_AXIS,))
    cfg = load_config("experiments/quickstart.py:tiny")
    task = build_task(cfg, target=Target.from_mesh(mesh))
    state = aot._abstract(jax.eval_shape(task.init_state), parallel.replicated(mesh))
    batch = aot.abstract_batch(task, cfg, mesh)
    step = jax.ShapeDtypeStruct((), jnp.int32, sharding=parallel.replicated(mesh))
    text = jax.jit(make_step_fn(task, 0, "stop")).lower(state, batch, step).as_text()
    assert "Wavegen" not in text and "stablehlo" in text
