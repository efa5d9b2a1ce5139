"""A pitch channel and a harmonic oscillator bank for the VAE (DDSP, Engel et al. 2020).

The RAVE-like decoder has to *invent* an oscillation at the right frequency from a magnitude
loss, which it does not learn within a CPU budget (docs/vae.md: ~1300-3000 cents median f0 error
after 800-3000 steps, no clip within 50 cents). DDSP's autoencoder side-steps that by giving the
decoder the fundamental frequency and letting it predict only the harmonic amplitudes. Here:

- :func:`pitch_channel` estimates f0 of every latent frame of the input with YIN (de Cheveigné
  & Kawahara 2002) in JAX, inside the encoder's jitted function (no gradient flows through it),
  and returns it as one extra latent channel ``log2(f0 / 440 Hz)`` (octaves from A4). Frames
  that are silent or unvoiced take the clip's median voiced value, so the channel is a smooth
  pitch contour the learned prior can model like any other latent channel.
- :func:`harmonic_amplitudes` and :func:`harmonic_synth_frames` turn that channel and the
  decoder's per-frame controls into audio: phase is the running sum of the instantaneous
  frequency, harmonics at or above Nyquist are zeroed.

The estimator is the same algorithm as :func:`wavegen.eval.pitch.estimate_f0` (numpy, used by the
metrics), written again in JAX because the models layer must not import eval and the encoder
needs it under jit; ``tests/models/test_harmonic.py`` checks the two agree on tones.

Shapes: waveforms [B, T]; pitch channel [B, L] with ``L = T / hop``; amplitudes [B, F, K] at any
frame rate F dividing T.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

A4_HZ = 440.0
YIN_THRESHOLD = 0.15  # the YIN paper's 0.1-0.15; also wavegen.eval.pitch's default
# Subtracted from the amplitude logit: starts the harmonic branch ~20 dB down (softplus(-2.3)
# ≈ 0.1), so the first steps do not pay for a loud random timbre.
AMPLITUDE_OFFSET = 2.3
LOUD_DB = 35.0  # frames more than this below the clip's loudest are silent (as eval.pitch)


def yin_frame_length(sample_rate: int, fmin: float) -> int:
    """Smallest power of two that holds YIN's lag range ``sr / fmin`` twice (+2)."""
    tau_max = math.ceil(sample_rate / fmin)
    return 1 << (2 * tau_max + 2 - 1).bit_length()


def yin_f0(
    x: jax.Array,
    sample_rate: int,
    hop: int,
    num_frames: int,
    fmin: float,
    fmax: float,
    threshold: float = YIN_THRESHOLD,
) -> tuple[jax.Array, jax.Array]:
    """YIN f0 of ``num_frames`` frames centred on ``(l + 0.5) · hop``.

    Args:
      x: [B, T] float waveforms.
      sample_rate: Hz.
      hop: samples between frame centres (the VAE's compression).
      num_frames: L frames (``T / hop``).
      fmin, fmax: search range in Hz.
      threshold: CMND threshold; frames without a dip below it are unvoiced.

    Returns:
      ``(f0, voiced)``: [B, L] float32 Hz (meaningless where not voiced) and [B, L] bool
      (periodic and within :data:`LOUD_DB` of the clip's loudest frame).
    """
    x = jnp.asarray(x, jnp.float32)
    n = yin_frame_length(sample_rate, fmin)
    tau_min = max(1, int(math.floor(sample_rate / fmax)))
    tau_max = int(math.ceil(sample_rate / fmin))
    win = n - tau_max - 1
    # Frame l covers [centre - n/2, centre + n/2) with centre (l + 0.5)·hop; zero padding.
    starts = (np.arange(num_frames) + 0.5) * hop - n // 2
    pad = n
    xp = jnp.pad(x, ((0, 0), (pad, pad)))
    index = (starts.astype(np.int64) + pad)[:, None] + np.arange(n)[None, :]
    frames = xp[:, index]  # [B, L, n]
    nfft = 1 << (n + win - 1).bit_length()
    head = frames[..., :win]
    spec = jnp.fft.rfft(frames, nfft) * jnp.conj(jnp.fft.rfft(head, nfft))
    corr = jnp.fft.irfft(spec, nfft)[..., : tau_max + 1]  # sum_j x_j x_{j+tau}, j < win
    energy = jnp.cumsum(jnp.square(frames), axis=-1)
    energy = jnp.concatenate([jnp.zeros_like(energy[..., :1]), energy], axis=-1)
    taus = np.arange(tau_max + 1)
    e_tau = energy[..., taus + win] - energy[..., taus]  # sum_{j<win} x_{j+tau}^2
    diff = jnp.maximum(energy[..., win : win + 1] + e_tau - 2.0 * corr, 0.0)
    # Cumulative-mean-normalised difference d'(tau) = d(tau) · tau / sum_{1..tau} d.
    running = jnp.cumsum(diff[..., 1:], axis=-1)
    cmnd = diff[..., 1:] * taus[1:] / jnp.maximum(running, 1e-12)
    cmnd = jnp.concatenate([jnp.ones_like(cmnd[..., :1]), cmnd], axis=-1)  # index = tau
    lags = cmnd[..., tau_min : tau_max + 1]
    prev = jnp.concatenate([jnp.full_like(lags[..., :1], jnp.inf), lags[..., :-1]], axis=-1)
    nxt = jnp.concatenate([lags[..., 1:], jnp.full_like(lags[..., :1], jnp.inf)], axis=-1)
    # The first local minimum below the threshold: all values between the crossing and it are
    # below, so it is YIN's "first dip, then descend to its bottom".
    candidate = (lags < threshold) & (lags <= prev) & (lags <= nxt)
    found = jnp.any(candidate, axis=-1)
    i = jnp.argmax(candidate, axis=-1)
    # Parabolic interpolation of the dip (clamped at the ends of the range).
    c0 = jnp.take_along_axis(lags, i[..., None], -1)[..., 0]
    cm = jnp.take_along_axis(prev, i[..., None], -1)[..., 0]
    cp = jnp.take_along_axis(nxt, i[..., None], -1)[..., 0]
    ok = jnp.isfinite(cm) & jnp.isfinite(cp)
    denom = jnp.where(ok, cm - 2.0 * c0 + cp, 1.0)
    shift = jnp.where(ok & (jnp.abs(denom) > 1e-12), 0.5 * (cm - cp) / denom, 0.0)
    tau = (i + tau_min).astype(jnp.float32) + jnp.clip(shift, -1.0, 1.0)
    f0 = sample_rate / jnp.maximum(tau, 1.0)
    rms_db = 10.0 * jnp.log10(jnp.mean(jnp.square(frames), axis=-1) + 1e-12)
    loud = (rms_db > jnp.max(rms_db, axis=-1, keepdims=True) - LOUD_DB) & (rms_db > -100.0)
    return f0, found & loud


