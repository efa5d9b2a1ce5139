"""tools/profile_step.py: HLO ops are traced back to their source lines and the profiled matmul
FLOPs of a layer equal the analytic count."""

import inspect
import json

import jax
import jax.numpy as jnp

from tests.tools import load_tool


def _tool():
    return load_tool("profile_step")


def _inner(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.tanh(a @ b)


def _outer(a: jax.Array, b: jax.Array) -> jax.Array:
    return _inner(a, b).sum()


def test_dot_is_traced_to_its_source_line_and_counted():
    tool = _tool()
    a, b = jnp.ones((32, 48)), jnp.ones((48, 16))
    mod = tool.parse_hlo(jax.jit(_outer).lower(a, b).compile().as_text())
    dots = [i for i in mod.comps[mod.entry] if tool.classify(mod, i)[0] == "matmul"]
    assert dots, "no top-level matmul instruction found"
    group, flops = tool.classify(mod, dots[0])
    assert flops == 2 * 32 * 48 * 16
    line = inspect.getsourcelines(_inner)[1] + 1  # the `a @ b` line
    assert tool.source(mod, dots[0]).startswith(f"test_profile_step.py:{line} _inner")


def test_layer_profile_matmul_flops_equal_the_analytic_count(tmp_path):
    """D's first layer (K=25, Cin=1, Cout=dim=4: the im2col form), output + VJP: three matmuls
    (forward, input gradient, kernel gradient), each 2·B·Tout·K·Cin·Cout FLOPs."""
    out = tmp_path / "prof.json"
    argv = ["--what", "layer", "--layer", "D/downconv_0", "--dim", "4", "--batch", "1"]
    assert _tool().main([*argv, "--reps", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    expected = 3 * (2 * 1 * 4096 * 25 * 1 * 4) / 1e9
    assert abs(result["groups"]["matmul"]["gflop"] - expected) < 1e-12
    assert result["groups"]["matmul"]["seconds"] > 0
    assert all(op["seconds"] >= 0 for op in result["ops"])


def test_native_conv_calls_are_counted_with_their_flops():
    """The one-channel kernels' custom calls (wavegen/models/one_channel_conv.py) are their own
    group, each 2·B·N·C·K FLOPs whichever of the three maps it is."""
    from wavegen.models import one_channel_conv as occ

    if not occ.available():
        import pytest

        pytest.skip(f"native kernels not built here: {occ._state.get('error')}")
    b, t, k, c, s, n = 2, 100, 25, 16, 4, 20
    x, w, y = jnp.ones((b, t)), jnp.ones((k, c)), jnp.ones((b, n, c))

    def three_maps(x, w, y):
        return (
            occ.conv(x, w, jnp.zeros(c), n, s, 10),
            occ.transpose(y, w, t, s, 10),
            occ.kernel_grad(x, y, k, s, 10),
        )

    tool = _tool()
    mod = tool.parse_hlo(jax.jit(three_maps).lower(x, w, y).compile().as_text())
    calls = [i for i in mod.comps[mod.entry] if tool.classify(mod, i)[0] == "native conv"]
    assert len(calls) == 3
    assert all(tool.classify(mod, i)[1] == 2 * b * n * c * k for i in calls)
