"""Reading one audio file into a clean mono float32 signal, or a clear AudioDataError.

decode: soundfile read → float32 → checks (rate, length, truncation, NaN/Inf) → mono mix-down
(mean of channels) → resample with ``librosa.resample(res_type='soxr_hq')`` → optional
normalisation → clip to [-1, 1]. Every library failure is re-raised as AudioDataError naming
the file, so a bad file never surfaces as a bare libsndfile/librosa traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from wavegen.data.errors import AudioDataError

# Sample rates outside this range are header corruption, not audio (libsndfile accepts 1 Hz).
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
PEAK_TARGET = 0.99
RMS_TARGET = 0.1  # -20 dBFS: loud enough, leaves headroom before the final clip to [-1, 1]
NORMALIZE_MODES = ("none", "peak", "rms")
# Files are read in blocks of this many frames; more than MAX_FRAMES decoded frames (about 4.6 h
# at 16 kHz, 1 GiB of float32) is an error rather than an attempt to hold it all in memory.
BLOCK_FRAMES = 1 << 16
MAX_FRAMES = 1 << 28

# libsndfile logs "data : 16000 (should be 7978)" when a WAV's data chunk is cut short; it then
# silently returns the frames that are there, so this log line is the only sign of truncation.
_SHORT_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def audio_extensions() -> frozenset[str]:
    """Lower-case file extensions (no dot) of the formats this soundfile build can read."""
    # RAW needs its layout given out of band, so it is never picked up by a folder scan.
    exts = {f.lower() for f in sf.available_formats() if f != "RAW"}
    return frozenset(exts | {"aif", "aiff", "aifc", "oga", "opus", "wave"})


def check_info(path: str | Path, info: Any) -> None:
    """Raises AudioDataError for a header that cannot be audio: bad rate, no frames, truncation.

    Args:
      path: the file (for the message).
      info: what ``soundfile.info(path)`` returned.
    """
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        raise AudioDataError(
            f"{path}: sample rate {info.samplerate} Hz is outside the plausible range "
            f"{MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz (corrupt header?)"
        )
    if info.frames <= 0:
        raise AudioDataError(f"{path}: zero-length audio (0 frames)")
    if info.channels < 1:
        raise AudioDataError(f"{path}: {info.channels} channels")
    m = _SHORT_CHUNK.search(info.extra_info or "")
    if m and int(m.group(1)) > int(m.group(2)):
        raise AudioDataError(
            f"{path}: truncated file: the header declares {m.group(1)} bytes of audio data but "
            f"only {m.group(2)} are present"
        )


def read_info(path: str | Path) -> Any:
    """``soundfile.info`` with header checks; AudioDataError for unreadable or implausible files."""
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        raise AudioDataError(f"{path}: not a readable audio file ({_reason(e)})") from e
    check_info(path, info)
    return info


def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """The whole file as mono float32, read in blocks so memory follows the decoded audio.

    A header may declare any length (a FLAC STREAMINFO allows 2^36 frames); the file is read
    block by block, each block mixed down at once, so memory is bounded by what actually
    decodes, and decoding stops with an error past :data:`MAX_FRAMES`.

    Returns:
      (x [T] float32, the file's sample rate).
    """
    info = read_info(path)
    blocks, n = [], 0
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                if not np.isfinite(block).all():
                    bad = int(np.size(block) - np.isfinite(block).sum())
                    raise AudioDataError(
                        f"{path}: NaN/Inf samples ({bad} in frames {n}..{n + block.shape[0]}; "
                        "expected finite audio)"
                    )
                n += block.shape[0]
                if n > MAX_FRAMES:
                    raise AudioDataError(
                        f"{path}: longer than {MAX_FRAMES} frames "
                        f"({MAX_FRAMES / info.samplerate:.0f} s); split it into shorter files"
                    )
                mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
                blocks.append(np.array(mono, dtype=np.float32))
                if block.shape[0] < BLOCK_FRAMES:
                    break
    except (sf.SoundFileError, RuntimeError, OSError, MemoryError) as e:
        raise AudioDataError(f"{path}: corrupt or truncated audio ({_reason(e)})") from e
    if n == 0:
        raise AudioDataError(f"{path}: zero-length audio (0 frames decoded)")
    if n < info.frames:
        raise AudioDataError(
            f"{path}: truncated file: header says {info.frames} frames, decoded {n}"
        )
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0], int(info.samplerate)


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """x [T] float32 at ``orig_sr`` → [ceil(T·target/orig)] float32 at ``target_sr`` (soxr_hq)."""
    if orig_sr == target_sr:
        return x
    import librosa  # lazy: importing librosa costs seconds (numba), most callers never resample

    return librosa.resample(x, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq").astype(
        np.float32, copy=False
    )


def normalize_batch(x: np.ndarray, mode: str) -> np.ndarray:
    """Per-row loudness normalisation of x [N, T] float32 (in place when possible).

    'peak': scale to max |x| = 0.99; 'rms': scale to RMS 0.1 (the caller clips to [-1, 1]);
    'none': unchanged. All-zero rows (silence) stay silence.
    """
    if mode not in NORMALIZE_MODES:
        raise AudioDataError(f"data.normalize must be one of {NORMALIZE_MODES}, got {mode!r}")
    if mode == "none":
        return x
    if mode == "peak":
        level, target = np.abs(x).max(axis=-1, keepdims=True), PEAK_TARGET
    else:
        level, target = np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True)), RMS_TARGET
    gain = np.where(level > 0, target / np.where(level > 0, level, 1.0), 1.0).astype(np.float32)
    x *= gain
    return x


def decode(path: str | Path, sample_rate: int, normalize: str = "none") -> np.ndarray:
    """A file as a clean signal: mono, at ``sample_rate``, normalised, clipped.

    Returns:
      x [T'] float32 in [-1, 1] (T' = the file's duration at ``sample_rate``).

    Raises:
      AudioDataError: unreadable/corrupt/truncated/zero-length file, implausible sample rate,
        NaN/Inf samples. The message starts with the file's path.
    """
    x, sr = read_mono(path)
    if x.shape[0] * sample_rate > MAX_FRAMES * sr:
        raise AudioDataError(
            f"{path}: {x.shape[0]} frames at {sr} Hz would be more than {MAX_FRAMES} frames at "
            f"{sample_rate} Hz; split it into shorter files"
        )
    try:
        x = resample(x, sr, sample_rate)
    except Exception as e:  # soxr/librosa failure on odd input: still name the file
        raise AudioDataError(f"{path}: resampling {sr} → {sample_rate} Hz failed ({e})") from e
    x = normalize_batch(x[None, :].copy(), normalize)[0]
    return np.clip(x, -1.0, 1.0, out=x)


def _reason(e: BaseException) -> str:
    # libsndfile messages repeat the path ("Error opening 'x.wav': Format not recognised.").
    return str(e).split(": ", 1)[-1] if "Error opening" in str(e) else str(e)
