"""BatchIterator: deterministic, resumable, per-host, prefetching batches of in-memory arrays.

The example order depends only on (seed, epoch): epoch ``e`` is
``np.random.default_rng((seed, e)).permutation(N)``, cut into ``N // global_batch_size`` global
batches (the remainder is dropped). Global batches form one endless stream across epochs;
``group > 1`` stacks ``group`` consecutive global batches of the stream ([group, B, ...]; the
GAN trainer consumes ``d_steps`` real batches per iteration). Each process takes only its own
contiguous ``1/process_count`` slice of every global batch along the batch axis, so the hosts
together see every kept example exactly once per epoch without exchanging anything. With a
``sharding`` the host-local slices become one global ``jax.Array``
(``jax.make_array_from_process_local_data``), else numpy arrays are returned.

The position is the index of the next global batch, reported as {'epoch', 'batch'}; it is what
a checkpoint stores, and ``restore`` continues exactly there (discarding prefetched batches).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any

import jax
import numpy as np

from wavegen.data.errors import AudioDataError


class _Plan:
    """The immutable recipe for the batch at any stream position (shared with the thread)."""

    def __init__(self, arrays, global_batch_size, seed, group, sharding, process_index, count):
        self.arrays = arrays
        self.batch = global_batch_size
        self.seed = seed
        self.group = group
        self.sharding = sharding
        self.local = global_batch_size // count
        self.offset = process_index * self.local
        self.num_examples = next(iter(arrays.values())).shape[0]
        self.batches_per_epoch = self.num_examples // global_batch_size
        self._perms: dict[int, np.ndarray] = {}

    def permutation(self, epoch: int) -> np.ndarray:
        """[N] int64: epoch ``epoch``'s example order (the last two epochs are kept)."""
        if epoch not in self._perms:
            if len(self._perms) >= 2:
                self._perms.pop(min(self._perms))
            rng = np.random.default_rng((self.seed, epoch))
            self._perms[epoch] = rng.permutation(self.num_examples)
        return self._perms[epoch]

    def local_indices(self, position: int) -> np.ndarray:
        """[group, B / process_count] example indices of this host for stream ``position``."""
        rows = []
        for g in range(position, position + self.group):
            epoch, b = divmod(g, self.batches_per_epoch)
            start = b * self.batch + self.offset
            rows.append(self.permutation(epoch)[start : start + self.local])
        return np.stack(rows)

    def make(self, position: int) -> dict[str, Any]:
        """The batch at ``position``: [B_local, ...] per array ([group, B_local, ...] if grouped),
        as numpy, or as global jax.Arrays [B, ...] / [group, B, ...] with a sharding."""
        idx = self.local_indices(position)
        if self.group == 1:
            idx = idx[0]
        out = {}
        for name, arr in self.arrays.items():
            local = np.asarray(arr[idx])  # asarray: a memmap's rows become a plain array
            if self.sharding is not None:
                lead = (self.batch,) if self.group == 1 else (self.group, self.batch)
                local = jax.make_array_from_process_local_data(
                    self.sharding, local, lead + arr.shape[1:]
                )
            out[name] = local
        return out


