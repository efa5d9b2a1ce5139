"""Native CPU kernels for strided convs with one channel on one side (``one_channel_conv.cc``).

WaveGAN's first critic layer (1 → d channels, k=25, s=4) and last generator layer (d → 1) are,
as matmuls, GEMMs with one dimension of 25-64 against B·T/4 rows. XLA:CPU runs those at 30-60%
of a large matmul's rate, below every other layer (docs/benchmarks.md). The C++ file next to
this one computes the three linear maps of such a layer directly, as XLA FFI custom calls that
run on XLA's own thread pool. With x [B, T] a one-channel signal seen zero-padded by ``pad``
samples on the left (v[b, t] = x[b, t - pad] inside x, 0 outside), w [K, C], y [B, N, C] and
stride s:

- :func:`conv`:        y[b, n, c] = bias[c] + Σ_k v[b, s·n + k] w[k, c];
- :func:`transpose`:   x[b, t]    = Σ_{s·n + k = t + pad} Σ_c y[b, n, c] w[k, c]  (adjoint in x);
- :func:`kernel_grad`: w[k, c]    = Σ_{b, n} v[b, s·n + k] y[b, n, c]             (adjoint in w).

Each is linear in each argument and the adjoints of each are the other two, so each carries a
``custom_vjp`` made of the other two: reverse mode to any order (WGAN-GP differentiates the
critic twice). Forward mode (``jax.jvp``) is not defined for them; nothing in wavegen uses it.

The library is compiled from source on first use with the system C++ compiler (``$CXX`` or
``c++``, ``-O3 -march=native``) into ``$WAVEGEN_CACHE/native`` (default ``~/.cache/wavegen``),
keyed by the source, the jaxlib version and this CPU. Where that fails (no compiler, another
platform) :func:`available` is False with one logged warning, and the layers keep their XLA
formulation; ``WAVEGEN_NATIVE_CONV=0`` turns the kernels off.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from wavegen.models.target import Target

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_suffix(".cc")
TARGETS = {
    "conv": "WavegenOneChannelConv",
    "transpose": "WavegenOneChannelConvTranspose",
    "kernel_grad": "WavegenOneChannelConvKernelGrad",
}
CHANNEL_MULTIPLE = 16  # the kernels tile channels by 16
MAX_TRANSPOSE_TAPS = 256  # kMaxTransposeTaps in the .cc (taps rounded up to a multiple of 8)
ENV_SWITCH = "WAVEGEN_NATIVE_CONV"

_lock = threading.Lock()
_state: dict[str, object] = {}  # "ok": bool once tried, "error": str when it failed


def _cpu_tag() -> str:
    """What -march=native compiled for: the machine and its CPU flags (Linux) or processor."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


def cache_dir() -> Path:
    """Where the compiled library is kept: ``$WAVEGEN_CACHE/native``, default ~/.cache/wavegen."""
    root = os.environ.get("WAVEGEN_CACHE") or str(Path.home() / ".cache" / "wavegen")
    return Path(root) / "native"


def _compile_flags() -> list[str]:
    return ["-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-Wno-attributes"]


def library_path() -> Path:
    """The compiled library for this source, jaxlib and CPU (built by :func:`available`)."""
    import jaxlib

    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), jaxlib.__version__.encode(), _cpu_tag().encode()):
        key.update(part)
    key.update(" ".join(_compile_flags()).encode())
    return cache_dir() / f"one_channel_conv-{key.hexdigest()[:16]}.so"


