"""The plots page of a fresh clone, drawn offline in a real browser: `dvc plots show` and
`dvc plots diff` as a user types them in a clone, with no set-up step (the page template is
committed), opened by headless Chromium with no host reachable; every declared plot must be
drawn."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reprolab.pages import plots as plots_page
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        plots_page.browser() is None and not os.environ.get("CI"), reason="needs chromium (CI installs it)"
    ),
]


def run(clone: Path, *args: str) -> str:
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(args, cwd=clone, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_fresh_clone_draws_every_plot_offline(tmp_path):
    from PIL import Image, ImageStat

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    assert (clone / plots_page.TEMPLATE).is_file()  # committed: no set-up step
    declared = len(yaml.safe_load((clone / "params.yaml").read_text())["tasks"])  # a Vega chart a task: its curves
    shown = plots_page.written(run(clone, "dvc", "plots", "show"))
    html = shown.read_text()
    assert "cdn.jsdelivr" not in html and "<script src=" not in html  # nothing to fetch
    picture = tmp_path / "page.png"
    assert plots_page.drawn(plots_page.open_page(shown, picture)) == declared
    figures = re.findall(r'<img [^>]*src="[^"]*\.png"', html)
    assert len(figures) == len(list((clone / "plots").glob("*/*.png")))  # and each figure, as an image
    grey = Image.open(picture).convert("L")
    assert ImageStat.Stat(grey).stddev[0] > 20 and len(grey.getcolors(1 << 16)) > 50  # not a blank page

    diff = plots_page.written(run(clone, "dvc", "plots", "diff", "HEAD"))
    assert plots_page.drawn(plots_page.open_page(diff)) == declared
