"""Loaded by every Python process of the end-to-end test (PYTHONPATH): at exit, a stage
process writes the project files it loaded to $REPROLAB_IMPORT_LOG/<stage>[@<task>].txt,
so the test can check them against the stage's plan, and a line `module:torch` if it loaded torch."""

import atexit
import os
import sys
from pathlib import Path


def _write() -> None:
    script = Path(sys.argv[0])
    if script.parent.name != "stages" or not os.environ.get("REPROLAB_IMPORT_LOG"):
        return
    root = script.parent.parent.resolve()
    loaded = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.isabs(path) and Path(path).resolve().is_relative_to(root):
            loaded.add(Path(path).resolve().relative_to(root).as_posix())
    if "torch" in sys.modules:
        loaded.add("module:torch")
    name = script.stem + "".join(f"@{arg}" for arg in sys.argv[1:2])
    Path(os.environ["REPROLAB_IMPORT_LOG"], f"{name}.txt").write_text("".join(f"{p}\n" for p in sorted(loaded)))


atexit.register(_write)
