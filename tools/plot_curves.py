#!/usr/bin/env python3
"""Training curves of one or more runs as an SVG (no plotting library needed) and a Markdown table.

Reads the TensorBoard event files of each run directory with tensorboard's own EventAccumulator
and draws one panel per scalar tag, one line per run.

    .venv/bin/python tools/plot_curves.py runs/wavegan_fsdd_ps2 runs/wavegan_fsdd_ps0 \
        --tags d/wasserstein d/gradient_penalty g/loss --svg docs/img/fsdd_curves.svg --every 100

Prints the values every ``--every`` steps as a Markdown table (the nearest logged step).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from xml.sax.saxutils import escape

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
PANEL_W, PANEL_H, PAD = 360, 220, 46


def read_scalars(run: Path, tags: list[str]) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} of a run directory's event files (later files win a step)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    available = acc.Tags().get("scalars", [])
    missing = [t for t in tags if t not in available]
    if missing:
        raise SystemExit(f"plot_curves: {run} has no scalar {missing}; it has {sorted(available)}")
    out = {}
    for tag in tags:
        by_step = {e.step: e.value for e in acc.Scalars(tag)}
        out[tag] = sorted(by_step.items())
    return out


def _panel(x0: int, tag: str, series: list[tuple[str, list[tuple[int, float]]]]) -> list[str]:
    steps = [s for _, pts in series for s, _ in pts]
    values = [v for _, pts in series for _, v in pts]
    s_lo, s_hi = min(steps), max(steps)
    v_lo, v_hi = min(values), max(values)
    if v_hi == v_lo:
        v_hi = v_lo + 1.0
    if s_hi == s_lo:
        s_hi = s_lo + 1

    def xy(s: float, v: float) -> tuple[float, float]:
        x = x0 + PAD + (s - s_lo) / (s_hi - s_lo) * (PANEL_W - PAD - 10)
        y = 10 + (v_hi - v) / (v_hi - v_lo) * (PANEL_H - PAD - 10)
        return x, y

    ax_y = PANEL_H - PAD
    parts = [
        f'<text x="{x0 + PANEL_W / 2}" y="{PANEL_H - 8}" text-anchor="middle">{escape(tag)}'
        " vs step</text>",
        f'<line x1="{x0 + PAD}" y1="{ax_y}" x2="{x0 + PANEL_W - 10}" y2="{ax_y}" stroke="#444"/>',
        f'<line x1="{x0 + PAD}" y1="10" x2="{x0 + PAD}" y2="{ax_y}" stroke="#444"/>',
        f'<text x="{x0 + PAD - 4}" y="14" text-anchor="end">{v_hi:.3g}</text>',
        f'<text x="{x0 + PAD - 4}" y="{ax_y}" text-anchor="end">{v_lo:.3g}</text>',
        f'<text x="{x0 + PAD}" y="{ax_y + 14}">{s_lo}</text>',
        f'<text x="{x0 + PANEL_W - 10}" y="{ax_y + 14}" text-anchor="end">{s_hi}</text>',
    ]
    for i, (_, pts) in enumerate(series):
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(s, v) for s, v in pts))
        color = COLORS[i % len(COLORS)]
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>'
        )
    return parts


def svg(runs: dict[str, dict[str, list[tuple[int, float]]]], tags: list[str]) -> str:
    """One panel per tag side by side, one coloured line per run, a legend below."""
    width = PANEL_W * len(tags)
    height = PANEL_H + 18 * len(runs) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for i, tag in enumerate(tags):
        parts += _panel(i * PANEL_W, tag, [(name, data[tag]) for name, data in runs.items()])
    for i, name in enumerate(runs):
        y = PANEL_H + 14 + 18 * i
        color = COLORS[i % len(COLORS)]
        parts.append(f'<line x1="10" y1="{y - 4}" x2="30" y2="{y - 4}" stroke="{color}" '
                     'stroke-width="3"/>')  # fmt: skip
        parts.append(f'<text x="36" y="{y}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def table(runs: dict[str, dict[str, list[tuple[int, float]]]], tags: list[str], every: int) -> str:
    """Markdown: one row per (run, step multiple of ``every``), the nearest logged value per tag."""
    lines = ["| run | step | " + " | ".join(tags) + " |", "|---|---:|" + "---:|" * len(tags)]
    for name, data in runs.items():
        last = max(s for s, _ in data[tags[0]])
        for target in [*range(every, last + 1, every), *([last] if last % every else [])]:
            cells = []
            for tag in tags:
                step, value = min(data[tag], key=lambda p: abs(p[0] - target))
                cells.append(f"{value:.3g}")
            lines.append(f"| {name} | {target} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (event files)")
    parser.add_argument("--tags", nargs="+", default=["d/wasserstein", "d/loss", "g/loss"])
    parser.add_argument("--names", nargs="+", default=None, help="legend names (default: dirs)")
    parser.add_argument("--svg", type=Path, default=None, help="write the SVG here")
    parser.add_argument("--every", type=int, default=100, help="table row every N steps")
    args = parser.parse_args(argv)
    names = args.names or [r.name for r in args.runs]
    if len(names) != len(args.runs):
        parser.error("--names needs one name per run")
    for run in args.runs:
        if not run.is_dir():
            parser.error(f"{run} is not a run directory")
    data = {name: read_scalars(run, args.tags) for name, run in zip(names, args.runs, strict=True)}
    if args.svg:
        args.svg.parent.mkdir(parents=True, exist_ok=True)
        args.svg.write_text(svg(data, args.tags))
        print(f"wrote {args.svg}", file=sys.stderr)
    print(table(data, args.tags, args.every), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
