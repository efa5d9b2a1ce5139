"""Batches for training: deterministic from (seed, epoch), resumable, per host, prefetched.

Epoch ``e`` visits the examples in the order of ``np.random.default_rng([seed, e]).permutation``,
cut into global batches (the remainder is dropped). Each process takes its own contiguous
``1/process_count`` of every global batch; with a sharding the host-local rows become one global
``jax.Array`` (``jax.make_array_from_process_local_data``) laid out on the data mesh. A background
thread prepares the next batches while the accelerator works. The position (epoch, batch) of the
next batch the caller will receive is :meth:`BatchIterator.state`; restoring it reproduces the
exact same stream, which is what makes a resumed run equal an uninterrupted one.
"""

from __future__ import annotations

import queue
import threading

import jax
import numpy as np

from wavegen.data.errors import AudioDataError


class BatchIterator:
    """Never-ending iterator of batches ``{name: [B, ...]}`` (or ``[group, B, ...]``).

    Args:
      arrays: per-example arrays with a common leading axis N (e.g. {"x": [N, T], "label": [N]}).
      global_batch_size: examples per global batch (all processes together).
      seed: shuffling seed.
      group: >1 stacks that many consecutive global batches on a new leading axis.
      sharding: where to put each batch (a NamedSharding over the data mesh); None → numpy.
      process_index, process_count: this host's slice (default: jax's).
      prefetch: batches prepared ahead (0: none, produced on demand).
    """

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        global_batch_size: int,
        *,
        seed: int,
        group: int = 1,
        sharding: jax.sharding.Sharding | None = None,
        process_index: int | None = None,
        process_count: int | None = None,
        prefetch: int = 2,
    ):
        sizes = {k: len(v) for k, v in arrays.items()}
        if len(set(sizes.values())) != 1:
            raise AudioDataError(f"arrays have different lengths: {sizes}")
        self.num_examples = next(iter(sizes.values()))
        self.arrays = arrays
        self.batch_size = int(global_batch_size)
        self.seed, self.group, self.sharding = int(seed), int(group), sharding
        self.process_index = jax.process_index() if process_index is None else process_index
        self.process_count = jax.process_count() if process_count is None else process_count
        if self.batch_size % self.process_count:
            raise AudioDataError(
                f"batch size {self.batch_size} is not divisible by {self.process_count} processes"
            )
        self.batches_per_epoch = self.num_examples // self.batch_size
        if self.batches_per_epoch == 0:
            raise AudioDataError(
                f"{self.num_examples} examples are fewer than one batch of {self.batch_size}"
            )
        self.prefetch = max(int(prefetch), 0)
        self._perm_cache: tuple[int, np.ndarray] | None = None
        self._next = (0, 0)  # position of the next batch handed to the caller
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue | None = None
        self._stop = threading.Event()

    # ---- positions ----
    def state(self) -> dict[str, int]:
        """Position of the next batch (JSON-serialisable)."""
        return {"epoch": self._next[0], "batch": self._next[1]}

    def restore(self, state: dict[str, int]) -> None:
        """Continues from a :meth:`state`; prefetched batches from before are discarded."""
        self._stop_thread()
        self._next = (int(state["epoch"]), int(state["batch"]))

    def _advance(self, pos: tuple[int, int]) -> tuple[int, int]:
        epoch, batch = pos
        batch += 1
        return (epoch + 1, 0) if batch >= self.batches_per_epoch else (epoch, batch)

    # ---- batch making ----
    def _permutation(self, epoch: int) -> np.ndarray:
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._perm_cache = (epoch, rng.permutation(self.num_examples))
        return self._perm_cache[1]

    def local_indices(self, pos: tuple[int, int]) -> np.ndarray:
        """This process's example indices [B / process_count] of the global batch at ``pos``."""
        epoch, batch = pos
        idx = self._permutation(epoch)[batch * self.batch_size : (batch + 1) * self.batch_size]
        per = self.batch_size // self.process_count
        return idx[self.process_index * per : (self.process_index + 1) * per]

    def _make(self, pos: tuple[int, int]) -> tuple[dict, tuple[int, int]]:
        parts = []
        for _ in range(self.group):
            idx = self.local_indices(pos)
            # Read in ascending order (memmap pages go forward), then put back in batch order.
            order = np.argsort(idx)
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            parts.append({k: np.asarray(v[idx[order]])[rank] for k, v in self.arrays.items()})
            pos = self._advance(pos)
        if self.group == 1:
            local = parts[0]
        else:
            local = {k: np.stack([p[k] for p in parts]) for k in parts[0]}
        return self._place(local), pos

    def _place(self, local: dict[str, np.ndarray]) -> dict:
        if self.sharding is None:
            return local
        axis = 0 if self.group == 1 else 1
        out = {}
        for k, v in local.items():
            shape = list(v.shape)
            shape[axis] = self.batch_size
            out[k] = jax.make_array_from_process_local_data(self.sharding, v, tuple(shape))
        return out

    # ---- iteration with a prefetch thread ----
    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self) -> dict:
        if self.prefetch == 0:
            batch, self._next = self._make(self._next)
            return batch
        if self._thread is None:
            self._start_thread()
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._thread = None
            raise item
        batch, self._next = item
        return batch

    def _start_thread(self) -> None:
        self._stop.clear()
        self._queue = queue.Queue(maxsize=self.prefetch)
        start = self._next

        def produce(pos=start):
            try:
                while not self._stop.is_set():
                    batch, nxt = self._make(pos)
                    while not self._stop.is_set():
                        try:
                            self._queue.put((batch, nxt), timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    pos = nxt
            except BaseException as e:  # surfaced to the caller on the next __next__
                self._queue.put(e)

        self._thread = threading.Thread(target=produce, daemon=True, name="BatchIterator")
        self._thread.start()

    def _stop_thread(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._queue = None

    def close(self) -> None:
        """Stops the prefetch thread."""
        self._stop_thread()
