"""The package's layering (pyproject.toml [tool.importlinter]) holds, and the check can fail."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT.is_file(), reason="import-linter is not installed (pip install -e .[dev])"
)


def lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_layers_contract_is_kept():
    result = lint(REPO, REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_wrong_way_import_breaks_it(tmp_path):
    """models importing train (what models/__init__ once did) must fail the contract."""
    shutil.copytree(REPO / "wavegen", tmp_path / "wavegen", ignore=shutil.ignore_patterns("*.so"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    bad = tmp_path / "wavegen" / "models" / "wavegan.py"
    bad.write_text(bad.read_text() + "\nfrom wavegen.train import loop  # noqa\n")
    result = lint(tmp_path, tmp_path)
    assert result.returncode != 0
    assert "wavegen.models.wavegan -> wavegen.train" in result.stdout
