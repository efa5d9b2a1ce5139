"""Config loading: variants, overrides with type checks, unknown keys, JSON round trip."""

import json
from pathlib import Path

import pytest

from wavegen.config import (
    ConfigError,
    diff_configs,
    from_json,
    load_config,
    parse_override,
    to_json,
)

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = str(REPO / "experiments" / "quickstart.py")


def test_variant_and_overrides():
    cfg = load_config(QUICKSTART + ":tiny", ["--config.train.num_steps=7", "model.dim=8"])
    assert cfg.train.num_steps == 7
    assert cfg.model.dim == 8
    assert cfg.data.source == "synthetic"


def test_int_override_of_float_key_is_coerced():
    cfg = load_config(QUICKSTART, ["train.learning_rate=1"])
    assert cfg.train.learning_rate == 1.0 and isinstance(cfg.train.learning_rate, float)


@pytest.mark.parametrize(
    "override, needle",
    [
        ("train.num_stepz=3", "num_stepz"),
        ("nosuch.key=1", "nosuch"),
        ("train.num_steps=abc", "train.num_steps"),
        ("train.num_steps=1.5", "train.num_steps"),
        ("model.name=3", None),  # ints are accepted for str keys as their text
    ],
)
def test_bad_overrides_name_the_key(override, needle):
    if needle is None:
        assert load_config(QUICKSTART, [override]).model.name == "3"
        return
    with pytest.raises(ConfigError, match=needle):
        load_config(QUICKSTART, [override])


def test_unknown_key_suggests_close_match():
    with pytest.raises(ConfigError, match="did you mean train.num_steps"):
        load_config(QUICKSTART, ["train.num_step=3"])


def test_locked_config_rejects_new_attributes():
    cfg = load_config(QUICKSTART)
    with pytest.raises(AttributeError):
        cfg.train.brand_new = 1


def test_missing_file_and_missing_get_config(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "nope.py"))
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    with pytest.raises(ConfigError, match="get_config"):
        load_config(str(bad))


def test_unknown_variant_is_an_error():
    with pytest.raises(ConfigError, match="unknown variant"):
        load_config(QUICKSTART + ":huge")


def test_override_syntax():
    assert parse_override("--config.a.b=[1, 2]") == ("a.b", [1, 2])
    assert parse_override("a=hello") == ("a", "hello")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("--config.a")


def test_json_round_trip_and_diff():
    cfg = load_config(QUICKSTART)
    back = from_json(to_json(cfg))
    assert json.loads(to_json(back)) == json.loads(to_json(cfg))
    other = load_config(QUICKSTART, ["model.dim=32"])
    assert diff_configs(cfg.to_dict(), other.to_dict()) == ["model.dim: 16 != 32"]


def test_every_experiment_loads_with_its_tiny_variant():
    for path in sorted((REPO / "experiments").glob("*.py")):
        cfg = load_config(f"{path}:tiny")
        assert cfg.train.num_steps <= 50, path
        full = load_config(str(path))
        assert full.train.num_steps >= cfg.train.num_steps, path
        doc = path.read_text().split('"""')[1]
        assert "wavegen " in doc and "runtime" in doc.lower(), (
            f"{path}: docstring lacks command/runtime"
        )


# --- config fuzz: bad values fail fast, naming the key, before any model is built or compiled.


@pytest.mark.parametrize(
    "override, needle",
    [
        ("train.batch_size=-8", "train.batch_size"),
        ("train.batch_size=0", "train.batch_size"),
        ("train.num_steps=-1", "train.num_steps"),
        ("train.checkpoint_every=0", "train.checkpoint_every"),
        ("train.log_every=-5", "train.log_every"),
        ("train.keep_checkpoints=0", "train.keep_checkpoints"),
        ("train.learning_rate=-0.001", "train.learning_rate"),
        ("train.d_steps=0", "train.d_steps"),
        ("data.length=-16384", "data.length"),
        ("data.sample_rate=0", "data.sample_rate"),
        ("data.prefetch=-1", "data.prefetch"),
        ("train.nan_policy=ignore", "train.nan_policy"),
        ("train.batch_size=[8]", "train.batch_size"),
        ("train.learning_rate=fast", "train.learning_rate"),
        ("data.skip_bad=maybe", "data.skip_bad"),
        ("model={'dim': 4}", "model"),
        ("train={}", "train"),
        ("data.length.x=1", "data.length.x"),
        ("train.batch-size=8", "train.batch-size"),
    ],
)
def test_fuzzed_overrides_fail_in_load_config_naming_the_key(override, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("[", r"\[")):
        load_config(QUICKSTART + ":tiny", [override])


@pytest.mark.parametrize(
    "override, needle",
    [
        ("data.length=16000", "data.length"),  # WaveGAN makes 4096 / 8192 / ... / 65536 samples
        ("data.length=12000", "data.length"),
        ("model.dim=-4", "model.dim"),
        ("model.kernel_size=0", "model.kernel_size"),
        ("model.phase_shuffle=-1", "model.phase_shuffle"),
        ("model.upsample=bilinear", "model.upsample"),
        ("model.name=specgan,data.length=32768", "data.length"),  # specgan: 128 x 128 frames only
        ("model.name=transformer", "model.name"),
    ],
)
def test_model_config_errors_come_before_any_model_or_compilation(
    override, needle, monkeypatch, caplog
):
    """Values the model cannot use are ModelConfigError/ConfigError from build_task: no module is
    constructed and nothing is compiled."""
    import logging

    import jax

    from wavegen.models import ModelConfigError, wavegan
    from wavegen.train import build_task

    def no_build(*a, **k):
        raise AssertionError("a model was built before the config was validated")

    monkeypatch.setattr(wavegan.WaveGANGenerator, "__init__", no_build)
    monkeypatch.setattr(wavegan.WaveGANDiscriminator, "__init__", no_build)
    cfg = load_config(QUICKSTART + ":tiny", override.split(","))
    caplog.set_level(logging.WARNING)
    with jax.log_compiles(True), pytest.raises((ModelConfigError, ConfigError), match=needle):
        build_task(cfg)
    assert not [r for r in caplog.records if r.getMessage().startswith("Compiling")]


def test_bad_config_through_the_cli_is_one_line_and_no_workdir(tmp_path, capsys):
    from wavegen import cli

    work = tmp_path / "run"
    rc = cli.main(
        ["train", "--config", QUICKSTART + ":tiny", "--workdir", str(work), "--no-progress",
         "--config.train.batch_size=-8"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "train.batch_size" in err and "Traceback" not in err
    assert not work.exists()  # failed before anything was written
