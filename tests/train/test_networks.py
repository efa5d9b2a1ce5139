"""A task's networks (wavegen.train.networks): what `wavegen compile` compiles as its sampler and
`wavegen export` serialises, from the task itself for every family, never by model.name."""

from pathlib import Path

import jax
import numpy as np
import pytest

from wavegen.config import load_config
from wavegen.inference.export import ExportError, exportables
from wavegen.train import build_task
from wavegen.train.networks import task_networks

REPO = Path(__file__).resolve().parents[2]
B = 3


def _task(spec: str, *overrides: str):
    return build_task(load_config(str(REPO / "experiments" / spec), list(overrides)))


def _shapes(task, state) -> dict[str, tuple]:
    """Output shape and dtype of every network, traced abstractly (nothing is compiled)."""
    out = {}
    for n in task_networks(task, state, B):
        y = jax.eval_shape(n.fn, n.params, *n.inputs)
        out[n.name] = (tuple(y.shape), np.dtype(y.dtype).name, n.input_names)
    return out


@pytest.mark.parametrize("spec", ["quickstart.py", "quickstart.py:tiny"])  # conditional, not
def test_gan_generator_maps_latents_and_labels_to_clips(spec):
    task = _task(spec)
    state = jax.eval_shape(task.init_state)
    cfg = task.config
    (net,) = task_networks(task, state, B)
    names = ("latents", "labels") if cfg.model.num_classes else ("latents",)
    assert net.input_names == names and net.inputs[0].shape == (B, 100)  # the paper's z
    assert _shapes(task, state)["generator"][:2] == ((B, cfg.data.length), "float32")
    assert net.meta["num_classes"] == cfg.model.num_classes and not net.not_portable


def test_specgan_generator_is_the_normalised_spectrogram_with_its_inversion_in_meta():
    task = _task("specgan_sc09.py:tiny")
    state = jax.eval_shape(task.init_state)
    assert _shapes(task, state)["generator"][:2] == ((B, 128, 128), "float32")
    (net,) = task_networks(task, state, B)
    post = net.meta["postprocess"]
    assert post["function"] == "wavegen.data.spectral.features_to_waveform"
    assert post["length"] == task.config.data.length


def test_vae_decoder_then_encoder_with_the_frame_shapes():
    task = _task("vae_notes.py:tiny")
    s = task.settings
    shapes = _shapes(task, jax.eval_shape(task.init_state))
    frames = s.length // s.compression
    assert list(shapes) == ["generator", "encoder"]
    assert shapes["generator"] == ((B, frames * s.compression), "float32", ("latents",))
    assert shapes["encoder"] == ((B, frames, s.latent_dim), "float32", ("audio",))


def test_samplernn_sampler_compiles_but_does_not_export():
    task = _task("samplernn_fsdd.py:tiny", "model.num_classes=10")
    state = jax.eval_shape(task.init_state)
    shapes = _shapes(task, state)
    assert shapes["generator"] == ((B, task.config.data.length), "int32", ("key", "labels"))
    with pytest.raises(ExportError, match="its generator cannot be exported"):
        exportables(task, state, B)


def test_a_family_without_networks_is_refused_by_name():
    class NoNetworks:
        config = load_config(str(REPO / "experiments/quickstart.py:tiny"))

    with pytest.raises(NotImplementedError, match="'wavegan' exposes no networks"):
        task_networks(NoNetworks(), {}, B)
    with pytest.raises(ExportError, match="nothing to export"):
        exportables(NoNetworks(), {}, B)