def _build(out: Path) -> None:
    """Compiles SOURCE into ``out`` atomically (a temporary file renamed into place), so a
    concurrent process or an interrupted build never leaves a partial library behind."""
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        raise RuntimeError("no C++ compiler found (set $CXX)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
    os.close(fd)
    cmd = [cxx, *_compile_flags(), f"-I{jax.ffi.include_dir()}", str(SOURCE), "-o", tmp]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def available() -> bool:
    """Whether the kernels are compiled and registered (builds them on the first call).

    False when ``WAVEGEN_NATIVE_CONV=0`` or when the build failed (logged once, with the
    compiler's message). The kernels are registered for the CPU platform whatever the default
    backend is: whether a computation is compiled for one CPU is the caller's
    :class:`~wavegen.models.target.Target`, not this process's backend."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return False
    with _lock:
        if "ok" not in _state:
            try:
                path = library_path()
                if not path.exists():
                    _build(path)
                lib = ctypes.cdll.LoadLibrary(str(path))
                for target in TARGETS.values():
                    capsule = jax.ffi.pycapsule(getattr(lib, target))
                    jax.ffi.register_ffi_target(target, capsule, platform="cpu")
                _state["ok"] = True
            except Exception as err:  # any failure means: use the XLA formulation
                _state["ok"] = False
                _state["error"] = str(err)
                log.warning(
                    "wavegen: native one-channel conv kernels unavailable, using XLA's (%s)", err
                )
        return bool(_state["ok"])


def supports(n_channels: int, taps: int, dtype: jnp.dtype) -> bool:
    """Whether the kernels take these shapes: float32, channels a multiple of 16, taps ≤ 256."""
    return (
        jnp.dtype(dtype) == jnp.float32
        and n_channels > 0
        and n_channels % CHANNEL_MULTIPLE == 0
        and 0 < -(-taps // 8) * 8 <= MAX_TRANSPOSE_TAPS
    )


def _call(
    target: str, shape: tuple[int, ...], *args: jax.Array, stride: int, pad: int
) -> jax.Array:
    if stride < 1 or pad < 0:
        raise ValueError(f"one_channel_conv: stride {stride} must be >= 1 and pad {pad} >= 0")
    out = jax.ShapeDtypeStruct(shape, jnp.float32)
    call = jax.ffi.ffi_call(TARGETS[target], out, vmap_method="sequential")
    return call(*args, stride=np.int64(stride), pad=np.int64(pad))


# The signal x [B, T] is seen zero-padded by ``pad`` samples on the left and as many as needed on
# the right: v[b, t] = x[b, t - pad] for 0 <= t - pad < T, else 0 (see the .cc file).


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def conv(
    x: jax.Array, w: jax.Array, bias: jax.Array, n_out: int, stride: int, pad: int
) -> jax.Array:
    """y[b, n, c] = bias[c] + Σ_k v[b, s·n + k] w[k, c] for n < n_out (v: x padded by ``pad``).

    The bias is added in the kernel: a separate add re-reads and re-writes the whole output,
    the largest array of the layer (B·N·C against B·T inputs).

    Args:
      x: [B, T] float32.
      w: [K, C] float32, C a multiple of 16.
      bias: [C] float32.
      n_out: N, the number of outputs.
      stride: s >= 1.
      pad: zeros before x[0].

    Returns:
      [B, N, C].
    """
    return _call("conv", (x.shape[0], n_out, w.shape[1]), x, w, bias, stride=stride, pad=pad)


def _conv_fwd(x, w, bias, n_out, stride, pad):
    return conv(x, w, bias, n_out, stride, pad), (x, w)


def _conv_bwd(n_out, stride, pad, residuals, g):
    x, w = residuals
    dx = transpose(g, w, x.shape[1], stride, pad)
    return dx, kernel_grad(x, g, w.shape[0], stride, pad), jnp.sum(g, axis=(0, 1))


def _conv_no_bias(x: jax.Array, w: jax.Array, n_out: int, stride: int, pad: int) -> jax.Array:
    return conv(x, w, jnp.zeros(w.shape[1], w.dtype), n_out, stride, pad)


conv.defvjp(_conv_fwd, _conv_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def transpose(y: jax.Array, w: jax.Array, length: int, stride: int, pad: int) -> jax.Array:
    """x[b, t] = Σ_{s·n + k = t + pad} Σ_c y[b, n, c] w[k, c]: the adjoint of :func:`conv` in x.

    Computed on the padded axis and cropped to [pad, pad + length), so a transposed conv's
    'SAME' output is read off at ``pad`` = its offset.

    Args:
      y: [B, N, C] float32, C a multiple of 16.
      w: [K, C] float32 (K ≤ 256).
      length: T, the output length.
      stride: s >= 1.
      pad: where the output starts on the padded axis.

    Returns:
      [B, T].
    """
    return _call("transpose", (y.shape[0], length), y, w, stride=stride, pad=pad)


def _transpose_fwd(y, w, length, stride, pad):
    return transpose(y, w, length, stride, pad), (y, w)


def _transpose_bwd(length, stride, pad, residuals, g):
    y, w = residuals
    dy = _conv_no_bias(g, w, y.shape[1], stride, pad)
    return dy, kernel_grad(g, y, w.shape[0], stride, pad)


transpose.defvjp(_transpose_fwd, _transpose_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def kernel_grad(x: jax.Array, y: jax.Array, taps: int, stride: int, pad: int) -> jax.Array:
    """w[k, c] = Σ_{b, n} v[b, s·n + k] y[b, n, c]: the adjoint of :func:`conv` in w.

    Args:
      x: [B, T] float32 (v: x padded by ``pad``).
      y: [B, N, C] float32, C a multiple of 16.
      taps: K.
      stride: s >= 1.
      pad: zeros before x[0].

    Returns:
      [K, C]; summed in an order fixed by the shapes, so repeat calls agree bit for bit.
    """
    return _call("kernel_grad", (taps, y.shape[2]), x, y, stride=stride, pad=pad)


def _kernel_grad_fwd(x, y, taps, stride, pad):
    return kernel_grad(x, y, taps, stride, pad), (x, y)


def _kernel_grad_bwd(taps, stride, pad, residuals, g):
    x, y = residuals
    return transpose(y, g, x.shape[1], stride, pad), _conv_no_bias(x, g, y.shape[1], stride, pad)


kernel_grad.defvjp(_kernel_grad_fwd, _kernel_grad_bwd)


# --------------------------------------------------------------------------------------------------
# The layers' shapes ([B, T, C] activations, [K, Cin, Cout] kernels) on top of the three maps.


def usable(channels: int, taps: int, dtype: jnp.dtype, target: Target) -> bool:
    """Whether a layer with this many channels on its wide side and taps should use the kernels
    when compiled for ``target``.

    Requires a single CPU device: the custom calls exist for the CPU only, and they carry no
    sharding rule, so under a 'data' mesh XLA would gather the whole batch onto every device;
    there the XLA formulation (which XLA partitions) is used."""
    return supports(channels, taps, dtype) and target.single_cpu and available()


def strided_conv_layer(
    x: jax.Array, kernel: jax.Array, bias: jax.Array | None, stride: int, pad_left: int
) -> jax.Array:
    """A strided conv from one channel, zero-padded by ``pad_left`` on the left.

    Args:
      x: [B, T, 1].
      kernel: [K, 1, C].
      bias: [C] or None.
      stride: s.
      pad_left: zeros before x[0]; there are ceil(T / s) outputs (the right padded as needed).

    Returns:
      [B, ceil(T / s), C].
    """
    w, n_out = kernel[:, 0, :], -(-x.shape[1] // stride)
    if bias is None:
        return _conv_no_bias(x[..., 0], w, n_out, stride, pad_left)
    return conv(x[..., 0], w, bias, n_out, stride, pad_left)


def transposed_conv_layer(x: jax.Array, taps: jax.Array, stride: int, offset: int) -> jax.Array:
    """Σ_t x[t] · taps[u - s·t] read at u = o + offset, for o < s·T: a transposed conv to one
    channel (no bias). With ``taps`` the flipped kernel and ``offset`` = K-1-pad this is
    ``lax.conv_transpose``; the layers module derives both.

    Args:
      x: [B, T, C].
      taps: [L, C].
      stride: s.
      offset: >= 0, where the output starts on the transposed conv's axis.

    Returns:
      [B, T·s, 1].
    """
    return transpose(x, taps, stride * x.shape[1], stride, offset)[..., None]
