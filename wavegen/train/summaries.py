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


def spectrogram_image(audio: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """A log-magnitude spectrogram picture of a clip, low frequencies at the bottom.

    Args:
      audio: [T] float.
    Returns:
      [n_fft // 2 + 1, frames, 3] uint8.
    """
    audio = np.nan_to_num(np.asarray(audio, np.float32))
    if audio.shape[0] < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.shape[0]))
    frames = 1 + (audio.shape[0] - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(audio[idx] * np.hanning(n_fft), axis=-1)).T  # [F, frames]
    db = 20 * np.log10(spec + 1e-5)
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
        """Audio summaries of clips [N, T] and one spectrogram image per clip."""
        self.audio(step, tag, clips, sample_rate)
        for i, clip in enumerate(np.asarray(clips)):
            self.image(step, f"{tag}_spectrogram/{i}", spectrogram_image(clip))

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
