"""One process of the 2-process multi-host test (run by test_multihost.py, not by pytest itself).

python multihost_worker.py PROCESS_ID NUM_PROCESSES PORT WORKDIR OUT.npz [OVERRIDES...]
"""

import os
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import numpy as np  # noqa: E402

pid, nproc, port, workdir, out = (
    int(sys.argv[1]),
    int(sys.argv[2]),
    sys.argv[3],
    sys.argv[4],
    sys.argv[5],
)
overrides = sys.argv[6:]
if nproc > 1:
    # Cross-process collectives on CPU need an implementation; gloo ships with jaxlib.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=nproc, process_id=pid)

from pathlib import Path  # noqa: E402

from wavegen.config import load_config  # noqa: E402
from wavegen.train import build_task  # noqa: E402
from wavegen.train.loop import fit  # noqa: E402

repo = Path(__file__).resolve().parents[2]
cfg = load_config(str(repo / "experiments" / "quickstart.py") + ":tiny", overrides)
state = fit(build_task(cfg), workdir, progress=False)
params = jax.tree.leaves({"g": state["g"], "d": state["d"]})
# Parameters are replicated: every process holds the full value on its devices.
arrays = {f"p{i}": np.asarray(jax.device_get(p.addressable_data(0))) for i, p in enumerate(params)}
if pid == 0:
    np.savez(out, **arrays)
if nproc > 1:
    jax.distributed.shutdown()
