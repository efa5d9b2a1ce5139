"""Checkpointer, write_config, abstract_like, leaf names and read_saved_state, on small pytrees.

test_checkpoint_faults.py covers damage (tampered files, unwritable directories, NaN never
saved, no pickle); here: what a healthy round trip keeps, which steps are kept, which configs
may resume a workdir.
"""

import json
import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec, SingleDeviceSharding

from wavegen.train.checkpoint import (
    RESUMABLE_KEYS,
    Checkpointer,
    CheckpointError,
    abstract_like,
    leaf_name,
    leaf_names,
    read_saved_state,
    write_config,
)
from wavegen.train.parallel import make_mesh, replicated


def nested_state(offset: int = 0) -> dict:
    """A state with every dtype a training state holds, nested dicts, a list and a tuple, and
    values whose bits are easy to lose: -0.0, the largest float32, a denormal, int extremes."""
    rng = np.random.default_rng(7)
    return {
        "g": {
            "kernel": (rng.standard_normal((3, 5)) + offset).astype(np.float32),
            "edges": np.array([-0.0, np.finfo(np.float32).max, 1e-45, -1.5], np.float32),
            "bf16": np.array([1.0, -2.5, 3.0e38, 2.0**-130, offset], ml_dtypes.bfloat16),
            "f16": np.array([65504.0, -0.0, 6e-8, offset], np.float16),
        },
        "opt": [
            {"count": np.int32(offset), "mu": rng.standard_normal(4).astype(np.float32)},
            (np.array([2**31 - 1, -(2**31), offset], np.int32), np.uint8(255)),
        ],
        "flags": np.array([True, False, bool(offset % 2)]),
        "step_scale": np.float32(0.125 * offset),
    }


def bits(x) -> np.ndarray:
    """The raw bytes of an array (bit-exact comparison, -0.0 and NaN payloads included)."""
    x = np.asarray(x)
    return np.frombuffer(np.ascontiguousarray(x).tobytes(), np.uint8)


def assert_bit_equal(got, want) -> None:
    got_leaves, got_def = jax.tree.flatten(got)
    want_leaves, want_def = jax.tree.flatten(want)
    assert got_def == want_def
    for g, w in zip(got_leaves, want_leaves, strict=True):
        g = np.asarray(g)
        assert g.dtype == np.asarray(w).dtype and g.shape == np.shape(w)
        np.testing.assert_array_equal(bits(g), bits(w))


META = {
    "step": 3,
    "data_iterator": {"epoch": 1, "batch": 7},
    "config": {"train": {"lr": 1e-4, "profile_steps": []}, "name": "wavegan"},
    "moments": [0.25, -1.5e-7, 3.0],
    "flag": True,
    "none": None,
    "text": "grüße ✓",
}


def test_round_trip_is_bit_exact_for_every_dtype_and_keeps_meta(tmp_path):
    state = nested_state(1)
    ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
    assert ckpt.latest_step() is None and ckpt.all_steps() == []
    ckpt.save(3, state, META)
    ckpt.close()

    ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)  # a new process reading it
    restored, meta, step = ckpt.restore(abstract_like(state))
    ckpt.close()
    assert step == 3
    assert meta == META  # JSON round trip; the checksums are not handed back
    assert_bit_equal(restored, state)
    assert isinstance(restored["opt"], list) and isinstance(restored["opt"][1], tuple)


def test_async_save_restores_after_wait(tmp_path):
    state = nested_state(2)
    ckpt = Checkpointer(tmp_path / "ckpt")  # async by default
    ckpt.save(5, state, {"step": 5})
    ckpt.wait()
    assert ckpt.latest_step() == 5
    restored, meta, _ = ckpt.restore(abstract_like(state))
    ckpt.close()
    assert meta == {"step": 5}
    assert_bit_equal(restored, state)