def _produce(plan: _Plan, start: int, out: queue.Queue, stop: threading.Event) -> None:
    """Thread body: puts (next position, batch) from ``start`` on, or ('error', exception)."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    position = start
    try:
        while not stop.is_set():
            batch = plan.make(position)
            position += plan.group
            if not put((position, batch)):
                return
    except BaseException as e:  # hand any failure to the consumer instead of dying silently
        put(("error", e))


class BatchIterator:
    """Deterministic, resumable, per-host, prefetching batches of a dataset's arrays.

    Args:
      arrays: name → [N, ...] array (numpy or read-only memmap), equal N.
      global_batch_size: examples per global batch, over all processes; divisible by
        ``process_count``; at most N.
      seed: shuffling seed; the order depends only on (seed, epoch).
      group: global batches stacked per item ([group, B, ...]).
      sharding: NamedSharding over a 1-D 'data' mesh (PartitionSpec('data') for group 1,
        (None, 'data') for group > 1); None → numpy arrays.
      process_index: this process (default ``jax.process_index()``).
      process_count: number of processes (default ``jax.process_count()``).
      prefetch: batches prepared ahead on a background thread (0: none, built on demand).

    Yields:
      dict name → [B/process_count, ...] numpy arrays ([group, B/process_count, ...] when
      grouped), or global jax.Arrays [B, ...] / [group, B, ...] when ``sharding`` is given.
      Never ends: epochs roll over.
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
        if not arrays:
            raise AudioDataError("BatchIterator needs at least one array")
        sizes = {name: a.shape[0] for name, a in arrays.items()}
        if len(set(sizes.values())) != 1:
            raise AudioDataError(f"BatchIterator arrays differ in length: {sizes}")
        n = next(iter(sizes.values()))
        count = jax.process_count() if process_count is None else int(process_count)
        index = jax.process_index() if process_index is None else int(process_index)
        if not 0 <= index < count:
            raise AudioDataError(f"process_index={index} is not in 0..{count - 1}")
        if global_batch_size < 1 or global_batch_size % count:
            raise AudioDataError(
                f"global_batch_size={global_batch_size} must be positive and divisible by "
                f"process_count={count}"
            )
        if global_batch_size > n:
            raise AudioDataError(
                f"global_batch_size={global_batch_size} exceeds the {n} examples available"
            )
        if group < 1 or prefetch < 0:
            raise AudioDataError(f"group must be >= 1 and prefetch >= 0, got {group}, {prefetch}")
        self._plan = _Plan(dict(arrays), global_batch_size, seed, group, sharding, index, count)
        self._prefetch = prefetch
        self._position = 0  # stream index of the next global batch handed out
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue | None = None
        self._stop: threading.Event | None = None

    @property
    def batches_per_epoch(self) -> int:
        """Global batches per epoch (N // global_batch_size)."""
        return self._plan.batches_per_epoch

    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._prefetch == 0:
            batch = self._plan.make(self._position)
            self._position += self._plan.group
            return batch
        if self._thread is None:
            self._start()
        position, batch = self._queue.get()
        if isinstance(position, str):  # ('error', exception) from the producer
            self.close()
            raise batch
        self._position = position
        return batch

    def state(self) -> dict[str, int]:
        """JSON-serialisable position of the next batch: {'epoch': e, 'batch': b}."""
        epoch, batch = divmod(self._position, self._plan.batches_per_epoch)
        return {"epoch": int(epoch), "batch": int(batch)}

    def restore(self, state: dict[str, int]) -> None:
        """Continues from a :meth:`state`: the next batch is the one that followed it."""
        try:
            epoch, batch = int(state["epoch"]), int(state["batch"])
        except (KeyError, TypeError, ValueError) as e:
            raise AudioDataError(
                f"iterator state must be {{'epoch': int, 'batch': int}}, got {state!r}"
            ) from e
        if epoch < 0 or not 0 <= batch < self._plan.batches_per_epoch:
            raise AudioDataError(
                f"iterator state {state!r} is out of range: batch must be in 0.."
                f"{self._plan.batches_per_epoch - 1} (the dataset or batch size changed?)"
            )
        self.close()  # drops batches prefetched from the old position
        self._position = epoch * self._plan.batches_per_epoch + batch

    def close(self) -> None:
        """Stops the prefetch thread (iteration may continue; it restarts on demand)."""
        if self._thread is None:
            return
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()
        self._thread = self._queue = self._stop = None

    def __enter__(self) -> BatchIterator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # The thread holds only the plan, not the iterator, so this runs when the iterator is
        # dropped without close(): the thread must not outlive it.
        with contextlib.suppress(Exception):  # interpreter shutdown: attributes may be gone
            self.close()

    def _start(self) -> None:
        self._queue = queue.Queue(maxsize=self._prefetch)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_produce,
            args=(self._plan, self._position, self._queue, self._stop),
            name="wavegen-batch-prefetch",
            daemon=True,
        )
        self._thread.start()
