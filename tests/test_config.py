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
