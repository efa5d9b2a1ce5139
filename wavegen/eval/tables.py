"""WaveGAN-Table-1-style tables (Markdown and LaTeX) from ``eval.json`` files.

Inputs, in the order given (rows keep that order):

- a run directory holding ``eval.json`` (written by ``wavegen eval run``);
- an eval JSON file itself (e.g. ``runs/real_test.json`` from ``wavegen eval real --out``);
- a sweep root: its ``sweep.json`` (``{"runs": [{"name", "workdir"}, ...]}``) gives the rows in
  sweep order, a run without ``eval.json`` becomes a row of dashes;
- any other folder: its subfolders that contain ``eval.json``, sorted by name.

Columns: model, IS ± std, FD, NDB/K, |D|self, |D|train (on log-mel spectrograms, as the WaveGAN
reference code and the paper's Table 1), |D|self and |D|train in classifier-feature space
(labelled "(classifier)"), and "Acc." (the classifier's accuracy on class-conditional samples, as
a percentage) when any row has one; a missing metric shows as "—" (``---`` in LaTeX). An
``eval.json`` written before the log-mel |D| existed (it has ``feature_space`` but no
``nn_features``) holds classifier-space values under ``nn_self`` / ``nn_train``: they go to the
classifier columns and its log-mel columns are empty.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wavegen.errors import WavegenError
from wavegen.eval.evaluate import EVAL_FILE

log = logging.getLogger(__name__)

MISSING = "—"
LATEX_MISSING = "---"  # an em dash in any LaTeX engine


class TableError(WavegenError):
    """An input to the table is missing or unreadable; the message names it."""


@dataclass(frozen=True)
class Row:
    """One table row: the model's name and its eval JSON (None when not evaluated yet)."""

    name: str
    result: dict | None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TableError(f"{path}: not a readable eval JSON ({e})") from e
    if not isinstance(data, dict):
        raise TableError(f"{path}: expected a JSON object of metrics, got {type(data).__name__}")
    return data


def _sweep_workdir(root: Path, entry: dict) -> Path:
    """A sweep entry's workdir: as written (absolute or relative to the cwd), else under root."""
    workdir = Path(str(entry.get("workdir", "")))
    candidates = [workdir, root / workdir.name, root / str(entry.get("name", ""))]
    for candidate in candidates:
        if str(candidate) and (candidate / EVAL_FILE).is_file():
            return candidate
    return workdir


def _sweep_rows(root: Path) -> list[Row]:
    manifest = _read_json(root / "sweep.json")
    runs = manifest.get("runs")
    if not isinstance(runs, list):
        raise TableError(f"{root / 'sweep.json'}: expected a 'runs' list of {{name, workdir}}")
    rows = []
    for i, entry in enumerate(runs):
        if not isinstance(entry, dict) or "name" not in entry:
            raise TableError(f"{root / 'sweep.json'}: runs[{i}] has no 'name'")
        path = _sweep_workdir(root, entry) / EVAL_FILE
        if not path.is_file():
            log.warning("sweep run %s has no %s yet; its row is empty", entry["name"], path)
        rows.append(Row(str(entry["name"]), _read_json(path) if path.is_file() else None))
    return rows


def collect_rows(inputs: Sequence[str | Path]) -> list[Row]:
    """Rows from run directories, eval JSON files and sweep roots (see the module docstring).

    Raises:
        TableError: an input does not exist, or is a folder with no eval results at all.
    """
    rows: list[Row] = []
    for item in inputs:
        path = Path(item)
        if path.is_file():
            data = _read_json(path)
            rows.append(Row(str(data.get("name") or path.stem), data))
        elif (path / EVAL_FILE).is_file():
            data = _read_json(path / EVAL_FILE)
            rows.append(Row(str(data.get("name") or path.resolve().name), data))
        elif (path / "sweep.json").is_file():
            rows.extend(_sweep_rows(path))
        elif path.is_dir():
            subdirs = sorted(p for p in path.iterdir() if (p / EVAL_FILE).is_file())
            if not subdirs:
                raise TableError(
                    f"{path} has no {EVAL_FILE}, no sweep.json and no subfolder with {EVAL_FILE} "
                    "(run `wavegen eval run` first)"
                )
            for sub in subdirs:
                data = _read_json(sub / EVAL_FILE)
                rows.append(Row(str(data.get("name") or sub.name), data))
        else:
            raise TableError(f"{path} does not exist")
    return rows


