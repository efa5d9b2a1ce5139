#!/usr/bin/env python3
"""Kill a tiny training run with SIGKILL at random moments, restart it each time, and check that
every restart resumed from the last complete checkpoint and the final parameters equal an
uninterrupted run's; then kill folder-dataset cache builds and check the partial cache is rebuilt.

Training kills: a quarter land at a uniformly random time after the process starts (importing,
compiling, restoring), the rest a random 0-1.5 s after the run's next checkpoint appears, so
they land inside a train step or an async checkpoint save (checkpoints every step). At each kill
the script records where it landed (an orbax temporary directory present: during a save; a step
logged: during training; else start-up). Each restart must log ``resumed from step N`` with N the
newest complete checkpoint at its start and must not fail. When a victim run finishes before all
kills are spent, a fresh victim starts (a new *round*); every round's final parameters must be
bit-identical to the reference run's (the resume path is deterministic).

Cache kills: a subprocess decodes a folder of WAVs into a fresh cache entry and is killed at a
random moment; the entry must then be absent or complete, and the next build must succeed and
equal an uninterrupted build.

    nice -n 5 .venv/bin/python tools/fault_inject.py --kills 20 --cache-kills 5 --json /tmp/fi.json

Prints a report and exits 1 on any mismatch or failed restart.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "experiments" / "quickstart.py") + ":tiny"
RESUMED = re.compile(r"resumed from step (\d+)")
STEP_LOG = re.compile(r"step (\d+)/\d+")


def train_cmd(workdir: Path, steps: int) -> list[str]:
    return [
        sys.executable, "-m", "wavegen", "train", "--config", CONFIG, "--workdir", str(workdir),
        "--no-progress", f"--config.train.num_steps={steps}", "--config.train.checkpoint_every=1",
        "--config.train.log_every=1", "--config.train.sample_every=1000",
    ]  # fmt: skip


def complete_steps(workdir: Path) -> list[int]:
    ckpts = workdir / "checkpoints"
    return (
        sorted(int(p.name) for p in ckpts.iterdir() if p.name.isdigit()) if ckpts.is_dir() else []
    )


def latest_step(workdir: Path) -> int | None:
    steps = complete_steps(workdir)
    return steps[-1] if steps else None


def saving_now(workdir: Path) -> bool:
    ckpts = workdir / "checkpoints"
    return ckpts.is_dir() and any("tmp" in p.name for p in ckpts.iterdir())


def final_params(workdir: Path) -> list[np.ndarray]:
    import jax

    from wavegen.train.runs import load_run

    _, state, _ = load_run(workdir)
    params = jax.device_get({"g": state["g"], "d": state["d"]})
    return [np.asarray(x) for x in jax.tree.leaves(params)]


def run_to_end(cmd: list[str], env: dict, log: Path) -> subprocess.CompletedProcess:
    with open(log, "a") as f:
        return subprocess.run(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, check=False)


def train_kills(args, rng: random.Random, root: Path, env: dict) -> dict:
    ref = root / "reference"
    t0 = time.time()
    done = run_to_end(train_cmd(ref, args.steps), env, root / "reference.log")
    if done.returncode:
        raise SystemExit(f"reference run failed; see {root / 'reference.log'}")
    ref_s = time.time() - t0
    print(f"reference run: {args.steps} steps in {ref_s:.1f}s", flush=True)

    events, rounds, problems = [], [], []
    round_no, victim = 0, root / "victim0"
    for i in range(args.kills):
        if (victim / "done.json").exists():
            rounds.append(victim)
            round_no += 1
            victim = root / f"victim{round_no}"
        before = latest_step(victim)
        log = root / f"victim{round_no}.run{i:02d}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                train_cmd(victim, args.steps), env=env, stdout=out, stderr=subprocess.STDOUT
            )
            mode = "anytime" if rng.random() < 0.25 else "after-checkpoint"
            start = time.time()
            if mode == "anytime":
                deadline = start + rng.uniform(0.5, ref_s)
                while time.time() < deadline and proc.poll() is None:
                    time.sleep(0.05)
            else:
                while proc.poll() is None and latest_step(victim) == before:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 1.5))
            saving, after_steps = saving_now(victim), STEP_LOG.findall(log.read_text())
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                outcome = "killed"
                where = (
                    "during an async checkpoint save"
                    if saving
                    else f"in training (after step {after_steps[-1]})"
                    if after_steps
                    else "start-up (import / data / compile / restore)"
                )
            else:
                outcome, where = f"exited {proc.returncode} before the kill", "-"
                if proc.returncode:
                    problems.append(f"run {i} exited {proc.returncode}; see {log}")
        text = log.read_text()
        resumed = RESUMED.findall(text)
        resumed_from = int(resumed[0]) if resumed else None
        if resumed_from is not None and resumed_from != before:
            problems.append(f"run {i} resumed from {resumed_from}, newest complete was {before}")
        if before is not None and resumed_from is None and STEP_LOG.search(text):
            problems.append(f"run {i} trained without resuming from checkpoint {before}")
        e = {
            "kill": i,
            "round": round_no,
            "mode": mode,
            "after_s": round(time.time() - start, 2),
            "newest_checkpoint_at_start": before,
            "resumed_from": resumed_from,
            "landed": where,
            "newest_checkpoint_after": latest_step(victim),
            "outcome": outcome,
        }
        events.append(e)
        print(
            f"[{i:2d}] round {round_no} {mode:16s} {e['after_s']:6.2f}s: {outcome}, {where}; "
            f"resumed from {resumed_from} (newest complete at start {before}); "
            f"checkpoints now {complete_steps(victim)}",
            flush=True,
        )
    rounds.append(victim)
    for r, v in enumerate(rounds):
        before = latest_step(v)
        log = root / f"victim{r}.final.log"
        final = run_to_end(train_cmd(v, args.steps), env, log)
        resumed = RESUMED.findall(log.read_text())
        if final.returncode:
            problems.append(f"final run of round {r} exited {final.returncode}; see {log}")
        elif before is not None and before < args.steps and resumed != [str(before)]:
            problems.append(f"final run of round {r} resumed from {resumed}, expected {before}")
    ref_params = final_params(ref)
    equal = []
    for v in rounds:
        p = final_params(v)
        same = len(p) == len(ref_params) and all(
            np.array_equal(x, y) for x, y in zip(p, ref_params, strict=True)
        )
        equal.append(same)
        finite = all(np.isfinite(x).all() for x in p)
        if not same or not finite:
            problems.append(f"{v.name}: final parameters differ from the reference or not finite")
    return {
        "steps": args.steps,
        "kills": sum(e["outcome"] == "killed" for e in events),
        "kills_during_save": sum("save" in e["landed"] for e in events),
        "kills_during_training": sum(e["landed"].startswith("in training") for e in events),
        "kills_during_startup": sum(e["landed"].startswith("start-up") for e in events),
        "restarts": len(events) + len(rounds),
        "rounds": len(rounds),
        "events": events,
        "final_parameters_bit_identical": equal,
        "reference_run_s": round(ref_s, 1),
        "problems": problems,
    }


CACHE_BUILD = """
import sys
from wavegen.data import build_dataset
from wavegen.defaults import data_config
cfg = data_config()
cfg.update(source="folder", path=sys.argv[1], cache_dir=sys.argv[2], length=16384,
           sample_rate=16000, split="all")
