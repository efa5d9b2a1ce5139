"""tools/plot_curves.py: scalars written by our SummaryWriter come back as an SVG and a table."""

import xml.etree.ElementTree as ET

from tests.tools import load_tool
from wavegen.train.summaries import SummaryWriter


def _tool():
    return load_tool("plot_curves")


def test_svg_and_table_from_event_files(tmp_path, capsys):
    for name, scale in (("a", 1.0), ("b", 2.0)):
        writer = SummaryWriter(tmp_path / name)
        for step in range(10, 101, 10):
            writer.scalars(step, {"d/loss": scale * step, "g/loss": -step})
        writer.close()
    out = tmp_path / "curves.svg"
    argv = [str(tmp_path / "a"), str(tmp_path / "b"), "--tags", "d/loss", "g/loss"]
    assert _tool().main([*argv, "--svg", str(out), "--every", "50"]) == 0
    root = ET.fromstring(out.read_text())  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    assert len(lines) == 4  # 2 tags x 2 runs
    assert all(len(p.get("points").split()) == 10 for p in lines)
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| run | step | d/loss | g/loss |"
    # Hand-computed: run b at step 50 has d/loss 2*50, g/loss -50.
    assert "| b | 50 | 100 | -50 |" in table and "| a | 100 | 100 | -100 |" in table
