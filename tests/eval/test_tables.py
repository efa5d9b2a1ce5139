"""Results tables from hand-made eval JSONs: exact Markdown lines, LaTeX values, input kinds."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from wavegen.cli.eval import add_eval_parser, run_eval_command
from wavegen.eval.tables import TableError, collect_rows, latex_escape, make_tables

REPO = Path(__file__).resolve().parents[2]
HEADER = (
    "| Model | IS | FD | NDB/K | \\|D\\|<sub>self</sub> | \\|D\\|<sub>train</sub> | "
    "\\|D\\|<sub>self</sub> (classifier) | \\|D\\|<sub>train</sub> (classifier) |"
)
RULE = "|---|---:|---:|---:|---:|---:|---:|---:|"


def _result(name, is_mean, is_std, fd, ndb_k, nn_self, nn_train, clf_self=0.25, clf_train=0.5):
    return {
        "name": name,
        "inception_score": {"mean": is_mean, "std": is_std, "num_splits": 10, "n": 1000},
        "frechet_distance": fd,
        "ndb": {"ndb": round(ndb_k * 50), "ndb_k": ndb_k, "k": 50},
        "nn_self": nn_self,
        "nn_train": nn_train,
        "nn_features": {"kind": "log-mel"},
        "nn_self_classifier": clf_self,
        "nn_train_classifier": clf_train,
    }


def _run(tmp_path: Path, name: str, result: dict | None) -> Path:
    workdir = tmp_path / name
    workdir.mkdir(parents=True)
    (workdir / "config.json").write_text("{}")
    if result is not None:
        (workdir / "eval.json").write_text(json.dumps(result))
    return workdir


def test_markdown_rows_in_given_order_with_rounding_and_dashes(tmp_path):
    real = tmp_path / "real_test.json"
    real.write_text(json.dumps(_result("Real (test)", 8.014, 0.2449, 0.5, 0.02, 1.1, 1.04)))
    a = _run(tmp_path, "wavegan", _result("WaveGAN", 4.126, 0.031, 12.345, 0.64, 1.4, 2.0))
    partial = {"name": "half", "inception_score": {"mean": 3.0}, "nn_self": 0.5}
    b = _run(tmp_path, "partial", partial)
    md, _ = make_tables([a, real, b])
    assert md.splitlines() == [
        HEADER,
        RULE,
        "| WaveGAN | 4.13 ± 0.03 | 12.35 | 0.64 | 1.40 | 2.00 | 0.25 | 0.50 |",
        "| Real (test) | 8.01 ± 0.24 | 0.50 | 0.02 | 1.10 | 1.04 | 0.25 | 0.50 |",
        "| half | 3.00 | — | — | 0.50 | — | — | — |",
    ]


def test_latex_tabular_contains_values_and_escapes_names(tmp_path):
    run = _run(tmp_path, "ps_2", _result("phase_shuffle=2 & 50%", 4.5, 0.05, 7.25, 0.3, 1.2, 2.5))
    empty = _run(tmp_path, "empty", {"name": "not yet"})
    _, tex = make_tables([run, empty])
    lines = tex.splitlines()
    assert lines[0] == r"\begin{tabular}{lrrrrrrr}"
    assert r"$|D|_{\mathrm{self}}$ (classifier)" in lines[2]
    assert lines[-1] == r"\end{tabular}"
    assert (
        r"phase\_shuffle=2 \& 50\% & $4.50 \pm 0.05$ & 7.25 & 0.30 & 1.20 & 2.50 & 0.25 & 0.50 \\"
        in lines
    )
    assert r"not yet & --- & --- & --- & --- & --- & --- & --- \\" in lines
    assert latex_escape("a_b#c") == r"a\_b\#c"


def test_sweep_root_follows_manifest_order_and_keeps_unevaluated_runs(tmp_path):
    root = tmp_path / "sweep"
    second = _run(root, "b", _result("ignored", 2.0, 0.1, 3.0, 0.5, 1.0, 1.5))
    _run(root, "a", None)  # trained but not evaluated yet
    # Workdirs as the sweep wrote them (relative to another cwd): found under the root by name.
    manifest = {
        "runs": [
            {"name": "b", "workdir": "elsewhere/sweep/b"},
            {"name": "a", "workdir": "elsewhere/sweep/a"},
        ]
    }
    (root / "sweep.json").write_text(json.dumps(manifest))
    rows = collect_rows([root])
    assert [r.name for r in rows] == ["b", "a"]
    assert rows[0].result == json.loads((second / "eval.json").read_text())
    assert rows[1].result is None
    md, _ = make_tables([root])
    assert md.splitlines()[3] == "| a | — | — | — | — | — | — | — |"


def test_folder_of_evaluated_runs_sorted_by_name(tmp_path):
    root = tmp_path / "runs"
    _run(root, "z_run", {"name": "Z", "nn_self": 1.0})
    _run(root, "a_run", {"nn_self": 2.0})  # no name in the JSON: the folder name
    (root / "not_a_run").mkdir()
    assert [r.name for r in collect_rows([root])] == ["a_run", "Z"]


def test_bad_inputs_name_the_path(tmp_path):
    with pytest.raises(TableError, match="does not exist"):
        collect_rows([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TableError, match="no eval.json"):
        collect_rows([tmp_path / "empty"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TableError, match="bad.json"):
        collect_rows([bad])


def test_cli_table_and_tool_write_the_same_files(tmp_path):
    run = _run(tmp_path, "r", _result("R", 5.0, 0.1, 1.0, 0.1, 1.0, 1.0))
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="command"))
    md_cli, tex_cli = tmp_path / "cli.md", tmp_path / "cli.tex"
    args = parser.parse_args(
        ["eval", "table", str(run), "--markdown", str(md_cli), "--latex", str(tex_cli)]
    )
    assert run_eval_command(args) == 0
    md_tool, tex_tool = tmp_path / "tool.md", tmp_path / "tool.tex"
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "make_table.py"), str(run),
         "--markdown", str(md_tool), "--latex", str(tex_tool)],
        check=True,
    )  # fmt: skip
    assert md_cli.read_text() == md_tool.read_text()
    assert tex_cli.read_text() == tex_tool.read_text()
    assert "| R | 5.00 ± 0.10 | 1.00 | 0.10 | 1.00 | 1.00 | 0.25 | 0.50 |" in md_cli.read_text()


def test_accuracy_column_appears_only_when_a_row_has_conditional_accuracy(tmp_path):
    plain = _run(tmp_path, "plain", _result("WaveGAN", 4.0, 0.1, 10.0, 0.5, 1.0, 2.0))
    cond = _result("cWaveGAN", 5.0, 0.2, 8.0, 0.4, 1.5, 2.5)
    cond["conditional_accuracy"] = {"accuracy": 0.4567, "per_class": {}, "n": 100}
    cond_dir = _run(tmp_path, "cond", cond)
    md, tex = make_tables([plain])
    assert "Acc." not in md and "Acc." not in tex
    md, tex = make_tables([plain, cond_dir])
    lines = md.splitlines()
    assert lines[0] == HEADER + " Acc. (%) |"
    assert lines[1] == RULE + "---:|"
    assert lines[2] == "| WaveGAN | 4.00 ± 0.10 | 10.00 | 0.50 | 1.00 | 2.00 | 0.25 | 0.50 | — |"
    assert lines[3] == "| cWaveGAN | 5.00 ± 0.20 | 8.00 | 0.40 | 1.50 | 2.50 | 0.25 | 0.50 | 45.7 |"
    assert r"\begin{tabular}{lrrrrrrrr}" in tex and "45.7" in tex


def test_an_eval_json_from_before_the_log_mel_distance_fills_the_classifier_columns(tmp_path):
    # Older eval.json files: classifier-space |D| under nn_self / nn_train, with feature_space.
    old = {"name": "old", "nn_self": 0.7, "nn_train": 0.9, "feature_space": "classifier (16 dims)"}
    md, tex = make_tables([_run(tmp_path, "old", old)])
    assert md.splitlines()[2] == "| old | — | — | — | — | — | 0.70 | 0.90 |"
    assert r"old & --- & --- & --- & --- & --- & 0.70 & 0.90 \\" in tex.splitlines()
