"""Pitch and loudness fidelity of reconstructions (wavegen.eval.reconstruction) and the VAE's
reconstruction monitor, on tones whose f0 and loudness errors are known by construction."""

import dataclasses

import ml_collections
import numpy as np
import pytest

from wavegen.config import ConfigError
from wavegen.eval.monitors import ReconstructionMonitor, build_monitors
from wavegen.eval.reconstruction import FIDELITY_KEYS, reconstruction_fidelity

SR = 16000
LENGTH = 8192  # 0.512 s: 29 YIN frames of 1024 every 256
CENTS_TOL = 3.0  # YIN with parabolic interpolation on a decaying sine: well under 1 cent


def note(freq: float, length: int = LENGTH) -> np.ndarray:
    """[T] float32 decaying sine (a plucked note: the loudness curve is not constant)."""
    t = np.arange(length) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-3 * t)).astype(np.float32)


def detune(freq: float, cents: float) -> float:
    return freq * 2.0 ** (cents / 1200.0)


def noise(seed: int, length: int = LENGTH) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(length)).astype(np.float32)


def test_perfect_reconstruction():
    x = np.stack([note(220.0), note(440.0), note(523.25)])
    m = reconstruction_fidelity(x, x, SR)
    assert set(m) == set(FIDELITY_KEYS)
    assert m["f0_num_clips"] == 3
    assert m["f0_within_50c"] == 1.0
    assert m["f0_median_error_cents"] == 0.0
    assert m["loudness_correlation"] == pytest.approx(1.0, abs=1e-9)


def test_detuned_and_octave_errors_and_unpitched_inputs():
    """Clip 0 perfect (0 c), clip 1 detuned 30 c (within 50 c), clip 2 an octave up (1200 c,
    not within), clip 3 a noise input (no confident f0: not counted, although its
    reconstruction, a clean note, would be a miss if it were)."""
    x = np.stack([note(440.0), note(330.0), note(262.0), noise(0)])
    y = np.stack([note(440.0), note(detune(330.0, 30.0)), note(524.0), note(440.0)])
    m = reconstruction_fidelity(x, y, SR)
    assert m["f0_num_clips"] == 3
    assert m["f0_within_50c"] == pytest.approx(2 / 3)
    # Per-clip errors 0, 30 and 1200 cents: the median is the detuned clip's 30.
    assert m["f0_median_error_cents"] == pytest.approx(30.0, abs=CENTS_TOL)
    octave = reconstruction_fidelity(x[2:3], y[2:3], SR)
    assert octave["f0_within_50c"] == 0.0
    assert octave["f0_median_error_cents"] == pytest.approx(1200.0, abs=CENTS_TOL)


def test_only_unpitched_inputs_give_nan_f0():
    x = np.stack([noise(1), np.zeros(LENGTH, np.float32)])
    m = reconstruction_fidelity(x, np.stack([note(440.0), note(440.0)]), SR)
    assert m["f0_num_clips"] == 0
    assert np.isnan(m["f0_within_50c"]) and np.isnan(m["f0_median_error_cents"])


def test_unvoiced_reconstruction_is_a_miss_left_out_of_the_median():
    x = np.stack([note(440.0), note(330.0)])
    y = np.stack([note(440.0), noise(2)])
    m = reconstruction_fidelity(x, y, SR)
    assert m["f0_num_clips"] == 2 and m["f0_within_50c"] == 0.5
    assert m["f0_median_error_cents"] == 0.0


def test_loudness_correlation_mean_over_clips():
    """Frames of 1024 every 1024 samples, so a step of the envelope at sample 4096 lies on a
    frame boundary: the reversed step's dB curve is the input's mirrored, correlation -1.
    A scaled copy shifts the dB curve by a constant: correlation 1. A silent input has a
    constant curve and is left out: the mean is (1 + 1 - 1) / 3 (1/4 if it counted as 0)."""
    t = np.arange(LENGTH) / SR
    carrier = np.sin(2 * np.pi * 250.0 * t)  # 64 samples a period: every frame's RMS is equal
    step = np.where(np.arange(LENGTH) < LENGTH // 2, 0.5, 0.05)
    loud_quiet = (carrier * step).astype(np.float32)
    quiet_loud = (carrier * step[::-1]).astype(np.float32)
    plucked = note(440.0)
    x = np.stack([plucked, loud_quiet, loud_quiet, np.zeros(LENGTH, np.float32)])
    y = np.stack([0.25 * plucked, 0.5 * loud_quiet, quiet_loud, noise(3)])
    m = reconstruction_fidelity(x, y, SR, frame_length=1024, hop_length=1024)
    assert m["loudness_correlation"] == pytest.approx(1 / 3, abs=1e-6)


@dataclasses.dataclass
class FakeDataset:
    sample_rate: int = SR


def test_reconstruction_monitor():
    monitor = ReconstructionMonitor()
    with pytest.raises(RuntimeError, match="setup"):
        monitor(np.zeros((1, LENGTH), np.float32), np.zeros((1, LENGTH), np.float32))
    monitor.setup(FakeDataset())
    x = np.stack([note(440.0), note(330.0)])
    good = monitor(x, x)
    assert good == pytest.approx(
        {
            "recon/f0_within_50c": 1.0,
            "recon/f0_median_error_cents": 0.0,
            "recon/f0_num_clips": 2.0,
            "recon/loudness_corr": 1.0,
        }
    )
    # Same inputs (the input track is reused), one reconstruction an octave up.
    half = monitor(x, np.stack([note(880.0), note(330.0)]))
    assert half["recon/f0_within_50c"] == 0.5
    # Median of 1200 and 0 cents.
    assert half["recon/f0_median_error_cents"] == pytest.approx(600.0, abs=CENTS_TOL)
    # New inputs: the cached track is not reused (the octave reconstruction is now perfect).
    octave_up = np.stack([note(880.0)])
    assert monitor(octave_up, octave_up)["recon/f0_within_50c"] == 1.0
    # A diverged decoder: NaNs are silence, a miss; no comparable frame, so no median.
    broken = monitor(x, np.full_like(x, np.nan))
    assert broken["recon/f0_within_50c"] == 0.0
    assert "recon/f0_median_error_cents" not in broken


def config(model: str, source: str = "synthetic", monitor: str = "auto"):
    return ml_collections.ConfigDict(
        dict(
            model=dict(name=model),
            data=dict(source=source),
            train=dict(monitor=monitor, monitor_classifier="", monitor_num=64),
        )
    )


def test_build_monitors_for_the_vae():
    kinds = lambda ms: [type(m).__name__ for m in ms]  # noqa: E731
    assert kinds(build_monitors(config("vae"))) == ["ReconstructionMonitor"]
    assert kinds(build_monitors(config("vae", monitor="reconstruction"))) == [
        "ReconstructionMonitor"
    ]
    # The notes set spans MIDI 28 (41 Hz): the pitch monitor's wider YIN range.
    assert build_monitors(config("vae", "notes"))[0].f0_kwargs["fmin"] < 41
    assert build_monitors(config("vae", monitor="none")) == []
    assert kinds(build_monitors(config("wavegan"))) == ["PitchMonitor"]
    with pytest.raises(ConfigError, match="no reconstructions"):
        build_monitors(config("wavegan", monitor="reconstruction"))
    with pytest.raises(ConfigError, match="no generated clips"):
        build_monitors(config("vae", monitor="pitch"))
