"""Every family: a wrong config key or value is a one-line error before any data is decoded.

`wavegen train` loads the experiment (unknown keys fail there: the config is locked), builds the
task (every family's constructor checks its values), and only then decodes data. Here decoding
raises, so a check that ran too late would show up as that error instead of the config's.
(The latent prior, whose configs need a trained VAE run, has the same test in
tests/train/test_prior_training.py.)
"""

from pathlib import Path

import pytest

from wavegen import cli

REPO = Path(__file__).resolve().parents[1]

# (experiment, a key that is not in its schema, a value its checks refuse, the key they name)
CASES = {
    "wavegan": (
        "quickstart.py:tiny",
        "model.upsampel=nearest",
        "model.upsample=cubic",
        "model.upsample",
    ),
    "wavegan loss": ("quickstart.py:tiny", "loss.nmae=hinge", "loss.name=wasserstein", "loss.name"),
    "specgan": ("specgan_sc09.py:tiny", "model.dimm=4", "data.length=8192", "data.length"),
    "vae": (
        "vae_notes.py:tiny",
        "model.capacty=4",
        "model.capacity=0",
        "model.capacity",
    ),
    "samplernn": (
        "samplernn_fsdd.py:tiny",
        "train.tbptt=64",
        "train.tbptt_len=7",
        "train.tbptt_len",
    ),
}


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("data was decoded before the config was checked")

    monkeypatch.setattr("wavegen.train.loop.build_dataset", refuse)
    monkeypatch.setattr("wavegen.data.build_dataset", refuse)


@pytest.mark.parametrize("family", sorted(CASES))
def test_wrong_key_and_wrong_value_fail_before_data(family, no_decoding, tmp_path, capsys):
    spec, bad_key, bad_value, named = CASES[family]
    workdir = tmp_path / "run"
    base = ["train", "--config", str(REPO / "experiments" / spec), "--workdir", str(workdir)]
    assert cli.main([*base, f"--config.{bad_key}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wavegen train: error: ") and "\n" not in err
    assert bad_key.split("=")[0] in err  # the unknown key, named
    assert cli.main([*base, "--no-progress", f"--config.{bad_value}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wavegen train: error: ") and "\n" not in err, err
    assert named in err, err
    assert not workdir.exists(), "nothing is written for a config that does not check"
