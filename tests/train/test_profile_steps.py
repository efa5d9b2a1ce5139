"""``train.profile_steps``: a jax.profiler trace of chosen steps, where TensorBoard reads it."""

from pathlib import Path

import pytest

from wavegen.config import ConfigError, load_config
from wavegen.train import build_task
from wavegen.train.loop import fit

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "experiments" / "quickstart.py") + ":tiny"


def test_profile_steps_write_an_xplane_trace_under_plugins_profile(tmp_path):
    cfg = load_config(TINY, ["train.num_steps=2", "--config.train.profile_steps=[2,2]"])
    fit(build_task(cfg), tmp_path / "run", progress=False)
    traces = list((tmp_path / "run" / "plugins" / "profile").glob("*/*.xplane.pb"))
    assert len(traces) == 1 and traces[0].stat().st_size > 0


@pytest.mark.parametrize("value", ["[0,1]", "[2,1]", "[1,3]", "[1]", "[1.5,2]"])
def test_bad_profile_steps_are_a_config_error_naming_the_key(value, tmp_path):
    cfg = load_config(TINY, ["train.num_steps=2", f"train.profile_steps={value}"])
    with pytest.raises(ConfigError, match=r"train\.profile_steps"):
        fit(build_task(cfg), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()  # refused before anything is written
