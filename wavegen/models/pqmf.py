"""Pseudo-QMF (PQMF) filter bank: a waveform ↔ M critically sampled sub-bands, as in RAVE.

Design (numpy, once per configuration; cached). A linear-phase low-pass prototype ``h`` of N taps
is a Kaiser-window FIR (``scipy.signal.firwin``) whose attenuation sets the Kaiser beta and
length (``scipy.signal.kaiserord``, as RAVE's ``kaiser_filter``). Its cutoff is tuned so that
``p = h * reverse(h)`` is close to a 2M-th band (Nyquist) filter: the taps ``p[c + 2M·n]``,
``n != 0``, around its centre ``c`` are minimised (Lin & Vaidyanathan 1998; RAVE's ``loss_wc``),
which is what makes the bank nearly perfectly reconstructing. ``h`` is then scaled so that
``p[c] = 1 / (2M)`` exactly. Band k uses the cosine-modulated filters (Nguyen 1994)

    h_k[n] = 2 h[n] cos(π/M (k + 1/2)(n - (N-1)/2) + (-1)^k π/4)   (analysis)
    g_k[n] = 2 h[n] cos(π/M (k + 1/2)(n - (N-1)/2) - (-1)^k π/4)   (synthesis, = h_k reversed)

The plain (causal) system — filter with h_k, keep every M-th sample, zero-stuff, filter with
g_k, sum and scale by M — returns the input delayed by N - 1 samples. Here that delay is removed:
the analysis reads ``a = (N-1) // (2M)`` frames ahead (a whole number of frames, so it commutes
with decimation) and the synthesis output is advanced by the remaining ``N - 1 - a·M`` samples.
A clip of T samples (T divisible by M) gives exactly T / M frames and back; signals are
zero-extended outside the clip, so reconstruction is near-perfect except within ~N/2 samples of
the ends, where the sub-band frames that would lie outside the clip are missing.

Both directions are polyphase: the analysis is one matmul ``[B·T/M, J·M] @ [J·M, M]`` over J
shifted blocks of M samples, the synthesis one matmul ``[B·T/M, J'·M] @ [J'·M, M]`` over J'
shifted frames, so neither costs more than ~N multiply-adds per sample and both differentiate
into matmuls.

Layout is channels-last like the conv layers: sub-bands are ``[B, T/M, M]``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from wavegen.errors import ConfigError


class PQMFConfigError(ConfigError):
    """A PQMF setting (band count, attenuation, taps) or input length is invalid."""


@functools.lru_cache(maxsize=16)
def prototype_filter(num_bands: int, attenuation_db: float = 100.0) -> np.ndarray:
    """The low-pass prototype h of an M-band PQMF bank (see the module docstring).

    Args:
      num_bands: M >= 2.
      attenuation_db: stop-band attenuation; sets the Kaiser beta and the length N.

    Returns:
      [N] float64, N odd, scaled so that ``sum(h * h) = 1 / (2M)``.
    """
    from scipy.optimize import minimize_scalar
    from scipy.signal import firwin, kaiserord

    if num_bands < 2:
        raise PQMFConfigError(f"pqmf: num_bands must be >= 2, got {num_bands}")
    if attenuation_db <= 21:
        raise PQMFConfigError(f"pqmf: attenuation_db must be > 21 dB, got {attenuation_db}")
    m = num_bands
    nominal = np.pi / (2 * m)  # the ideal prototype's cutoff (half a band width)
    # Length from the Kaiser formula with a transition width of one nominal cutoff (as RAVE),
    # made odd so the filter has an integer centre.
    num_taps, beta = kaiserord(attenuation_db, nominal / np.pi)
    num_taps = 2 * (num_taps // 2) + 1

    def design(cutoff: float) -> np.ndarray:
        return firwin(num_taps, cutoff, window=("kaiser", beta), scale=False, fs=2 * np.pi)

    def nyquist_error(cutoff: float) -> float:
        h = design(cutoff)
        p = np.convolve(h, h[::-1])
        # Taps 2M apart from the centre, excluding it: zero for an exact 2M-th band filter.
        return float(np.max(np.abs(p[num_taps - 1 :: 2 * m][1:])) / p[num_taps - 1])

    best = minimize_scalar(
        nyquist_error,
        bounds=(0.5 * nominal, 1.5 * nominal),
        method="bounded",
        options={"xatol": 1e-10},
    )
    h = design(best.x)
    return h / np.sqrt(2 * m * np.sum(h * h))


def filter_bank(num_bands: int, attenuation_db: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """Cosine-modulated analysis and synthesis filters.

    Returns:
      ``(h_k [M, N], g_k [M, N])`` float64, with ``g_k[n] = h_k[N-1-n]``.
    """
    h = prototype_filter(num_bands, attenuation_db)
    m, n_taps = num_bands, h.shape[0]
    k = np.arange(m)[:, None]
    n = np.arange(n_taps)[None, :]
    phase = np.pi / m * (k + 0.5) * (n - (n_taps - 1) / 2)
    sign = np.where(k % 2 == 0, 1.0, -1.0) * np.pi / 4
    return 2 * h * np.cos(phase + sign), 2 * h * np.cos(phase - sign)


@dataclass(frozen=True)
class PQMF:
    """An M-band PQMF bank with delay-compensated polyphase analysis and synthesis.

    Build with :meth:`create`; the filters are trace-time constants under ``jit``.

    Attributes:
      num_bands: M.
      analysis_kernel: [J·M, M] float32: frame m of band k is ``Σ_j xpad[m·M + j] W[j, k]``.
      synthesis_kernel: [J'·M, M] float32: block q of the output is ``cols(q) @ W'`` over J'
        shifted frames.
      analysis_pad: (left, right) zero padding of the waveform before the analysis.
      synthesis_shifts: (lowest, highest) frame shift l of the synthesis (frame q - l feeds q).
    """

    num_bands: int
    num_taps: int
    analysis_kernel: np.ndarray
    synthesis_kernel: np.ndarray
    analysis_pad: tuple[int, int]
    synthesis_shifts: tuple[int, int]

    @classmethod
    def create(cls, num_bands: int, attenuation_db: float = 100.0) -> PQMF:
        """Designs the bank (cached) and lays its filters out for the polyphase matmuls."""
        h_k, g_k = filter_bank(num_bands, attenuation_db)
        m, n_taps = h_k.shape
        ahead = (n_taps - 1) // (2 * m)  # a: analysis lead in frames
        rest = n_taps - 1 - ahead * m  # b: synthesis lead in samples

        # Analysis: v[k, m] = Σ_{j=0}^{N-1} xpad[m·M + j] h_k[N-1-j] with N-1-a·M zeros on the left.
        n_blocks = -(-n_taps // m)
        w = np.zeros((n_blocks * m, m))
        w[:n_taps] = h_k[:, ::-1].T
        left = n_taps - 1 - ahead * m
        # The last frame (T/M - 1) reads up to padded index T - M + J·M - 1.
        right_extra = n_blocks * m - m - left  # = right pad beyond T

        # Synthesis: y[q·M + p] = Σ_l Σ_k v[k, q - l] · M g_k[l·M + p + b], over the l where
        # some tap index l·M + p + b falls in [0, N).
        l_lo = -((rest + m - 1) // m)
        l_hi = (n_taps - 1 - rest) // m
        shifts = np.arange(l_lo, l_hi + 1)
        idx = shifts[:, None] * m + np.arange(m)[None, :] + rest  # [J', M] tap per (l, p)
        valid = (idx >= 0) & (idx < n_taps)
        taps = np.where(valid[None], g_k[:, np.clip(idx, 0, n_taps - 1)], 0.0)  # [M(k), J', M(p)]
        # Rows ordered as the im2col columns: slice i holds frame q - l_hi + i, i.e. l = l_hi - i.
        ws = m * taps[:, ::-1].transpose(1, 0, 2).reshape(len(shifts) * m, m)
        return cls(
            num_bands=m,
            num_taps=n_taps,
            analysis_kernel=w.astype(np.float32),
            synthesis_kernel=ws.astype(np.float32),
            analysis_pad=(left, right_extra),
            synthesis_shifts=(int(l_lo), int(l_hi)),
        )

    def _check_length(self, length: int) -> None:
        if length % self.num_bands:
            raise PQMFConfigError(
                f"pqmf: the waveform length {length} must be divisible by num_bands="
                f"{self.num_bands}"
            )

    def analysis(self, x: jax.Array) -> jax.Array:
        """Waveform → sub-bands.

        Args:
          x: [B, T] float, T divisible by M.

        Returns:
          [B, T/M, M] sub-band frames (channels-last).
        """
        b, t = x.shape
        self._check_length(t)
        m = self.num_bands
        n_blocks = self.analysis_kernel.shape[0] // m
        frames = t // m
        left, right = self.analysis_pad
        xp = jnp.pad(x, ((0, 0), (left, max(right, 0))))[:, : (frames + n_blocks - 1) * m]
        blocks = xp.reshape(b, frames + n_blocks - 1, m)  # space-to-depth
        cols = jnp.concatenate([blocks[:, j : j + frames] for j in range(n_blocks)], axis=-1)
        return cols @ jnp.asarray(self.analysis_kernel, x.dtype)

    def synthesis(self, bands: jax.Array) -> jax.Array:
        """Sub-bands → waveform (the inverse of :meth:`analysis` up to the bank's error).

        Args:
          bands: [B, F, M] sub-band frames.

        Returns:
          [B, F·M] waveform.
        """
        b, frames, m = bands.shape
        if m != self.num_bands:
            raise PQMFConfigError(
                f"pqmf: expected sub-bands [B, F, {self.num_bands}], got {bands.shape}"
            )
        l_lo, l_hi = self.synthesis_shifts
        # Output block q needs frames q - l for l in [l_lo, l_hi]: pad l_hi before, -l_lo after.
        vp = jnp.pad(bands, ((0, 0), (l_hi, max(-l_lo, 0)), (0, 0)))
        n_shifts = l_hi - l_lo + 1
        cols = jnp.concatenate([vp[:, i : i + frames] for i in range(n_shifts)], axis=-1)
        y = cols @ jnp.asarray(self.synthesis_kernel, bands.dtype)  # [B, F, M] phases
        return y.reshape(b, frames * m)
