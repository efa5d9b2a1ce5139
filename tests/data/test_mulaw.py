"""8-bit μ-law companding: exact round trip on the codes, and the closed-form formula."""

import numpy as np

from wavegen.data import mulaw


def numpy_encode(x: np.ndarray) -> np.ndarray:
    """WaveNet's quantiser, float64: floor((sign(x) ln(1 + 255|x|) / ln 256 + 1) / 2 · 255 + ½)."""
    y = np.sign(x) * np.log(1.0 + 255.0 * np.abs(x)) / np.log(256.0)
    return np.floor((y + 1.0) / 2.0 * 255.0 + 0.5).astype(np.int64)


def numpy_decode(codes: np.ndarray) -> np.ndarray:
    y = 2.0 * codes / 255.0 - 1.0
    return np.sign(y) * (256.0 ** np.abs(y) - 1.0) / 255.0


def test_round_trip_is_exact_on_all_256_codes():
    codes = np.arange(256)
    x = np.asarray(mulaw.decode(codes))
    assert x.dtype == np.float32 and np.all(np.abs(x) <= 1.0)
    np.testing.assert_array_equal(np.asarray(mulaw.encode(x)), codes)
    assert np.all(np.diff(x) > 0), "decode is strictly increasing"


def test_encode_matches_the_formula():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 1, 20000), rng.normal(0, 0.01, 20000).clip(-1, 1)])
    x = np.concatenate([x, [-1.0, 0.0, 1.0, 1e-6, -1e-6]]).astype(np.float32)
    got = np.asarray(mulaw.encode(x))
    want = numpy_encode(x.astype(np.float64))
    # float32 vs float64 may disagree only within float error of a rounding boundary.
    y = np.sign(x) * np.log1p(255.0 * np.abs(x.astype(np.float64))) / np.log(256.0)
    frac = ((y + 1.0) / 2.0 * 255.0 + 0.5) % 1.0
    near_boundary = np.minimum(frac, 1.0 - frac) < 1e-4
    assert np.all(got[~near_boundary] == want[~near_boundary])
    assert np.all(np.abs(got - want) <= 1)
    assert got.dtype == np.int32 and got.min() == 0 and got.max() == 255


def test_decode_matches_the_formula_and_known_points():
    codes = np.arange(256)
    np.testing.assert_allclose(np.asarray(mulaw.decode(codes)), numpy_decode(codes), atol=1e-6)
    assert int(mulaw.encode(0.0)) == mulaw.SILENCE == 128
    assert int(mulaw.encode(1.0)) == 255 and int(mulaw.encode(-1.0)) == 0
    assert int(mulaw.encode(3.0)) == 255 and int(mulaw.encode(-3.0)) == 0  # clipped


def test_quantisation_error_is_at_most_half_a_step_in_the_companded_domain():
    x = np.linspace(-1, 1, 10001, dtype=np.float32)
    y = np.asarray(mulaw.compress(x))
    y_hat = np.asarray(mulaw.compress(mulaw.decode(mulaw.encode(x))))
    assert np.max(np.abs(y - y_hat)) <= 1.0 / 255.0 + 1e-6
