"""tools/bench.py end to end on a tiny model, without the torch reference."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wavegen.defaults import base_config
from wavegen.models import wavegan

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench.py"


@pytest.mark.slow
def test_bench_writes_every_number_for_the_model_it_names(tmp_path):
    """About a minute (three compiles and the reference matmul). The JSON names the model it
    timed (its parameter counts equal the model's) and every time and rate is positive."""
    out = tmp_path / "bench.json"
    argv = ["--no-torch", "--batch", "2", "--dim", "4", "--d-steps", "1", "--reps", "1"]
    # On the machine's own devices, as the tool is run (the suite simulates 8 for its own tests).
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    cmd = [sys.executable, str(TOOL), *argv, "--json", str(out)]
    subprocess.run(cmd, check=True, env=env)
    result = json.loads(out.read_text())
    cfg = base_config().model
    cfg.dim = 4
    convs = wavegan.generator_convs(cfg, 16384)
    # G: Dense(100 → 16·16d) + 5 transposed convs with biases, counted from the layer specs.
    dense = 100 * 256 * 4 + 256 * 4
    expected_g = dense + sum(c.kernel * c.in_ch * c.out_ch + c.out_ch for c in convs)
    assert result["jax"]["g_params"] == expected_g
    assert result["torch"] is None and result["speedup_vs_torch"] == {}
    for key in ("d_step_s", "g_step_s", "iteration_s", "audio_seconds_per_second"):
        assert result["jax"][key] > 0, key
    assert result["matmul_gflops"] > 0
    assert result["jax"]["data_headroom"] > 0
