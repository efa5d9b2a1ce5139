"""Conventions every ``wavegen`` command follows: --version, ``python -m wavegen``, help text on
every option, a top-level description naming every command, and which errors print as one line."""

import argparse
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from wavegen import cli
from wavegen.cli.eval import EvalUsageError
from wavegen.config import ConfigError
from wavegen.data.errors import AudioDataError
from wavegen.eval.classifier import ClassifierError
from wavegen.eval.evaluate import EvalError
from wavegen.eval.tables import TableError
from wavegen.eval.validation import MetricInputError
from wavegen.models import ModelConfigError
from wavegen.train.checkpoint import CheckpointError
from wavegen.train.loop import SampleRequestError, TrainingDiverged
from wavegen.train.runs import AutoencodeError

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "train",
    "generate",
    "publish",
    "export",
    "describe",
    "compile",
    "sweep",
    "eval",
    "vae",
    "data",
}


def parsers(parser: argparse.ArgumentParser, name: str = "wavegen"):
    """Yields (name, parser) for the parser and every sub(-sub)command parser."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"wavegen {version('wavegen')}"


def test_python_dash_m_wavegen_is_the_wavegen_command():
    run = subprocess.run(
        [sys.executable, "-m", "wavegen", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: wavegen ")
    assert run.stdout == cli.build_parser().format_help()  # same parser, same text
    bad = subprocess.run(
        [sys.executable, "-m", "wavegen", "no-such-command"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_top_level_lists_every_command():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == COMMANDS
    listed = {line.split()[0] for line in parser.description.splitlines() if line[:2] == "  "}
    assert listed == COMMANDS


def test_every_option_and_command_has_help_text():
    missing = []
    for name, parser in parsers(cli.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{name} {c.dest}" for c in action._choices_actions if not c.help]
            elif not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing
    names = {name for name, _ in parsers(cli.build_parser())}
    assert {"wavegen vae eval", "wavegen eval run", "wavegen data inspect"} <= names  # reached


OURS = [
    ConfigError("bad key"),
    ModelConfigError("bad model"),
    AudioDataError("bad file"),
    CheckpointError("bad checkpoint"),
    TrainingDiverged("loss is NaN at step 3"),
    AutoencodeError("bad latents"),
    ClassifierError("bad classifier"),
    EvalUsageError("bad eval arguments"),
    EvalError("bad eval source"),
    TableError("bad table input"),
    MetricInputError("bad metric input"),
    SampleRequestError("bad --label"),
]


@pytest.fixture
def failing(monkeypatch):
    """Makes the command raise the given exception where it would do its work."""

    def install(exc: Exception) -> None:
        def dispatch(args, overrides):
            raise exc

        monkeypatch.setattr(cli, "_dispatch", dispatch)

    return install


@pytest.mark.parametrize("exc", OURS, ids=lambda e: type(e).__name__)
def test_project_errors_print_one_line_and_exit_2(exc, failing, capsys):
    failing(exc)
    assert cli.main(["describe", "--config", "x.py"]) == 2
    err = capsys.readouterr().err
    assert err == f"wavegen describe: error: {exc}\n"


@pytest.mark.parametrize(
    "exc", [ValueError("a bug"), KeyError("k"), TypeError("t"), RuntimeError("r")], ids=repr
)
def test_other_errors_keep_their_traceback(exc, failing):
    failing(exc)
    with pytest.raises(type(exc)) as info:
        cli.main(["describe", "--config", "x.py"])
    assert info.value is exc


@pytest.mark.parametrize("exc", [ConfigError("bad key"), ValueError("a bug")], ids=repr)
def test_verbose_always_shows_the_traceback(exc, failing):
    failing(exc)
    with pytest.raises(type(exc)) as info:
        cli.main(["-v", "describe", "--config", "x.py"])
    assert info.value is exc


def test_real_config_error_is_one_line_and_verbose_traceback(tmp_path):
    missing = str(tmp_path / "missing.py")
    quiet = subprocess.run(
        [sys.executable, "-m", "wavegen", "describe", "--config", missing],
        capture_output=True,
        text=True,
    )
    assert quiet.returncode == 2
    ours = [line for line in quiet.stderr.splitlines() if line.startswith("wavegen ")]
    assert (
        len(ours) == 1
        and ours[0].startswith("wavegen describe: error:")
        and "missing.py" in ours[0]
    )
    assert "Traceback" not in quiet.stderr
    loud = subprocess.run(
        [sys.executable, "-m", "wavegen", "-v", "describe", "--config", missing],
        capture_output=True,
        text=True,
    )
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr and "ConfigError" in loud.stderr


def test_nested_command_names_its_subcommand_in_errors(failing, capsys):
    failing(TableError("no rows"))
    assert cli.main(["eval", "table", "a.json"]) == 2
    assert capsys.readouterr().err == "wavegen eval table: error: no rows\n"


def test_every_project_error_is_one_wavegen_error_and_others_keep_their_traceback(
    monkeypatch, capsys
):
    """One base: the CLI prints a WavegenError as one line, a plain ValueError (a bug) raises."""
    import wavegen.config
    from wavegen.errors import ConfigError, WavegenError
    from wavegen.models.samplernn import SampleRNNConfigError
    from wavegen.models.vae import VAEConfigError
    from wavegen.train.checkpoint import CheckpointError
    from wavegen.train.rnn import RNNConfigError
    from wavegen.train.vae import VAEConfigKeyError

    for cls in (SampleRNNConfigError, VAEConfigError, RNNConfigError, VAEConfigKeyError):
        assert issubclass(cls, ConfigError), cls
    assert issubclass(CheckpointError, WavegenError)

    def bug(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(wavegen.config, "load_config", bug)
    with pytest.raises(ValueError, match="an internal bug"):
        cli.main(["describe", "--config", "experiments/quickstart.py:tiny"])
