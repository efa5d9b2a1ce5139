"""Two processes on localhost (2 simulated CPU devices each) train a tiny WaveGAN and end with the
same parameters as one process with 4 devices and the same global batch."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("multihost_worker.py")
OVERRIDES = ["train.num_steps=3", "train.optimizer=sgd", "train.learning_rate=0.05"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["PYTHONPATH"] = str(WORKER.parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_two_processes_equal_one_process(tmp_path):
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(i),
                "2",
                port,
                str(tmp_path / "multi"),
                str(tmp_path / "multi.npz"),
                *OVERRIDES,
            ],
            env=_env(2),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        outs = [p.communicate(timeout=300)[0] for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail("multi-host run hung (see the docstring of multihost_worker.py)")
    for p, o in zip(procs, outs, strict=True):
        assert p.returncode == 0, o[-3000:]
    single = subprocess.run(
        [
            sys.executable,
            str(WORKER),
            "0",
            "1",
            "0",
            str(tmp_path / "single"),
            str(tmp_path / "single.npz"),
            *OVERRIDES,
        ],
        env=_env(4),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stdout[-2000:] + single.stderr[-2000:]
    a, b = np.load(tmp_path / "multi.npz"), np.load(tmp_path / "single.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        np.testing.assert_allclose(a[k], b[k], rtol=2e-4, atol=2e-6, err_msg=k)
