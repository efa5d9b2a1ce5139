"""BatchIterator: order from (seed, epoch), resumption, per-host slices, grouping, sharding."""

import json
import threading

import jax
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from wavegen.data import AudioDataError, BatchIterator

N, B = 37, 8  # 4 batches per epoch, 5 examples dropped


def arrays(n: int = N) -> dict[str, np.ndarray]:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)  # row i is [3i, 3i+1, 3i+2]
    return {"x": x, "label": np.arange(n, dtype=np.int32)}


def take(it, k):
    return [next(it) for _ in range(k)]


def test_order_is_the_seeded_permutation_and_drops_the_remainder():
    with BatchIterator(arrays(), B, seed=3, process_index=0, process_count=1) as it:
        batches = take(it, 8)  # two epochs
    for step, batch in enumerate(batches):
        epoch, b = divmod(step, N // B)
        perm = np.random.default_rng((3, epoch)).permutation(N)
        np.testing.assert_array_equal(batch["label"], perm[b * B : (b + 1) * B])
        np.testing.assert_array_equal(batch["x"][:, 0], 3 * batch["label"])
    first_epoch = np.concatenate([b["label"] for b in batches[:4]])
    assert len(set(first_epoch.tolist())) == 4 * B  # no repeats within an epoch


def test_same_seed_same_batches_other_seed_differs():
    a = take(BatchIterator(arrays(), B, seed=0, process_index=0, process_count=1), 5)
    b = take(BatchIterator(arrays(), B, seed=0, process_index=0, process_count=1, prefetch=0), 5)
    c = take(BatchIterator(arrays(), B, seed=1, process_index=0, process_count=1), 5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x["label"], y["label"])
    assert any(not np.array_equal(x["label"], z["label"]) for x, z in zip(a, c, strict=True))


@pytest.mark.parametrize("prefetch", [0, 3])
def test_restore_gives_the_batch_that_followed(prefetch):
    it = BatchIterator(arrays(), B, seed=7, process_index=0, process_count=1, prefetch=prefetch)
    take(it, 5)
    state = json.loads(json.dumps(it.state()))  # must survive a JSON checkpoint
    assert state == {"epoch": 1, "batch": 1}
    expected = take(it, 3)  # the prefetch thread is now ahead of the restored position
    it.restore(state)
    got = take(it, 3)
    fresh = BatchIterator(arrays(), B, seed=7, process_index=0, process_count=1)
    fresh.restore(state)
    for e, g, f in zip(expected, got, take(fresh, 3), strict=True):
        np.testing.assert_array_equal(e["label"], g["label"])
        np.testing.assert_array_equal(e["label"], f["label"])
    it.close()
    fresh.close()


def test_two_hosts_cover_every_kept_example_once_per_epoch():
    hosts = [BatchIterator(arrays(), B, seed=5, process_index=p, process_count=2) for p in range(2)]
    per_epoch = N // B
    for epoch in range(2):
        seen = []
        for _ in range(per_epoch):
            parts = [next(h) for h in hosts]
            assert all(p["label"].shape == (B // 2,) for p in parts)
            # Host p holds the p-th contiguous half of the global batch.
            global_batch = np.concatenate([p["label"] for p in parts])
            seen.extend(global_batch.tolist())
        perm = np.random.default_rng((5, epoch)).permutation(N)
        assert sorted(seen) == sorted(perm[: per_epoch * B].tolist())
        assert len(set(seen)) == per_epoch * B
    for h in hosts:
        h.close()


def test_group_stacks_consecutive_global_batches_across_epochs():
    plain = take(BatchIterator(arrays(), B, seed=2, process_index=0, process_count=1), 10)
    grouped = BatchIterator(arrays(), B, seed=2, group=5, process_index=0, process_count=1)
    g = take(grouped, 2)
    assert g[0]["x"].shape == (5, B, 3) and g[0]["label"].shape == (5, B)
    np.testing.assert_array_equal(
        np.concatenate([g[0]["label"], g[1]["label"]]), np.stack([p["label"] for p in plain])
    )
    assert grouped.state() == {"epoch": 2, "batch": 2}
    grouped.close()


@pytest.mark.parametrize("group", [1, 3])
def test_sharded_global_array_equals_the_numpy_batch(group):
    mesh = Mesh(np.asarray(jax.devices()), ("data",))
    spec = PartitionSpec("data") if group == 1 else PartitionSpec(None, "data")
    sharding = NamedSharding(mesh, spec)
    batch = 2 * len(jax.devices())
    kw = dict(seed=4, group=group, process_index=0, process_count=1)
    with BatchIterator(arrays(40), batch, sharding=sharding, **kw) as it:
        got = next(it)
    ref = next(BatchIterator(arrays(40), batch, **kw))
    for name in ref:
        assert isinstance(got[name], jax.Array)
        assert got[name].sharding == sharding
        np.testing.assert_array_equal(np.asarray(got[name]), ref[name])


def test_close_stops_the_thread_and_iteration_can_resume():
    it = BatchIterator(arrays(), B, seed=0, process_index=0, process_count=1, prefetch=2)
    first = next(it)
    threads = [t for t in threading.enumerate() if t.name == "wavegen-batch-prefetch"]
    assert threads
    it.close()
    assert not any(t.is_alive() for t in threads)
    second = next(it)
    ref = take(BatchIterator(arrays(), B, seed=0, process_index=0, process_count=1), 2)
    np.testing.assert_array_equal(first["label"], ref[0]["label"])
    np.testing.assert_array_equal(second["label"], ref[1]["label"])
    it.close()


def test_memmap_arrays_come_back_as_plain_arrays(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, arrays()["x"])
    mm = np.load(path, mmap_mode="r")
    with BatchIterator({"x": mm}, B, seed=0, process_index=0, process_count=1) as it:
        batch = next(it)["x"]
    assert type(batch) is np.ndarray and batch.shape == (B, 3)


def test_bad_arguments_are_named():
    with pytest.raises(AudioDataError, match="exceeds"):
        BatchIterator(arrays(), N + 1, seed=0, process_index=0, process_count=1)
    with pytest.raises(AudioDataError, match="divisible"):
        BatchIterator(arrays(), 9, seed=0, process_index=0, process_count=2)
    with pytest.raises(AudioDataError, match="differ in length"):
        BatchIterator({"a": np.zeros(4), "b": np.zeros(5)}, 2, seed=0, process_count=1)
    it = BatchIterator(arrays(), B, seed=0, process_index=0, process_count=1)
    with pytest.raises(AudioDataError, match="out of range"):
        it.restore({"epoch": 0, "batch": 99})
    with pytest.raises(AudioDataError, match="epoch"):
        it.restore({"step": 3})