def pitch_channel(
    x: jax.Array, sample_rate: int, hop: int, num_frames: int, fmin: float, fmax: float
) -> jax.Array:
    """The latent pitch channel ``log2(f0 / 440)`` [B, L] of waveforms x [B, T] (no gradient).

    Unvoiced and silent frames take the clip's median voiced value; a clip without a voiced
    frame is 0 (A4) throughout.
    """
    f0, voiced = yin_f0(jax.lax.stop_gradient(x), sample_rate, hop, num_frames, fmin, fmax)
    octaves = jnp.log2(f0 / A4_HZ)
    median = jnp.nanmedian(jnp.where(voiced, octaves, jnp.nan), axis=-1, keepdims=True)
    median = jnp.where(jnp.isfinite(median), median, 0.0)
    return jax.lax.stop_gradient(jnp.where(voiced, octaves, median))


def channel_to_hz(channel: jax.Array, fmin: float, fmax: float) -> jax.Array:
    """Pitch channel (octaves from A4) → Hz, clipped to [fmin, fmax] (prior draws can stray)."""
    return jnp.clip(A4_HZ * jnp.exp2(channel), fmin, fmax)


def _interpolation(x: jax.Array, factor: int):
    """Pieces of linear interpolation between frame centres, shared by the two users below.

    Returns ``(prev, nxt, before, after)``: the previous / next frame of every frame of x
    [B, F, ...] (the end frames repeat themselves) and [r] numpy weights of the previous /
    next frame for the r = ``factor`` samples of a frame (its own weight is 1 - both).
    """
    pos = (np.arange(factor) + 0.5) / factor - 0.5  # [r] offset from the frame centre, in frames
    before = np.maximum(-pos, 0.0).astype(np.float32)
    after = np.maximum(pos, 0.0).astype(np.float32)
    prev = jnp.concatenate([x[:, :1], x[:, :-1]], axis=1)
    nxt = jnp.concatenate([x[:, 1:], x[:, -1:]], axis=1)
    return prev, nxt, before, after


def upsample_frames(x: jax.Array, factor: int) -> jax.Array:
    """Linear interpolation of frame values [B, F, ...] to [B, F · factor, ...].

    Frame f is the value at the centre of its span of ``factor`` samples; samples before the
    first / after the last centre hold the end value. Written with shifted copies and
    broadcasting, not a gather, so the backward pass needs no scatter-add.
    """
    prev, nxt, before, after = _interpolation(x, factor)
    shape = (1, 1, factor) + (1,) * (x.ndim - 2)
    before, after = before.reshape(shape), after.reshape(shape)
    y = x[:, :, None] * (1.0 - before - after) + prev[:, :, None] * before
    y = y + nxt[:, :, None] * after
    return y.reshape((x.shape[0], x.shape[1] * factor) + x.shape[2:])


