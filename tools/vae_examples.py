#!/usr/bin/env python3
"""Listening examples and spectrogram checks of a VAE (and its latent prior) on the notes set.

    .venv/bin/python tools/vae_examples.py pretrained/vae_notes --prior pretrained/prior_notes \
        --data ../shared/data/notes --name vae_notes

writes docs/audio/NAME/{input,reconstruction,prior}_NN.flac (16-bit FLAC) and
docs/img/NAME_spectrograms.png (rows: held-out inputs, their reconstructions, prior samples;
TensorBoard's spectrogram function, mel axis), and prints one JSON line of checks read from the
signals (not heard):

- ``note_accuracy_vs_metadata``: fraction of the held-out clips whose reconstruction's note
  (:func:`wavegen.eval.pitch.note_of_clips`: median f0 of the loud voiced frames, nearest
  semitone) is the metadata's MIDI pitch — independent of the YIN
  estimate of the input that ``f0_within_50c`` compares against;
- ``comb_db``: the decoder's stationary comb at multiples of ``sr / 256`` (62.5 Hz at 16 kHz,
  the period of the last two ×4 upsamplings of the :cpu decoder): mean over the comb's
  frequencies of the time-averaged log power at the tooth minus at the half-way points,
  reconstructions minus inputs (≈ 0 dB: no comb beyond the data's own harmonics);
- ``level_dbfs_*`` and ``flatness_*``: median level and spectral flatness of the loud frames
  of inputs, reconstructions and prior samples (noisier timbre = higher flatness);
- ``prior_clean_note_fraction`` and ``prior_in_range_fraction``: prior samples that are a clean
  note (:func:`wavegen.eval.pitch.note_of_clips`) and, of those, within the training set's MIDI
  range.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def comb_db(waves: np.ndarray, sample_rate: int, period: int = 256) -> float:
    """Mean log-power excess at multiples of ``sr / period`` over the half-way points [dB]."""
    spec = np.abs(np.fft.rfft(waves * np.hanning(waves.shape[-1]), axis=-1)) ** 2
    power = 10 * np.log10(np.mean(spec, axis=0) + 1e-12)
    freqs = np.fft.rfftfreq(waves.shape[-1], 1 / sample_rate)
    tooth = sample_rate / period
    teeth = np.arange(1, int(sample_rate / 2 / tooth))
    at = [power[np.argmin(np.abs(freqs - k * tooth))] for k in teeth]
    mid = [power[np.argmin(np.abs(freqs - (k + 0.5) * tooth))] for k in teeth]
    return float(np.mean(np.subtract(at, mid)))


def read_metadata(folder: Path) -> dict[str, dict[str, str]]:
    """{file name: row} of ``folder/metadata.csv`` ({} when there is none)."""
    path = folder / "metadata.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {Path(r["file"]).name: r for r in csv.DictReader(f)}


def level_and_flatness(waves: np.ndarray) -> tuple[float, float]:
    """(median RMS in dBFS, median spectral flatness of the loud frames) of clips [N, T].

    Flatness (geometric / arithmetic mean of the power spectrum, 1024-sample frames) is ~0 for
    a clean harmonic tone and 1 for white noise: a proxy for how noisy a timbre is.
    """
    frames = waves[:, : waves.shape[1] // 1024 * 1024].reshape(len(waves), -1, 1024)
    power = np.abs(np.fft.rfft(frames * np.hanning(1024), axis=-1)) ** 2 + 1e-12
    rms = np.sqrt(np.mean(frames**2, axis=-1))
    loud = rms > np.max(rms, axis=1, keepdims=True) * 10 ** (-20 / 20)
    flat = np.exp(np.mean(np.log(power), -1)) / np.mean(power, -1)
    level = 20 * np.log10(np.sqrt(np.mean(waves**2, axis=1)) + 1e-9)
    return float(np.median(level)), float(np.median(flat[loud]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workdir", help="VAE run directory or published folder")
    p.add_argument("--prior", default="", help="latent-prior run or published folder")
    p.add_argument("--data", required=True, help="the notes folder (metadata.csv)")
    p.add_argument("--name", default="", help="write docs/audio/NAME and docs/img/NAME_*.png")
    p.add_argument("--num", type=int, default=8, help="clips per row (default 8)")
    p.add_argument("--prior-num", type=int, default=100, help="prior clips to score")
    p.add_argument("--temperature", type=float, default=1.0, help="prior sampling temperature")
    args = p.parse_args(argv)

    import soundfile as sf

    from wavegen.data import build_dataset
    from wavegen.eval.pitch import note_of_clips
    from wavegen.train import runs
    from wavegen.train.runs import load_run
    from wavegen.train.summaries import encode_png, spectrogram_image

    task, state, step = runs.load_vae_run(args.workdir)
    cfg = task.config.copy_and_resolve_references()
    with cfg.unlocked():
        cfg.data.path = args.data
    sr = int(cfg.data.sample_rate)
    test = build_dataset(cfg.data, split="test", progress=False)
    x = np.asarray(test.waveforms, np.float32)
    y = np.clip(runs.reconstruct(task, state, x), -1, 1)
    meta = read_metadata(Path(args.data))
    rows_of = [meta.get(Path(src).name, {}) for src in test.sources]
    pitch = (
        np.asarray([float(r["pitch"]) for r in rows_of])
        if all("pitch" in r for r in rows_of)
        else None
    )
    out: dict[str, float | int | str] = {"step": step, "num_test": len(x)}
    if pitch is not None:
        note = note_of_clips(y, sr, fmin=40.0, fmax=2200.0).note
        out["note_accuracy_vs_metadata"] = float(np.mean(note == pitch))
    out["comb_db_reconstruction"] = comb_db(y, sr)
    out["comb_db_input"] = comb_db(x, sr)
    out["comb_db"] = out["comb_db_reconstruction"] - out["comb_db_input"]
    for kind, waves in (("input", x), ("reconstruction", y)):
        out[f"level_dbfs_{kind}"], out[f"flatness_{kind}"] = level_and_flatness(waves)
    prior_waves = None
    if args.prior:
        ptask, pstate, _ = load_run(args.prior)
        z = ptask.sample_latents(pstate, args.prior_num, seed=0, temperature=args.temperature)
        prior_waves = ptask.decode(z)
        notes = note_of_clips(prior_waves, sr, fmin=40.0, fmax=2200.0)
        out["prior_clean_note_fraction"] = float(np.mean(notes.clean))
        out["level_dbfs_prior"], out["flatness_prior"] = level_and_flatness(prior_waves)
        if pitch is not None:
            train = build_dataset(cfg.data, split="train", progress=False)
            train_pitch = [float(meta[Path(src).name]["pitch"]) for src in train.sources]
            lo, hi = min(train_pitch), max(train_pitch)
            ok = notes.clean & (notes.note >= lo) & (notes.note <= hi)
            out["prior_in_range_fraction"] = float(np.mean(ok))
    print(json.dumps(out))
    if args.name:
        # One held-out clip per instrument where possible, in file order.
        names = [r.get("instrument", "") for r in rows_of]
        pick = [names.index(n) for n in dict.fromkeys(names)][: args.num]
        pick += [i for i in range(len(x)) if i not in pick][: args.num - len(pick)]
        audio = REPO / "docs" / "audio" / args.name
        audio.mkdir(parents=True, exist_ok=True)
        rows = [("input", x[pick]), ("reconstruction", y[pick])]
        if prior_waves is not None:
            rows.append(("prior", prior_waves[: args.num]))
        for kind, waves in rows:
            for i, w in enumerate(waves):
                sf.write(audio / f"{kind}_{i:02d}.flac", w, sr, subtype="PCM_16")
        images = [np.concatenate([spectrogram_image(w, sr) for w in waves], 1) for _, waves in rows]
        width = max(im.shape[1] for im in images)
        images = [np.pad(im, ((0, 4), (0, width - im.shape[1]), (0, 0))) for im in images]
        png = REPO / "docs" / "img" / f"{args.name}_spectrograms.png"
        png.write_bytes(encode_png(np.concatenate(images, 0)))
        print(f"wrote {audio} and {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
