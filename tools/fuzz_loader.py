#!/usr/bin/env python3
"""Fuzz the audio loader with adversarial files: every one decodes or raises a clear error.

Hypothesis generates files of these kinds and feeds each to ``wavegen.data.audio_io.decode``
(the function the folder dataset calls per file), in this process, one after another:

- ``valid``: a real file written by soundfile: WAV (8/16/24/32-bit PCM, float, double) or FLAC
  (8/16/24-bit), 1-8 channels, 0-2000 frames, sample rates from 1 Hz to 2 GHz, samples that may
  be NaN/Inf (float formats); then optionally *mutated*: truncated anywhere, bytes flipped,
  header fields (rate, channels, bits, block align, RIFF/data sizes, FLAC STREAMINFO rate,
  channels, bits and total samples) overwritten with absurd values, junk appended;
- ``forged``: a hand-built RIFF/WAVE or fLaC header with arbitrary fields followed by random
  bytes (huge declared lengths, 0 or 65535 channels, 0 Hz, ...);
- ``random``: random bytes (including 0 bytes) under an audio extension.

Each outcome must be either a decoded signal (1-D float32, finite, in [-1, 1]) or an
``AudioDataError`` whose message contains the file's path. Anything else fails the run: another
exception type, a file that takes longer than ``--time-limit`` seconds (a watchdog thread ends
the process), or peak RSS growing more than ``--max-rss-mb`` over the baseline. Every
``--folder-every``-th file is also copied into a folder; each full folder is built with the real
folder dataset (``build_dataset`` with ``skip_bad=True``), whose skip list must equal the files
that decode rejected individually (a *counted skip*).

    .venv/bin/python tools/fuzz_loader.py --examples 10000 --json docs/fuzz_loader.json

Prints the counts (and writes them with ``--json``); exits 1 on the first failure, keeping the
offending file under ``--keep`` (default /tmp/wavegen-fuzz-failures).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from wavegen.data import AudioDataError, audio_io  # noqa: E402

TARGET_SR = 8000
WAV_SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]
FLAC_SUBTYPES = ["PCM_S8", "PCM_16", "PCM_24"]
EXTENSIONS = ["wav", "flac", "aiff", "ogg", "mp3", "au"]
ABSURD_U32 = [0, 1, 2, 7, 999, 1000, 8000, 768_000, 768_001, 2**16 - 1, 2**31 - 1, 2**32 - 1]
ABSURD_U16 = [0, 1, 2, 3, 7, 8, 9, 24, 31, 33, 64, 255, 1024, 1025, 2**15, 2**16 - 1]


# ---------------------------------------------------------------------------------------------
# File builders.


def _samples(draw, frames: int, channels: int, float_format: bool) -> np.ndarray:
    specials = [0.0, 1.0, -1.0, 1e30, -1e30, 1e-40]
    if float_format:
        specials += [float("nan"), float("inf"), float("-inf")]
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).uniform(
        -1.2, 1.2, (frames, channels)
    )
    for _ in range(draw(st.integers(0, 3)) if frames else 0):
        x[draw(st.integers(0, frames - 1)), draw(st.integers(0, channels - 1))] = draw(
            st.sampled_from(specials)
        )
    return x.astype(np.float64)


def _write_valid(draw) -> tuple[bytes, str, str]:
    fmt = draw(st.sampled_from(["WAV", "FLAC"]))
    subtype = draw(st.sampled_from(WAV_SUBTYPES if fmt == "WAV" else FLAC_SUBTYPES))
    channels = draw(st.integers(1, 8))
    frames = draw(st.one_of(st.just(0), st.integers(1, 64), st.integers(65, 2000)))
    rate = draw(
        st.one_of(
            st.sampled_from([8000, 16000, 22050, 44100, 48000]),
            st.integers(1, 999),
            st.integers(768_001, 2**31 - 1),
            st.integers(1000, 768_000),
        )
    )
    if fmt == "FLAC":
        rate = min(rate, 655_350)  # libsndfile refuses to write FLAC above this
    x = _samples(draw, frames, channels, subtype in ("FLOAT", "DOUBLE"))
    buf = io.BytesIO()
    try:
        sf.write(buf, x, rate, format=fmt, subtype=subtype)
    except (sf.LibsndfileError, RuntimeError, ValueError):
        # A combination libsndfile will not write (e.g. FLAC at 1 Hz): fall back to plain 16-bit.
        buf = io.BytesIO()
        sf.write(buf, x, 16000, format="WAV", subtype="PCM_16")
        fmt, subtype = "WAV", "PCM_16"
    return buf.getvalue(), fmt.lower(), f"valid/{fmt}/{subtype}"


def _flac_streaminfo(rate: int, channels: int, bits: int, total: int) -> bytes:
    """The 8 bytes at STREAMINFO offset 10: 20-bit rate, 3-bit channels-1, 5-bit bps-1, 36-bit N."""
    v = (rate & 0xFFFFF) << 44 | ((channels - 1) & 7) << 41 | ((bits - 1) & 31) << 36
    return struct.pack(">Q", v | (total & (2**36 - 1)))


def _mutate(draw, data: bytes, fmt: str) -> tuple[bytes, str]:
    data = bytearray(data)
    kind = draw(
        st.sampled_from(["none", "truncate", "flip", "header", "append", "header+truncate"])
    )
    if "header" in kind and len(data) >= 44:
        if fmt == "wav":
            field = draw(st.sampled_from(["riff_size", "channels", "rate", "byterate", "align",
                                          "bits", "format", "data_size"]))  # fmt: skip
            u32 = st.one_of(st.sampled_from(ABSURD_U32), st.integers(0, 2**32 - 1))
            u16 = st.one_of(st.sampled_from(ABSURD_U16), st.integers(0, 2**16 - 1))
            at = {"riff_size": (4, "<I", u32), "format": (20, "<H", u16),
                  "channels": (22, "<H", u16), "rate": (24, "<I", u32),
                  "byterate": (28, "<I", u32), "align": (32, "<H", u16),
                  "bits": (34, "<H", u16)}  # fmt: skip
            if field == "data_size":
                pos = data.find(b"data")
                if pos >= 0 and pos + 8 <= len(data):
                    struct.pack_into("<I", data, pos + 4, draw(u32))
            else:
                off, code, strat = at[field]
                struct.pack_into(code, data, off, draw(strat))
            kind = f"{kind}:{field}"
        elif fmt == "flac" and data[:4] == b"fLaC":
            rate = draw(st.one_of(st.sampled_from([0, 1, 999, 655_350, 2**20 - 1]),
                                  st.integers(0, 2**20 - 1)))  # fmt: skip
            total = draw(st.one_of(st.sampled_from([0, 1, 2**32, 2**36 - 1]),
                                   st.integers(0, 2**36 - 1)))  # fmt: skip
            data[18:26] = _flac_streaminfo(rate, draw(st.integers(1, 8)), draw(st.integers(1, 32)),
                                           total)  # fmt: skip
            kind = f"{kind}:streaminfo"
    if "truncate" in kind and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    if kind == "flip" and data:
        for _ in range(draw(st.integers(1, 16))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    if kind == "append":
        data += draw(st.binary(min_size=1, max_size=512))
    return bytes(data), kind


@st.composite
def adversarial_file(draw) -> tuple[bytes, str, str]:
    """(file bytes, extension, category label)."""
    family = draw(st.sampled_from(["valid", "valid", "forged_wav", "forged_flac", "random"]))
    if family == "valid":
        data, ext, label = _write_valid(draw)
        data, how = _mutate(draw, data, ext)
        return data, ext, f"{label}/{how.split(':')[0]}"
    if family == "forged_wav":
        u32 = st.one_of(st.sampled_from(ABSURD_U32), st.integers(0, 2**32 - 1))
        u16 = st.one_of(st.sampled_from(ABSURD_U16), st.integers(0, 2**16 - 1))
        fmt_tag = draw(st.sampled_from([1, 3, 0xFFFE, 2, 0]))  # PCM, float, extensible, ADPCM, 0
        fmt = struct.pack("<HHIIHH", fmt_tag, draw(u16), draw(u32), draw(u32), draw(u16), draw(u16))
        body = draw(st.binary(max_size=2048))
        head = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", draw(u32))
        riff = b"RIFF" + struct.pack("<I", draw(u32)) + b"WAVE"
        return riff + head + body, "wav", "forged/RIFF"
    if family == "forged_flac":
        info = struct.pack(">HH", draw(st.integers(0, 65535)), draw(st.integers(0, 65535)))
        info += draw(st.binary(min_size=6, max_size=6))  # min/max frame sizes
        info += _flac_streaminfo(
            draw(st.integers(0, 2**20 - 1)),
            draw(st.integers(1, 8)),
            draw(st.integers(1, 32)),
            draw(st.one_of(st.sampled_from([0, 2**36 - 1]), st.integers(0, 2**36 - 1))),
        )
        info += bytes(16)  # MD5
        head = b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info
        return head + draw(st.binary(max_size=2048)), "flac", "forged/fLaC"
    data = draw(st.one_of(st.just(b""), st.binary(max_size=4096)))
    return data, draw(st.sampled_from(EXTENSIONS)), "random" if data else "random/empty"


# ---------------------------------------------------------------------------------------------
# The checker.


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Watchdog:
    """Ends the process (exit 3) if one file takes longer than ``limit`` seconds to decode."""

    def __init__(self, limit: float):
        self.limit, self.started, self.path = limit, None, None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(0.1)
            started, path = self.started, self.path
            if started is not None and time.monotonic() - started > self.limit:
                print(f"FAIL: decoding {path} took longer than {self.limit}s (hang)", flush=True)
                os._exit(3)


class FuzzFailure(AssertionError):
    pass


class Fuzzer:
    """Decodes each generated file and counts the outcome; raises FuzzFailure on a bad one."""

    def __init__(self, work: Path, keep: Path, time_limit: float, max_rss_mb: float,
                 folder_every: int, folder_size: int):  # fmt: skip
        self.work, self.keep = work, keep
        self.watchdog = Watchdog(time_limit)
        self.max_rss_mb, self.folder_every, self.folder_size = max_rss_mb, folder_every, folder_size
        self.counts: Counter = Counter()
        self.categories: Counter = Counter()
        self.folder: list[tuple[Path, bool]] = []  # (copied file, decoded ok)
        self.folder_stats: Counter = Counter()
        self.rss_base = None
        self.max_decode_s = 0.0

    def check(self, data: bytes, ext: str, label: str) -> str:
        i = self.counts["tried"]
        path = self.work / f"f{i:06d}.{ext}"
        path.write_bytes(data)
        if self.rss_base is None:
            audio_io.decode(_reference_file(self.work), TARGET_SR)  # warm up librosa/soxr first
            self.rss_base = peak_rss_mb()
        self.counts["tried"] += 1
        self.categories[label] += 1
        self.watchdog.path, self.watchdog.started = path, time.monotonic()
        try:
            x = audio_io.decode(path, TARGET_SR, "peak" if i % 3 == 0 else "none")
        except AudioDataError as e:
            outcome = "clear_error"
            if str(path) not in str(e):
                self._fail(path, f"AudioDataError does not name the file: {e}")
        except Exception as e:  # noqa: BLE001 - the point: anything else is a failure
            self._fail(path, f"{type(e).__name__} instead of AudioDataError: {e}")
        else:
            outcome = "decoded"
            if not (
                isinstance(x, np.ndarray)
                and x.ndim == 1
                and x.dtype == np.float32
                and x.size > 0
                and np.isfinite(x).all()
                and np.abs(x).max() <= 1.0
            ):
                self._fail(path, f"decoded but not a clean signal: {getattr(x, 'shape', x)}")
        finally:
            self.max_decode_s = max(self.max_decode_s, time.monotonic() - self.watchdog.started)
            self.watchdog.started = None
        grown = peak_rss_mb() - self.rss_base
        if grown > self.max_rss_mb:
            self._fail(path, f"peak RSS grew by {grown:.0f} MB (limit {self.max_rss_mb})")
        self.counts[outcome] += 1
        if i % self.folder_every == 0:
            self._add_to_folder(path, outcome == "decoded")
        path.unlink()
        return outcome

    def _add_to_folder(self, path: Path, ok: bool) -> None:
        folder = self.work / "folder"
        folder.mkdir(exist_ok=True)
        copy = folder / f"{len(self.folder):03d}_{path.name}"
        shutil.copyfile(path, copy)
        self.folder.append((copy, ok))
        if len(self.folder) >= self.folder_size:
            self.build_folder()

    def build_folder(self) -> None:
        """Builds the folder dataset with skip_bad=True; its skips must be the rejected files."""
        from wavegen.data import build_dataset
        from wavegen.defaults import data_config

        if not self.folder:
            return
        folder = self.work / "folder"
        cfg = data_config()
        cfg.update(source="folder", path=str(folder), cache_dir=str(self.work / "cache"),
                   length=1024, sample_rate=TARGET_SR, split="all", skip_bad=True)  # fmt: skip
        bad = sorted(str(p) for p, ok in self.folder if not ok)
        # Extensions soundfile cannot read (mp3 on old libsndfile) are not part of the scan.
        exts = audio_io.audio_extensions()
        bad = [p for p in bad if p.rsplit(".", 1)[-1].lower() in exts]
        scanned = [p for p, _ in self.folder if p.suffix[1:].lower() in exts]
        self.folder_stats["folders"] += 1
        self.folder_stats["files"] += len(scanned)
        try:
            ds = build_dataset(cfg, progress=False)
        except AudioDataError as e:
            if len(bad) != len(scanned):
                raise FuzzFailure(f"folder build failed although some files decode: {e}") from e
            self.folder_stats["all_bad_clear_error"] += 1
        else:
            skipped = sorted(p for p, _ in ds.skipped)
            if skipped != bad:
                raise FuzzFailure(f"folder build skipped {skipped}, decode rejected {bad}")
            self.folder_stats["counted_skips"] += len(skipped)
            self.folder_stats["decoded_in_folder"] += len(set(ds.sources))
        shutil.rmtree(folder)
        shutil.rmtree(self.work / "cache", ignore_errors=True)
        self.folder.clear()

    def _fail(self, path: Path, why: str) -> None:
        self.keep.mkdir(parents=True, exist_ok=True)
        kept = self.keep / path.name
        shutil.copyfile(path, kept)
        raise FuzzFailure(f"{why} (file kept at {kept})")


def _reference_file(work: Path) -> Path:
    path = work / "reference.wav"
    if not path.exists():
        sf.write(path, np.zeros((100, 2)), 22050, subtype="PCM_16")
    return path


def run(examples: int, rng_seed: int = 0, *, time_limit: float = 10.0, max_rss_mb: float = 300.0,
        folder_every: int = 10, folder_size: int = 25, keep: str | Path | None = None,
        work: str | Path | None = None) -> dict:  # fmt: skip
    """Runs ``examples`` generated files through the loader; returns the counts.

    Raises:
      FuzzFailure: a file gave something other than a clean signal or a clear AudioDataError.
    """
    tmp = tempfile.mkdtemp(prefix="wavegen-fuzz-", dir=work)
    fuzzer = Fuzzer(Path(tmp), Path(keep or "/tmp/wavegen-fuzz-failures"), time_limit,
                    max_rss_mb, folder_every, folder_size)  # fmt: skip
    t0 = time.monotonic()

    @seed(rng_seed)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=["generate"])  # fmt: skip
    @given(adversarial_file())
    def one(example):
        fuzzer.check(*example)

    try:
        one()
        fuzzer.build_folder()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c = fuzzer.counts
    return {
        "tried": c["tried"],
        "decoded": c["decoded"],
        "clear_error_naming_file": c["clear_error"],
        "failures": 0,
        "folder_builds": dict(fuzzer.folder_stats),
        "categories": dict(sorted(fuzzer.categories.items())),
        "max_decode_s": round(fuzzer.max_decode_s, 3),
        "peak_rss_growth_mb": round(peak_rss_mb() - (fuzzer.rss_base or 0), 1),
        "wall_s": round(time.monotonic() - t0, 1),
        "seed": rng_seed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per file")
    ap.add_argument("--max-rss-mb", type=float, default=300.0, help="allowed peak RSS growth")
    ap.add_argument("--keep", default="/tmp/wavegen-fuzz-failures")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    try:
        report = run(args.examples, args.seed, time_limit=args.time_limit,
                     max_rss_mb=args.max_rss_mb, keep=args.keep)  # fmt: skip
    except FuzzFailure as e:
        print(f"FAIL: {e}")
        return 1
    report["command"] = " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
