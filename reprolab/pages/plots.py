"""The page of `dvc plots show` and `dvc plots diff`, drawn without internet.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so on an air-gapped machine
(the mirror's setting) it is blank. `.dvc/config` names an HTML template instead
(`plots.html_template = offline.html`, a path relative to `.dvc/`) that holds the three
libraries inline, from `vl-convert-python`'s bundle. It is committed, so that any clone draws
its plots with no set-up step (DVC stops when the template is missing), and its frame (the
page around the plots) is edited there; this module refreshes the bundle inside it after an
upgrade of vl-convert-python (a test says when it is stale).

    python -m reprolab.pages.plots                      # refresh .dvc/offline.html's bundle
    python -m reprolab.pages.plots --screenshot FILE    # and a headless Chromium's picture of dvc plots show's page

`drawn` opens a page in headless Chromium with every host name unresolvable and says how
many charts Vega drew in it (the test of the page: tests/test_plots_page.py).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from reprolab.core.files import write_text

TEMPLATE = Path(".dvc/offline.html")
# The page's frame is the committed file itself; only the bundle inside its script is written.
SCRIPT = re.compile(r"(<script>/\* Vega, Vega-Lite and Vega-Embed [^\n]*\*/\n)(.*?)(\n    </script>)", re.S)
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9")  # no host, no route
DRAWN = re.compile(r'<(?:canvas|svg)[^>]*class="marks"')  # what vega-embed leaves where it drew a chart


def page(frame: str) -> str:
    """The template `frame` (.dvc/offline.html as committed) holding the installed Vega bundle."""
    import vl_convert

    bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]  # its stub says snippet is required; it is not
    if "{plot_divs}" in bundle or "{scripts}" in bundle or "</script" in bundle:
        raise ValueError("the Vega bundle holds a placeholder or a closing script tag")
    if not SCRIPT.search(frame):
        raise ValueError(f"{TEMPLATE}: no Vega script to fill (restore it from git)")
    return SCRIPT.sub(lambda m: m.group(1) + bundle + m.group(3), frame, count=1)


def write(root: Path = Path(".")) -> Path:
    """Refresh the bundle in the template under root (unless it holds it already); its path."""
    path = root / TEMPLATE
    text = page(path.read_text(encoding="utf-8"))
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text(path, text)
    return path


def browser() -> str | None:
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


def open_page(html: Path, screenshot: Path | None = None, width: int = 1400, height: int = 4700) -> str:
    """The DOM of `html` once headless Chromium has run its scripts, offline; with
    `screenshot`, a PNG of the page too."""
    binary = browser()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        common = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", *OFFLINE,
            f"--user-data-dir={profile}", "--virtual-time-budget=10000", f"--window-size={width},{height}",
        ]  # fmt: skip
        if screenshot is not None:
            shot = [*common, "--hide-scrollbars", f"--screenshot={screenshot.resolve()}", html.resolve().as_uri()]
            subprocess.run(shot, capture_output=True, text=True, check=True, timeout=120)
        dumped = [*common, "--dump-dom", html.resolve().as_uri()]
        return subprocess.run(dumped, capture_output=True, text=True, check=True, timeout=120).stdout


def written(printed: str) -> Path:
    """The page a `dvc plots show` or `dvc plots diff` wrote: it prints its file:// address last."""
    return Path(printed.strip().splitlines()[-1].removeprefix("file://"))


def drawn(dom: str) -> int:
    """How many charts Vega drew in a page's DOM."""
    return len(DRAWN.findall(dom))


def main() -> None:
    from reprolab.cli import guarded

    parser = argparse.ArgumentParser(prog="python -m reprolab.pages.plots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="dvc plots show, then a picture of its page")
    args = parser.parse_args()

    def work() -> None:
        print(write())
        if args.screenshot:
            shown = subprocess.run(["dvc", "plots", "show"], capture_output=True, text=True, check=True)
            html = written(shown.stdout)
            print(f"{args.screenshot}: {drawn(open_page(html, args.screenshot))} charts drawn")

    guarded("plots_page", work)


if __name__ == "__main__":
    main()