def harmonic_amplitudes(raw: jax.Array, f0_hz: jax.Array, sample_rate: int) -> jax.Array:
    """Decoder outputs [B, F, K + 1] → harmonic amplitudes [B, F, K].

    Channel 0 is the overall amplitude ``softplus(raw - AMPLITUDE_OFFSET)``, channels 1..K the
    logits of the harmonic distribution, a softmax over the harmonics below Nyquist at each
    frame's f0 [B, F] (Hz) with a ``-log k`` prior (a 1/k spectrum, sawtooth-like, at zero
    logits). Both are exponential in the network output for quiet sounds, so a branch pushed
    quiet (silent tails) keeps a gradient proportional to its level: DDSP's exp-sigmoid
    saturates there, and in the measured ablation the harmonic branch died within 800 steps.
    """
    k = jnp.arange(1, raw.shape[-1], dtype=jnp.float32)
    audible = (f0_hz[..., None] * k) < (sample_rate / 2)
    logits = jnp.where(audible, raw[..., 1:] - jnp.log(k), -jnp.inf)
    # A frame whose f0 is above Nyquist has no audible harmonic: all-masked softmax → zeros.
    dist = jnp.where(audible, jax.nn.softmax(jnp.where(audible, logits, -1e9), axis=-1), 0.0)
    return jax.nn.softplus(raw[..., :1] - AMPLITUDE_OFFSET) * dist


def _phase(f0_hz: jax.Array, sample_rate: int) -> jax.Array:
    """Phase φ [B, T] in [0, 2π) of the fundamental, 0 at sample 0 (an exclusive cumsum)."""
    step = f0_hz / sample_rate
    cycles = jnp.cumsum(step, axis=-1) - step
    # Wrapped to [0, 1) before scaling: float32 keeps ~1e-7 of a cycle instead of losing
    # precision over thousands of cycles.
    return 2.0 * jnp.pi * (cycles - jnp.floor(cycles))


def harmonic_synth(f0_hz: jax.Array, amplitudes: jax.Array, sample_rate: int) -> jax.Array:
    """Sum of harmonics ``sum_k a_k(t) sin(k φ(t))``, ``φ = 2π cumsum(f0 / sr)``.

    Args:
      f0_hz: [B, T] instantaneous fundamental frequency.
      amplitudes: [B, T, K] amplitude of harmonic k + 1 (k = 0 .. K-1); harmonics whose
        frequency reaches Nyquist are silenced here.
      sample_rate: Hz.

    Returns:
      [B, T] float32 audio; the phase of every harmonic starts at 0 at sample 0 (a magnitude
      loss does not see the starting phase).
    """
    k = jnp.arange(1, amplitudes.shape[-1] + 1, dtype=jnp.float32)
    phase = _phase(f0_hz, sample_rate)
    audible = (f0_hz[..., None] * k) < (sample_rate / 2)
    return jnp.sum(jnp.where(audible, amplitudes, 0.0) * jnp.sin(phase[..., None] * k), axis=-1)


def harmonic_synth_frames(f0_hz: jax.Array, amplitudes: jax.Array, sample_rate: int) -> jax.Array:
    """:func:`harmonic_synth` with amplitudes given per frame, linearly interpolated.

    The same audio as ``harmonic_synth(f0_hz, upsample_frames(amplitudes, T // F), sr)``, but
    the interpolation is applied after the sum over harmonics: each frame's r samples are a
    matrix product of the frame's [r, K] sines with its own and its neighbours' [K]
    amplitudes, so the [B, T, K] upsampled amplitudes (and their gradient) never exist.

    Args:
      f0_hz: [B, T] instantaneous f0 (Hz).
      amplitudes: [B, F, K] per-frame harmonic amplitudes, F dividing T. Harmonics at or above
        Nyquist must already be zero (:func:`harmonic_amplitudes` does that per frame).
      sample_rate: Hz.

    Returns:
      [B, T] float32 audio.
    """
    b, t = f0_hz.shape
    frames, num = amplitudes.shape[1], amplitudes.shape[2]
    r = t // frames
    k = jnp.arange(1, num + 1, dtype=jnp.float32)
    phase = _phase(f0_hz, sample_rate)
    sines = jnp.sin(phase.reshape(b, frames, r)[..., None] * k)  # [B, F, r, K]
    prev, nxt, before, after = _interpolation(amplitudes, r)
    # [B, F, r] sums over harmonics with each neighbour's amplitudes, then the linear weights.
    here_s = jnp.einsum("bfrk,bfk->bfr", sines, amplitudes)
    prev_s = jnp.einsum("bfrk,bfk->bfr", sines, prev)
    next_s = jnp.einsum("bfrk,bfk->bfr", sines, nxt)
    y = here_s * (1.0 - before - after) + prev_s * before + next_s * after
    return y.reshape(b, t)