def test_keep_n_keeps_the_newest_and_any_kept_step_restores(tmp_path):
    ckpt = Checkpointer(tmp_path / "ckpt", keep=2, async_save=False)
    for step in (10, 20, 30, 40, 50):
        ckpt.save(step, nested_state(step), {"step": step})
    assert ckpt.all_steps() == [40, 50] and ckpt.latest_step() == 50
    on_disk = sorted(int(p.name) for p in (tmp_path / "ckpt").iterdir() if p.name.isdigit())
    assert on_disk == [40, 50]
    like = abstract_like(nested_state())
    for step in (40, 50):
        restored, meta, got = ckpt.restore(like, step=step)
        assert got == step and meta == {"step": step}
        assert_bit_equal(restored, nested_state(step))
    with pytest.raises(CheckpointError, match=r"no checkpoint for step 30 .*have \[40, 50\]"):
        ckpt.restore(like, step=30)
    ckpt.close()


def test_restore_of_an_empty_directory_is_a_clear_error(tmp_path):
    ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
    with pytest.raises(CheckpointError, match=re.escape(f"no checkpoint in {tmp_path / 'ckpt'}")):
        ckpt.restore(abstract_like(nested_state()))
    ckpt.close()


def test_restore_into_another_shape_or_structure_is_a_clear_error(tmp_path):
    ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
    ckpt.save(1, nested_state(), {})
    wrong_shape = nested_state()
    wrong_shape["g"]["kernel"] = np.zeros((3, 6), np.float32)
    with pytest.raises(CheckpointError, match=re.escape(str(tmp_path / "ckpt" / "1"))):
        ckpt.restore(abstract_like(wrong_shape))
    missing = nested_state()
    del missing["flags"]
    with pytest.raises(CheckpointError, match="does not match"):
        ckpt.restore(abstract_like(missing))
    ckpt.close()


def test_restore_places_arrays_on_the_shardings_asked_for(tmp_path):
    mesh = make_mesh()
    state = {"w": np.arange(16, dtype=np.float32), "b": np.ones(3, np.float32)}
    ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
    ckpt.save(1, jax.device_put(state, replicated(mesh)), {})
    sharded = NamedSharding(mesh, PartitionSpec("data"))
    for w_sharding in (replicated(mesh), sharded):
        like = abstract_like(
            {
                "w": jax.device_put(state["w"], w_sharding),
                "b": jax.device_put(state["b"], replicated(mesh)),
            }
        )
        restored, _, _ = ckpt.restore(like)
        assert restored["w"].sharding.is_equivalent_to(w_sharding, 1)
        assert restored["b"].sharding.is_equivalent_to(replicated(mesh), 1)
        assert_bit_equal(restored, state)
    # Read back for one device (e.g. generation on a laptop from a pod's checkpoint).
    restored, _, _ = ckpt.restore(abstract_like(jax.eval_shape(lambda: state)))
    ckpt.close()
    first = SingleDeviceSharding(jax.local_devices()[0])
    assert restored["w"].sharding == restored["b"].sharding == first
    assert_bit_equal(restored, state)


def test_a_state_mixing_mesh_and_single_device_leaves_saves_and_restores(tmp_path):
    """Leaves on different device sets (a mesh-replicated one, one on the first device) save,
    restore, and have their checksums checked (one finiteness / checksum call per device set)."""
    mesh = make_mesh()
    state = {
        "w": jax.device_put(np.arange(16, dtype=np.float32), replicated(mesh)),
        "b": jax.device_put(np.ones(3, np.float32), jax.local_devices()[0]),
    }
    ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
    try:
        ckpt.save(1, state, {})
        restored, _, _ = ckpt.restore(abstract_like(state))
    finally:
        ckpt.close()
    assert_bit_equal(restored, jax.device_get(state))


def test_abstract_like_keeps_shapes_dtypes_and_shardings_or_picks_the_first_device():
    mesh = make_mesh()
    tree = {
        "host": np.zeros((2, 3), np.int32),
        "mesh": jax.device_put(jnp.ones(8, jnp.bfloat16), replicated(mesh)),
        "shape_only": jax.ShapeDtypeStruct((4,), jnp.float32),
        "nested": [np.float32(1.0)],
    }
    out = abstract_like(tree)
    assert jax.tree.structure(out) == jax.tree.structure(tree)
    first = SingleDeviceSharding(jax.local_devices()[0])
    expected = {
        "host": ((2, 3), jnp.int32, first),
        "mesh": ((8,), jnp.bfloat16, replicated(mesh)),
        "shape_only": ((4,), jnp.float32, first),
    }
    for key, (shape, dtype, sharding) in expected.items():
        leaf = out[key]
        assert isinstance(leaf, jax.ShapeDtypeStruct)
        assert (leaf.shape, leaf.dtype, leaf.sharding) == (shape, dtype, sharding), key
    assert (out["nested"][0].shape, out["nested"][0].dtype) == ((), jnp.float32)


