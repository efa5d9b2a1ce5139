"""Sweeps: expansion, names, skip-finished, TPU pod dry-run commands."""

import json
import shlex
from pathlib import Path

import pytest

from wavegen import cli
from wavegen.config import ConfigError, load_config
from wavegen.data import build_dataset
from wavegen.eval.classifier import fit_classifier
from wavegen.eval.evaluate import evaluate
from wavegen.eval.tables import collect_rows
from wavegen.train import sweep

REPO = Path(__file__).resolve().parents[2]
SPEC = str(REPO / "experiments" / "quickstart.py") + ":tiny"


def test_product_and_names(tmp_path):
    pts = sweep.product(("a.x", [0, 1]), ("b", ["p q"]))
    assert pts == [{"a.x": 0, "b": "p q"}, {"a.x": 1, "b": "p q"}]
    assert sweep.run_name(pts[0]) == "x=0,b=p_q"


def test_expand_quickstart_sweep(tmp_path):
    runs = sweep.expand(SPEC, tmp_path)
    assert [r.name for r in runs] == [
        "phase_shuffle=0,name=wgan-gp",
        "phase_shuffle=0,name=hinge",
        "phase_shuffle=2,name=wgan-gp",
        "phase_shuffle=2,name=hinge",
    ]
    assert all(r.workdir.parent == tmp_path for r in runs)


def test_bad_sweep_point_is_a_config_error(tmp_path):
    f = tmp_path / "exp.py"
    f.write_text(
        "from wavegen.defaults import base_config\n"
        "def get_config(arg=None):\n    return base_config()\n"
        "def get_sweep():\n    return [{'model.dimm': 3}]\n"
    )
    with pytest.raises(ConfigError, match="model.dimm"):
        sweep.expand(str(f), tmp_path / "root")


def test_tpu_dry_run_prints_one_gcloud_command_per_run(tmp_path, capsys):
    rc = cli.main(
        [
            "sweep",
            "--config",
            SPEC,
            "--root",
            str(tmp_path),
            "--tpu",
            "pod-1",
            "--zone",
            "us-central2-b",
            "--project",
            "proj",
            "--dry-run",
        ]
    )
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    for line, run in zip(lines, sweep.expand(SPEC, tmp_path), strict=True):
        argv = shlex.split(line)
        assert argv[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "pod-1"]
        assert "--zone=us-central2-b" in argv and "--project=proj" in argv
        assert "--worker=all" in argv
        remote = shlex.split(next(a for a in argv if a.startswith("--command="))[10:])
        assert remote[:3] == ["cd", "~/wavegen", "&&"]
        train = remote[3:]
        assert train[:4] == [".venv/bin/wavegen", "train", "--config", SPEC]
        assert train[train.index("--workdir") + 1] == str(run.workdir)
        assert "--config.train.distributed=True" in train
        for k, v in run.overrides.items():
            assert any(a.startswith(f"--config.{k}=") for a in train), (k, v)
    assert not any(tmp_path.iterdir()), "a dry run writes nothing"


def test_overrides_apply_to_every_point(tmp_path, capsys):
    override = "--config.data.synthetic_size=40"
    assert load_config(SPEC).data.synthetic_size != 40  # the override changes something
    rc = cli.main(["sweep", "--config", SPEC, override, "--root", str(tmp_path), "--dry-run"])
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    points = [r.overrides for r in sweep.expand(SPEC, tmp_path)]
    for line, point in zip(lines, points, strict=True):
        argv = shlex.split(line)
        assert argv[:4] == ["wavegen", "train", "--config", SPEC]
        resolved = load_config(SPEC, [a for a in argv if a.startswith("--config.")])
        assert resolved.data.synthetic_size == 40
        for key, value in point.items():  # each point keeps its own values
            node = resolved
            for part in key.split("."):
                node = node[part]
            assert node == value
    assert not any(tmp_path.iterdir()), "a dry run writes nothing"


def test_overriding_a_swept_key_is_a_one_line_error(tmp_path, capsys):
    argv = ["sweep", "--config", SPEC, "--config.model.phase_shuffle=1", "--root", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("wavegen sweep: error: ") and "model.phase_shuffle" in err
    bad = ["sweep", "--config", SPEC, "--config.model.dimm=3", "--root", str(tmp_path)]
    assert cli.main(bad) == 2
    assert "unknown config key 'model.dimm'" in capsys.readouterr().err


@pytest.mark.slow
def test_local_sweep_runs_then_skips(tmp_path):
    root = tmp_path / "sweep"
    override = "--config.data.synthetic_size=40"
    rc = cli.main(["sweep", "--config", SPEC, override, "--root", str(root), "--parallel", "2"])
    assert rc == 0
    runs = sweep.expand(SPEC, root, [override])
    assert json.loads((root / "sweep.json").read_text())["overrides"] == [override]
    for run in runs:
        assert json.loads((run.workdir / "done.json").read_text())["step"] == 4
        resolved = json.loads((run.workdir / "config.json").read_text())
        assert resolved["data"]["synthetic_size"] == 40
    status = sweep.run_local(SPEC, runs)
    assert set(status.values()) == {"skipped"}
    # The table tool reads the sweep root: evaluate each run, then one row per run in sweep order.
    cfg = load_config(SPEC)
    train = build_dataset(cfg.data, split="train", progress=False)
    test = build_dataset(cfg.data, split="test", progress=False)
    clf, _ = fit_classifier(
        train, test, epochs=1, batch_size=8, channels=(4, 4, 8, 8), feature_dim=16, frames=16,
        progress=False,
    )  # fmt: skip
    results = [
        evaluate(run.workdir, clf, reference_train=train, num_samples=10, ndb_k=4, name=run.name)
        for run in runs
    ]
    rows = collect_rows([root])
    assert [row.name for row in rows] == [run.name for run in runs]
    for row, result in zip(rows, results, strict=True):
        assert row.result["num_samples"] == 10 and row.result["step"] == 4
        # 10 clips in IS's 10 contiguous splits: each split's p(y) is its one clip's p(y|x), so
        # every KL is 0 and IS is exactly 1 with std 0, whatever the generator learned.
        assert row.result["inception_score"] == {"mean": 1.0, "std": 0.0, "num_splits": 10, "n": 10}
        # The table reads each run's eval.json: what evaluate returned, in sweep order.
        assert row.result == json.loads(
            json.dumps({k: v for k, v in result.items() if k != "output"})
        )