def _get(result: dict | None, *keys: str) -> float | None:
    node: Any = result
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def _fmt(value: float | None, digits: int = 2) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def _has_accuracy(rows: Sequence[Row]) -> bool:
    return any(_get(row.result, "conditional_accuracy", "accuracy") is not None for row in rows)


def _nn_values(r: dict | None) -> list[float | None]:
    """[|D|self, |D|train (log-mel), |D|self, |D|train (classifier)] of one result."""
    if isinstance(r, dict) and "feature_space" in r and "nn_features" not in r:
        # Written before the log-mel |D|: its nn_self / nn_train are classifier-space values.
        return [None, None, _get(r, "nn_self"), _get(r, "nn_train")]
    keys = ("nn_self", "nn_train", "nn_self_classifier", "nn_train_classifier")
    return [_get(r, key) for key in keys]


def row_cells(row: Row, accuracy: bool = False) -> list[str | None]:
    """[IS mean, IS std, FD, NDB/K, |D|self, |D|train, |D|self (classifier), |D|train
    (classifier) (, Acc. %)] with 2 decimals (accuracy: 1); None where missing."""
    r = row.result
    acc = _get(r, "conditional_accuracy", "accuracy")
    extra = [_fmt(None if acc is None else 100 * acc, 1)] if accuracy else []
    return [
        _fmt(_get(r, "inception_score", "mean")),
        _fmt(_get(r, "inception_score", "std")),
        _fmt(_get(r, "frechet_distance")),
        _fmt(_get(r, "ndb", "ndb_k")),
        *(_fmt(v) for v in _nn_values(r)),
        *extra,
    ]


def markdown_table(rows: Sequence[Row]) -> str:
    """A GitHub Markdown table, one line per row, newline-terminated."""
    acc = _has_accuracy(rows)
    lines = [
        "| Model | IS | FD | NDB/K | \\|D\\|<sub>self</sub> | \\|D\\|<sub>train</sub> | "
        "\\|D\\|<sub>self</sub> (classifier) | \\|D\\|<sub>train</sub> (classifier) |"
        + (" Acc. (%) |" if acc else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if acc else ""),
    ]
    for row in rows:
        is_mean, is_std, *rest = row_cells(row, acc)
        score = MISSING if is_mean is None else is_mean + (f" ± {is_std}" if is_std else "")
        cells = [row.name.replace("|", "\\|"), score, *(c or MISSING for c in rest)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """Escapes LaTeX's special characters in a run name."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_table(rows: Sequence[Row]) -> str:
    """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), newline-terminated."""
    acc = _has_accuracy(rows)
    header = (
        r"Model & IS & FD & NDB/$K$ & $|D|_{\mathrm{self}}$ & $|D|_{\mathrm{train}}$"
        r" & $|D|_{\mathrm{self}}$ (classifier) & $|D|_{\mathrm{train}}$ (classifier)"
    )
    lines = [
        r"\begin{tabular}{lrrrrrrr" + ("r}" if acc else "}"),
        r"\toprule",
        header + (r" & Acc.\ (\%) \\" if acc else r" \\"),
        r"\midrule",
    ]
    for row in rows:
        is_mean, is_std, *rest = row_cells(row, acc)
        if is_mean is None:
            score = LATEX_MISSING
        else:
            score = f"${is_mean} \\pm {is_std}$" if is_std else f"${is_mean}$"
        cells = [latex_escape(row.name), score, *(c or LATEX_MISSING for c in rest)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def make_tables(
    inputs: Sequence[str | Path],
    *,
    markdown: str | Path | None = None,
    latex: str | Path | None = None,
) -> tuple[str, str]:
    """Collects rows and writes the Markdown / LaTeX tables where paths are given.

    Returns:
        ``(markdown_text, latex_text)``.
    """
    rows = collect_rows(inputs)
    md, tex = markdown_table(rows), latex_table(rows)
    for path, text in ((markdown, md), (latex, tex)):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
    return md, tex