ds = build_dataset(cfg, progress=False)
print(ds.cache_path)
"""


def cache_kills(args, rng: random.Random, root: Path, env: dict) -> dict:
    import soundfile as sf

    from wavegen.data.cache import load_entry

    folder = root / "audio"
    r = np.random.default_rng(0)
    for i in range(args.cache_files):
        sf.write(
            folder.mkdir(exist_ok=True) or folder / f"{i:04d}.wav",
            r.uniform(-0.5, 0.5, 22050 * 2).astype(np.float32),
            22050,
        )
    cmd = [sys.executable, "-c", CACHE_BUILD, str(folder)]
    t0 = time.time()
    ref = subprocess.run([*cmd, str(root / "cache_ref")], env=env, capture_output=True, text=True)
    build_s = time.time() - t0
    if ref.returncode:
        raise SystemExit(f"reference cache build failed:\n{ref.stderr[-2000:]}")
    ref_entry = Path(ref.stdout.strip().splitlines()[-1])
    want = np.load(ref_entry / "waveforms.npy", allow_pickle=False)
    print(f"reference cache build: {args.cache_files} files in {build_s:.1f}s", flush=True)
    events, problems = [], []
    cache = root / "cache_victim"
    for i in range(args.cache_kills):
        proc = subprocess.Popen(
            [*cmd, str(cache)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        delay = rng.uniform(0.3 * build_s, 0.95 * build_s)
        try:
            proc.wait(timeout=delay)
            outcome = "finished before the kill"
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            outcome = "killed"
        entries = (
            [p for p in cache.iterdir() if not p.name.startswith(".")] if cache.exists() else []
        )
        partial = (
            [p.name for p in cache.iterdir() if p.name.startswith(".")] if cache.exists() else []
        )
        complete = [p for p in entries if load_entry(p, p.name, 16384) is not None]
        if len(complete) != len(entries):
            problems.append(f"cache kill {i}: an entry without a valid marker sits in place")
        events.append(
            {
                "kill": i,
                "after_s": round(delay, 2),
                "outcome": outcome,
                "partial_tmp_dirs": len(partial),
                "complete_entries": len(complete),
            }
        )
        print(
            f"[cache {i}] {outcome} after {delay:.2f}s: {len(partial)} partial temp dir(s), "
            f"{len(complete)} complete entr(y/ies)",
            flush=True,
        )
        if complete:
            shutil.rmtree(complete[0])  # force the next attempt to build again
    rebuilt = subprocess.run([*cmd, str(cache)], env=env, capture_output=True, text=True)
    ok = rebuilt.returncode == 0
    same = False
    if ok:
        entry = Path(rebuilt.stdout.strip().splitlines()[-1])
        same = np.array_equal(np.load(entry / "waveforms.npy", allow_pickle=False), want)
    leftovers = sorted(p.name for p in cache.iterdir() if p.name.startswith("."))
    if not (ok and same):
        problems.append("rebuilt cache failed or differs from an uninterrupted build")
    return {
        "cache_kills": sum(e["outcome"] == "killed" for e in events),
        "events": events,
        "rebuilt_equal_to_uninterrupted": same,
        "temp_dirs_left_after_rebuild": len(leftovers),
        "problems": problems,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--cache-kills", type=int, default=5)
    ap.add_argument("--cache-files", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary run directories")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="wavegen-faults-"))
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_force_host_platform_device_count=1",
    )  # the compilation cache (WAVEGEN_JAX_CACHE or its default) is shared: restarts re-use it
    t0 = time.time()
    report = {"command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), "root": str(root)}
    if args.kills:
        report["training"] = train_kills(args, rng, root, env)
    if args.cache_kills:
        report["cache"] = cache_kills(args, rng, root, env)
    report["wall_s"] = round(time.time() - t0, 1)
    problems = [
        p for part in ("training", "cache") for p in report.get(part, {}).get("problems", [])
    ]
    tr = report.get("training")
    if tr:
        print(
            f"\n{tr['kills']} SIGKILLs ({tr['kills_during_save']} during a checkpoint save, "
            f"{tr['kills_during_training']} in training, {tr['kills_during_startup']} at start-up),"
            f" {tr['restarts']} restarts in {tr['rounds']} round(s); final parameters "
            f"{'bit-identical to' if all(tr['final_parameters_bit_identical']) else 'DIFFER from'}"
            " the uninterrupted run"
        )
    if "cache" in report:
        c = report["cache"]
        print(
            f"{c['cache_kills']} cache-build SIGKILLs; rebuilt cache equal to an uninterrupted "
            f"build: {c['rebuilt_equal_to_uninterrupted']}"
        )
    for p in problems:
        print("PROBLEM:", p)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
