"""`wavegen compile`: the train step and sampler AOT-compiled for a TPU topology on this CPU host
(needs libtpu: pip install -e .[aot]); memory against HBM, FLOPs, roofline, multi-host batches."""

import json

import pytest

from wavegen import cli
from wavegen.train import aot

pytestmark = pytest.mark.aot


@pytest.fixture(scope="module")
def libtpu():
    pytest.importorskip("libtpu", reason="libtpu not installed: pip install -e .[aot]")


def test_unknown_topology_is_one_line_and_nonzero(capsys):
    rc = cli.main(["compile", "--config", "experiments/quickstart.py:tiny", "--topology", "v9:1x1"])
    err = capsys.readouterr().err
    assert rc == 1 and "unknown topology 'v9:1x1'" in err and "v4:2x2x1" in err


def test_roofline_is_the_slower_of_compute_and_memory():
    chip = aot.Chip("test", 1 << 30, peak_flops=100e12, hbm_bandwidth=1e12)
    r = aot.roofline(flops=1e12, bytes_accessed=1e9, chip=chip)  # 10 ms compute, 1 ms memory
    assert r["roofline_ms"] == pytest.approx(10.0) and r["bound"] == "compute"
    assert r["arithmetic_intensity"] == pytest.approx(1000.0)
    r = aot.roofline(flops=1e9, bytes_accessed=1e10, chip=chip)
    assert r["roofline_ms"] == pytest.approx(10.0) and r["bound"] == "memory"


def test_each_v4_32_host_holds_the_rows_the_pipeline_gives_it(libtpu):
    import numpy as np
    from jax.sharding import Mesh

    devices = aot.topology_devices(aot.resolve_topology("v4-32"))
    assert len(devices) == 16 and len({d.process_index for d in devices}) == 4
    mesh = Mesh(np.asarray(devices), ("data",))
    for group in (1, 5):  # a plain batch and the GAN's [d_steps, B] group
        info = aot.check_host_shards(mesh, 64, group)
        assert info == {"hosts": 4, "per_host_batch": 16, "matches_pipeline": True}
        shards = aot.host_batch_shards(mesh, 64, group)
        assert shards == {p: list(range(16 * p, 16 * p + 16)) for p in range(4)}
    with pytest.raises(aot.CompileError, match="not divisible by the topology's 4 hosts"):
        aot.check_host_shards(mesh, 6, 1)
    with pytest.raises(aot.CompileError, match="not divisible by the topology's 16 devices"):
        aot.check_host_shards(mesh, 8, 1)


def test_tiny_quickstart_compiles_for_v4_and_fits(libtpu, capsys):
    argv = ["compile", "--config", "experiments/quickstart.py:tiny", "--topology", "v4:2x2x1"]
    assert cli.main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["devices"] == 4 and report["chip"] == "TPU v4"
    assert report["hosts"] == {"hosts": 1, "per_host_batch": 8, "matches_pipeline": True}
    assert report["train_step"]["memory"]["temp_bytes"] > 0
    for name in ("train_step", "sampler"):
        mem, cost, roof = (report[name][k] for k in ("memory", "cost", "roofline"))
        for key in ("argument_bytes", "output_bytes", "generated_code_bytes"):
            assert mem[key] > 0, (name, key)
        assert mem["temp_bytes"] >= 0  # the tiny sampler needs no scratch: 0 is right there
        assert mem["fits"] and mem["total_bytes"] < mem["hbm_bytes"] == 32 << 30
        assert cost["flops"] > 0 and cost["bytes_accessed"] > 0
        assert roof["roofline_ms"] > 0 and roof["arithmetic_intensity"] > 0
    step_ms = report["train_step"]["roofline"]["roofline_ms"]
    assert report["train_step"]["projected_hours"] == pytest.approx(step_ms * 4 / 3.6e6)

    # The same step against a fake 1 MiB of HBM: does not fit, one line, non-zero.
    assert cli.main([*argv, "--no-sampler", "--hbm-gib", str(1 / 1024)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "more than the 0.00 GiB HBM of a TPU v4" in err[0]