def test_write_config_accepts_the_same_config_and_resumable_changes_only(tmp_path):
    work = tmp_path / "run"
    cfg = {"seed": 0, "model": {"dim": 64}, "train": {"num_steps": 10, "log_every": 5}}
    write_config(work, cfg)
    assert json.loads((work / "config.json").read_text()) == cfg
    write_config(work, cfg)  # the same config resumes
    longer = {**cfg, "train": {"num_steps": 20, "log_every": 1}}
    assert {"train.num_steps", "train.log_every"} <= set(RESUMABLE_KEYS)
    write_config(work, longer)  # may run longer and report more often
    assert json.loads((work / "config.json").read_text()) == longer  # the file is updated
    assert not list(work.glob("*.tmp"))

    other = {**longer, "model": {"dim": 32}, "seed": 1}
    with pytest.raises(CheckpointError, match="different config") as err:
        write_config(work, other)
    assert "model.dim" in str(err.value) and "seed" in str(err.value)
    assert "train.num_steps" not in str(err.value)
    assert json.loads((work / "config.json").read_text()) == longer  # untouched on refusal


def test_write_config_refuses_a_damaged_config_file(tmp_path):
    work = tmp_path / "run"
    work.mkdir()
    (work / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        write_config(work, {"seed": 0})
    assert (work / "config.json").read_text() == "{not json"


@pytest.mark.parametrize(
    "keystr, name",
    [
        ("['g_opt'][0].mu['b']", "g_opt/0/mu/b"),
        ("['g']['downconvs']['0']['kernel']", "g/downconvs/0/kernel"),
        ("['g']['downconvs'][0]['kernel']", "g/downconvs/0/kernel"),
        ('["a b"][-1]', "a b/-1"),
    ],
)
def test_leaf_name_is_the_same_for_live_and_saved_paths(keystr, name):
    assert leaf_name(keystr) == name


def test_leaf_names_follow_tree_leaves_order_and_name_namedtuple_fields():
    class Adam(NamedTuple):
        count: np.ndarray
        mu: dict

    tree = {"b": [np.zeros(1), {"x": np.zeros(1)}], "a": (Adam(np.zeros(1), {0: np.zeros(1)}),)}
    assert leaf_names(tree) == ["a/0/count", "a/0/mu/0", "b/0", "b/1/x"]
    # The same state as orbax saves it (dicts with string keys, lists): the same names.
    saved = {"b": [np.zeros(1), {"x": np.zeros(1)}], "a": [{"count": np.zeros(1), "mu": {"0": 0}}]}
    assert leaf_names(saved) == leaf_names(tree)


def test_read_saved_state_reads_any_step_without_the_model_and_leaves_it_untouched(tmp_path):
    ckpt = Checkpointer(tmp_path / "ckpt", keep=3, async_save=False)
    for step in (1, 2):
        ckpt.save(step, nested_state(step), {"step": step})
    ckpt.close()
    before = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "ckpt").rglob("*"))

    state, meta, step = read_saved_state(tmp_path / "ckpt")
    assert step == 2 and meta == {"step": 2}
    # orbax's saved structure: the tuple comes back as a list; the names and bits are the same.
    want = nested_state(2)
    assert leaf_names(state) == leaf_names(want)
    for got, expected in zip(jax.tree.leaves(state), jax.tree.leaves(want), strict=True):
        assert np.asarray(got).dtype == np.asarray(expected).dtype
        np.testing.assert_array_equal(bits(got), bits(expected))
    old, _, step = read_saved_state(tmp_path / "ckpt", step=1)
    assert step == 1
    np.testing.assert_array_equal(np.asarray(old["g"]["kernel"]), nested_state(1)["g"]["kernel"])

    after = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "ckpt").rglob("*"))
    assert after == before  # read-only: nothing created or cleaned up
    with pytest.raises(CheckpointError, match=r"no checkpoint for step 9 .*it has \[1, 2\]"):
        read_saved_state(tmp_path / "ckpt", step=9)
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        read_saved_state(tmp_path / "missing")
