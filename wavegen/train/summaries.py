"""TensorBoard event files written with the tensorboard package's own writer and protos (no TF).

Scalars, audio (16-bit PCM WAV clips, listenable in TensorBoard's audio dashboard) and images
(spectrograms as PNGs, encoded here with zlib so no imaging library is needed). In a multi-host run
only process 0 writes; the other processes get a writer whose methods do nothing.
"""

from __future__ import annotations

import io
import struct
import time
import wave
import zlib
from pathlib import Path

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """Encodes mono float audio as a 16-bit PCM WAV file.

    Args:
      audio: [T] float, nominally in [-1, 1]; clipped there (NaN → 0).
      sample_rate: Hz.
    """
    pcm = np.clip(np.nan_to_num(np.asarray(audio, np.float32)), -1.0, 1.0)
    pcm = np.round(pcm * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    """Encodes an image as PNG.

    Args:
      image: [H, W] (grey) or [H, W, 3] (RGB) uint8.
    """
    image = np.asarray(image, np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    h, w, c = image.shape
    color_type = {1: 0, 3: 2}[c]
    # Each row is prefixed by filter type 0 (none).
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return (
            struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _colormap(x: np.ndarray) -> np.ndarray:
    """Maps [H, W] values in [0, 1] to a perceptually ordered RGB ramp (dark→purple→yellow)."""
    stops = np.array(
        [[0, 0, 4], [80, 18, 123], [182, 54, 121], [251, 136, 97], [252, 253, 191]], np.float32
    )
    pos = np.clip(x, 0.0, 1.0) * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = (pos - lo)[..., None]
    return (stops[lo] * (1 - frac) + stops[lo + 1] * frac).astype(np.uint8)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_centres(sample_rate: int, n_mels: int) -> np.ndarray:
    """[n_mels] centre frequencies (Hz) of the image rows, bottom row first: equally spaced in
    mel over 0 .. sample_rate / 2 (the two ends are the outer triangles' feet)."""
    return mel_to_hz(np.linspace(0.0, hz_to_mel(sample_rate / 2.0), n_mels + 2)[1:-1])


def _mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangles in Hz between neighbouring mel centres, each widened to
    at least one FFT bin either side (so the narrow low bands never fall between bins and come
    out empty) and normalised to unit sum: a row is a weighted mean of its band's power."""
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    points = mel_to_hz(np.linspace(0.0, hz_to_mel(sample_rate / 2.0), n_mels + 2))
    centre = points[1:-1, None]
    bin_hz = sample_rate / n_fft
    below = np.maximum(centre - points[:-2, None], bin_hz)
    above = np.maximum(points[2:, None] - centre, bin_hz)
    weights = np.maximum(
        0.0, np.minimum(1 - (centre - freqs) / below, 1 - (freqs - centre) / above)
    )
    return weights / weights.sum(axis=1, keepdims=True)


def spectrogram_image(
    audio: np.ndarray,
    sample_rate: int = 16000,
    *,
    n_fft: int = 512,
    hop: int = 128,
    n_mels: int = 128,
) -> np.ndarray:
    """A mel-spectrogram picture of a clip, low frequencies at the bottom.

    The frequency axis is mel (HTK), equally spaced from 0 Hz to Nyquist, so harmonics and
    formants are spread out as the ear hears them instead of squeezed into the bottom rows of a
    linear axis. Each image is scaled to its own loudest point with an 80 dB range, and real and
    generated clips go through this same function.

    Args:
      audio: [T] float.
      sample_rate: Hz (places the mel axis).
      n_fft, hop: STFT size and hop (periodic Hann window, frames from sample 0).
      n_mels: image rows.

    Returns:
      [n_mels, frames, 3] uint8; row 0 is the top (Nyquist), row n_mels - 1 - j is the band
      centred at ``mel_centres(sample_rate, n_mels)[j]``.
    """
    audio = np.nan_to_num(np.asarray(audio, np.float32))
    if audio.shape[0] < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.shape[0]))
    frames = 1 + (audio.shape[0] - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic, as elsewhere
    power = np.abs(np.fft.rfft(audio[idx] * window, axis=-1)) ** 2  # [frames, F]
    mel = _mel_filters(sample_rate, n_fft, n_mels) @ power.T  # [n_mels, frames]
    db = 10 * np.log10(mel + 1e-10)
    db = (db - (db.max() - 80.0)) / 80.0  # 80 dB dynamic range
    return _colormap(db[::-1])


class SummaryWriter:
    """Writes scalars, audio and images to ``logdir`` as TensorBoard event files.

    Args:
      logdir: directory for the event files (created).
      enabled: False makes every method a no-op (non-zero processes of a multi-host run).
    """

    def __init__(self, logdir: str | Path, *, enabled: bool = True):
        self.enabled = enabled
        self.logdir = Path(logdir)
        self._writer = None
        if enabled:
            self.logdir.mkdir(parents=True, exist_ok=True)
            self._writer = EventFileWriter(str(self.logdir))

    def _write(self, step: int, values: list[Summary.Value]) -> None:
        if self._writer is None:
            return
        event = Event(wall_time=time.time(), step=int(step), summary=Summary(value=values))
        self._writer.add_event(event)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Writes ``{tag: value}`` scalars at ``step``."""
        self._write(
            step, [Summary.Value(tag=k, simple_value=float(v)) for k, v in sorted(values.items())]
        )

    def audio(self, step: int, tag: str, clips: np.ndarray, sample_rate: int) -> None:
        """Writes clips [N, T] as ``tag/0`` … ``tag/N-1`` audio summaries (16-bit WAV)."""
        values = []
        for i, clip in enumerate(np.asarray(clips)):
            audio = Summary.Audio(
                sample_rate=float(sample_rate),
                num_channels=1,
                length_frames=int(clip.shape[-1]),
                encoded_audio_string=encode_wav(clip, sample_rate),
                content_type="audio/wav",
            )
            values.append(Summary.Value(tag=f"{tag}/{i}", audio=audio))
        self._write(step, values)

    def image(self, step: int, tag: str, image: np.ndarray) -> None:
        """Writes an [H, W] or [H, W, 3] uint8 image."""
        image = np.asarray(image, np.uint8)
        h, w = image.shape[:2]
        channels = 1 if image.ndim == 2 else image.shape[2]
        img = Summary.Image(
            height=h, width=w, colorspace=channels, encoded_image_string=encode_png(image)
        )
        self._write(step, [Summary.Value(tag=tag, image=img)])

    def audio_with_spectrograms(
        self, step: int, tag: str, clips: np.ndarray, sample_rate: int
    ) -> None:
        """Audio summaries of clips [N, T] and one mel-spectrogram image per clip."""
        self.audio(step, tag, clips, sample_rate)
        for i, clip in enumerate(np.asarray(clips)):
            self.image(step, f"{tag}_spectrogram/{i}", spectrogram_image(clip, sample_rate))

    def samples_by_label(
        self,
        step: int,
        clips: np.ndarray,
        labels: np.ndarray | None,
        num_classes: int,
        label_names: list[str],
        sample_rate: int,
    ) -> None:
        """Generated clips [N, T] as ``samples`` (labels None) or, for a conditional model,
        ``samples/<label name>`` per class present in ``labels`` [N]."""
        if labels is None:
            self.audio_with_spectrograms(step, "samples", clips, sample_rate)
            return
        labels = np.asarray(labels)
        for c in range(num_classes):
            idx = np.flatnonzero(labels == c)
            if len(idx):
                name = label_names[c] if c < len(label_names) else str(c)
                self.audio_with_spectrograms(step, f"samples/{name}", clips[idx], sample_rate)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
