"""``wavegen export``: artifacts that run without wavegen and equal ``wavegen generate``.

Each artifact is run in a fresh Python process that imports only jax and numpy, as a user of
the file would; its output is compared with :func:`wavegen.inference.generate.generate_audio` for
the same latents.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wavegen import cli
from wavegen.config import load_config
from wavegen.inference.export import (
    ExportError,
    export_config,
    export_function,
    export_target,
    exportables,
    serialize,
)
from wavegen.inference.generate import generate_audio
from wavegen.models import one_channel_conv
from wavegen.models.latents import latents
from wavegen.models.target import Target
from wavegen.train import build_task
from wavegen.train.runs import decode, encode, load_run

TINY = "experiments/quickstart.py:tiny"
TOL = {"rtol": 1e-5, "atol": 1e-5}  # float32: the artifact and generate use other layer forms

# Run by a fresh interpreter: argv = artifact, output .npy, input .npy files in call order.
RUNNER = """
import sys
import numpy as np
import jax
artifact, out, *inputs = sys.argv[1:]
exported = jax.export.deserialize(bytearray(open(artifact, "rb").read()))
np.save(out, np.asarray(exported.call(*[np.load(p) for p in inputs])))
assert not [m for m in sys.modules if m.split(".")[0] == "wavegen"], "wavegen was imported"
"""


def _train(root: Path, name: str, *overrides: str) -> Path:
    workdir = root / name
    argv = ["train", "--config", TINY, "--workdir", str(workdir), "--no-progress"]
    assert cli.main([*argv, "--config.train.num_steps=2", *overrides]) == 0
    return workdir


@pytest.fixture(scope="module")
def uncond_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("export"), "uncond")


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory) -> Path:
    # The quickstart's tiny data has 7 pitch-class labels.
    return _train(tmp_path_factory.mktemp("export"), "cond", "--config.model.num_classes=7")


def _inputs(task, num: int) -> list[np.ndarray]:
    """What generate_audio(task, state, num) feeds G: latents of seed 0, labels cycling."""
    z = np.asarray(latents(num, task.config.model.latent_dim, 0), np.float32)
    if not task.conditional:
        return [z]
    return [z, np.arange(num, dtype=np.int32) % task.config.model.num_classes]


def _run_fresh(artifact: Path, inputs: list[np.ndarray], tmp: Path) -> np.ndarray:
    """Calls ``artifact`` on ``inputs`` in a new interpreter (one CPU device, no wavegen)."""
    paths = []
    for i, a in enumerate(inputs):
        paths.append(tmp / f"in{i}.npy")
        np.save(paths[-1], a)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"} | {"JAX_PLATFORMS": "cpu"}
    run = subprocess.run(
        [sys.executable, "-I", "-c", RUNNER, str(artifact), str(tmp / "out.npy"), *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return np.load(tmp / "out.npy")


@pytest.mark.parametrize("kind", ["uncond", "cond"])
def test_artifact_in_a_fresh_process_equals_generate(kind, request, tmp_path):
    workdir = request.getfixturevalue(f"{kind}_run")
    out, num = tmp_path / "export", 6
    assert cli.main(["export", "--workdir", str(workdir), "--out", str(out), "--batch", "6"]) == 0
    task, state, step = load_run(workdir)
    inputs = _inputs(task, num)
    y = _run_fresh(out / "generator.jax", inputs, tmp_path)
    np.testing.assert_allclose(y, generate_audio(task, state, num), **TOL)

    meta = json.loads((out / "generator.json").read_text())
    assert meta["inputs"] == [
        {"name": n, "shape": list(a.shape), "dtype": str(a.dtype)}
        for n, a in zip(["latents", "labels"], inputs, strict=False)
    ]
    assert meta["output"] == {"shape": [num, task.config.data.length], "dtype": "float32"}
    assert (meta["model"], meta["data_source"]) == ("wavegan", "synthetic")
    assert (meta["sample_rate"], meta["step"], meta["platforms"]) == (16000, step, ["cpu"])
    assert meta["batch"] == num and meta["num_classes"] == (7 if kind == "cond" else 0)


def test_multi_platform_export_of_a_published_generator(uncond_run, tmp_path):
    """--platforms cpu,tpu from a `wavegen publish` folder: no native call, and it runs on CPU."""
    published, out = tmp_path / "published", tmp_path / "export"
    assert cli.main(["publish", "--workdir", str(uncond_run), "--out", str(published)]) == 0
    argv = ["export", "--workdir", str(published), "--out", str(out), "--platforms", "cpu,tpu"]
    assert cli.main(argv) == 0
    exported = jax.export.deserialize(bytearray((out / "generator.jax").read_bytes()))
    assert exported.platforms == ("cpu", "tpu")
    assert "Wavegen" not in exported.mlir_module()
    meta = json.loads((out / "generator.json").read_text())
    assert meta["target"]["platform"] == "tpu" and meta["platforms"] == ["cpu", "tpu"]
    task, state, _ = load_run(uncond_run)
    y = _run_fresh(out / "generator.jax", _inputs(task, 8), tmp_path)
    np.testing.assert_allclose(y, generate_audio(task, state, 8), **TOL)


def test_native_kernels_never_reach_an_artifact():
    """At d=16 a single-CPU build of G uses the native kernels; no exported module does."""
    config = load_config(TINY, ["--config.model.dim=16"])
    local = build_task(config, target=Target("cpu", 1))
    params = local.sampling_params(local.init_state())
    z = jnp.zeros((8, config.model.latent_dim))
    if one_channel_conv.available():  # the positive control: the check below can see them
        lowered = jax.jit(lambda z: local.generate(params, z, None)).lower(z).as_text()
        assert "Wavegen" in lowered
    for platforms in (("cpu",), ("cpu", "tpu"), ("cuda",)):
        task = build_task(export_config(config), target=export_target(platforms))
        (item,) = exportables(task, {"g": params}, 8)
        assert "Wavegen" not in export_function(item, platforms).mlir_module()


def test_vae_decoder_and_encoder_artifacts_equal_autoencode():
    config = load_config("experiments/vae_notes.py:tiny")
    ref = build_task(config)
    state = ref.init_state()
    task = build_task(export_config(config), target=export_target(("cpu",)))
    generator, encoder = (
        jax.export.deserialize(serialize(export_function(item, ("cpu",))))
        for item in exportables(task, state, 2)
    )
    s = ref.settings
    z = np.random.default_rng(0).standard_normal((2, s.latent_frames, s.latent_dim))
    z = z.astype(np.float32)
    np.testing.assert_allclose(generator.call(z), decode(ref, state, z), **TOL)
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, s.length)).astype(np.float32)
    np.testing.assert_allclose(encoder.call(x), encode(ref, state, x), **TOL)


@pytest.mark.slow  # a VAE run's first steps compile for ~1.5 min on 2 cores
def test_vae_run_export_from_the_cli(tmp_path):
    workdir, out = tmp_path / "vae", tmp_path / "export"
    argv = ["train", "--config", "experiments/vae_notes.py:tiny", "--workdir", str(workdir)]
    assert cli.main([*argv, "--no-progress", "--config.train.num_steps=2"]) == 0
    assert cli.main(["export", "--workdir", str(workdir), "--out", str(out), "--batch", "2"]) == 0
    meta = json.loads((out / "generator.json").read_text())
    assert meta["model"] == "vae" and meta["encoder"]["file"] == "encoder.jax"
    task, state, _ = load_run(workdir)
    s = task.settings
    z = np.random.default_rng(0).standard_normal((2, s.latent_frames, s.latent_dim))
    z = z.astype(np.float32)
    np.testing.assert_allclose(
        _run_fresh(out / "generator.jax", [z], tmp_path), decode(task, state, z), **TOL
    )
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, s.length)).astype(np.float32)
    np.testing.assert_allclose(
        _run_fresh(out / "encoder.jax", [x], tmp_path), encode(task, state, x), **TOL
    )
    assert meta["inputs"] == [{"name": "latents", "shape": list(z.shape), "dtype": "float32"}]
    assert meta["encoder"]["output"]["shape"] == [2, s.latent_frames, s.latent_dim]


@pytest.mark.parametrize("kind", ["uncond", "cond"])
def test_onnx_artifact_equals_generate(kind, request, tmp_path):
    pytest.importorskip("jax2onnx")
    ort = pytest.importorskip("onnxruntime")
    workdir = request.getfixturevalue(f"{kind}_run")
    out = tmp_path / "export"
    argv = ["export", "--workdir", str(workdir), "--out", str(out), "--batch", "4", "--onnx"]
    assert cli.main(argv) == 0
    task, state, _ = load_run(workdir)
    inputs = _inputs(task, 4)
    session = ort.InferenceSession(str(out / "generator.onnx"))
    names = [i.name for i in session.get_inputs()]
    assert names == ["latents", "labels"][: len(inputs)]
    (y,) = session.run(None, dict(zip(names, inputs, strict=True)))
    np.testing.assert_allclose(y, generate_audio(task, state, 4), **TOL)


def test_bad_input_is_a_one_line_project_error(tmp_path, capsys):
    assert issubclass(ExportError, cli.user_error_classes())
    out = str(tmp_path / "out")
    assert cli.main(["export", "--workdir", str(tmp_path), "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a run directory" in err and "\n" not in err
    argv = ["export", "--workdir", str(tmp_path), "--out", out, "--platforms", "cpu,gpu"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown platform(s) ['gpu']" in err and "\n" not in err
