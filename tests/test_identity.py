"""A module's identity by meaning (reprolab/core/identity.py): what it leaves out, what it
keeps, and that it is the same under Python 3.11, 3.12 and 3.13 and in any folder."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess

import pytest

from reprolab.core.errors import UserError
from reprolab.core.identity import digest, file_digest
from tests.conftest import ROOT

BASE = '''"""A module."""

import math

RATE = 0.5


def step(x, y):
    """Move x towards y."""
    return x + RATE * (y - x)


def table(items):
    return {"a": 1, "b": [1, 2]}, (items,), f"{math.pi:.2f}"
'''

SAME = {  # edits that change nothing a module does
    "a comment": BASE.replace("RATE = 0.5", "RATE = 0.5  # the share moved"),
    "a comment line": BASE.replace("def step", "# steps\ndef step"),
    "docstrings": BASE.replace('"""A module."""', '"""Another text,\n\nin two paragraphs."""').replace(
        '"""Move x towards y."""', "'''Towards.'''"
    ),
    "no docstring": BASE.replace('    """Move x towards y."""\n', ""),
    "blank lines": BASE.replace("\n\n\n", "\n\n\n\n\n").replace("import math\n", "import math\n\n"),
    "indentation": BASE.replace("    return", "        return").replace('    """Move', '        """Move'),
    "spaces": BASE.replace("x + RATE * (y - x)", "x+RATE*(y-x)"),
    "line breaks": BASE.replace("(y - x)", "(y -\n              x)").replace("return {", "return \\\n        {"),
    "quotes": BASE.replace('{"a": 1, "b": [1, 2]}', "{'a': 1, 'b': [1, 2]}"),
    "split strings": BASE.replace('{"a": 1', '{"" "a": 1'),
    "numbers": BASE.replace("0.5", "0.50").replace("[1, 2]", "[1, 0x2]"),
    "a trailing comma": BASE.replace("def step(x, y)", "def step(\n    x,\n    y,\n)").replace("[1, 2]", "[1, 2,]"),
}

DIFFERENT = {  # edits that may change what it does
    "a value": BASE.replace("0.5", "0.25"),
    "an operator": BASE.replace("x + RATE", "x - RATE"),
    "a name": BASE.replace("import math", "import cmath as math"),
    "a string": BASE.replace('"a": 1', '"A": 1'),
    "a tuple's comma": BASE.replace("(items,)", "(items)"),
    "a type": BASE.replace("0.5", "1"),
    "an f-string": BASE.replace(":.2f", ":.3f"),
    "a statement": BASE.replace("    return x", "    x = abs(x)\n    return x"),
    "parentheses (an extra run, never a stale one)": BASE.replace("x + RATE * (y - x)", "(x + RATE * (y - x))"),
    "nesting": BASE.replace("    return {", "    if items:\n        pass\n    return {"),
    "a bare f-string (it runs)": BASE.replace('"""Move x towards y."""', 'f"{print(x)}"'),
}


def test_what_cannot_change_behaviour_leaves_the_digest():
    for name, text in SAME.items():
        compile(text, name, "exec")
        assert digest(text) == digest(BASE), name


def test_what_may_change_behaviour_changes_it():
    for name, text in DIFFERENT.items():
        compile(text, name, "exec")
        assert digest(text) != digest(BASE), name


def test_a_source_that_does_not_parse_is_named_with_its_line():
    with pytest.raises(UserError, match=r"^m.py:3: does not parse: "):
        digest("x = 1\n\ndef f(:\n    pass\n", "m.py")


def pythons() -> list[str]:
    """Python 3.11, 3.12 and 3.13 on this machine: on PATH, or pyenv's."""
    found = {}
    for minor in ("3.11", "3.12", "3.13"):
        candidates = [shutil.which(f"python{minor}")]
        candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}*/bin/python{minor}")))
        for candidate in filter(None, candidates):
            if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
                found[minor] = candidate
                break
    return list(found.values())


DIGESTS = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])  # identity.py alone: the standard library only
from reprolab.core.identity import file_digest
root = Path(sys.argv[2])
files = [p for name in ("reprolab", "stages", "tests", "bench") for p in sorted((root / name).rglob("*.py"))]
print(json.dumps({p.relative_to(root).as_posix(): file_digest(p) for p in files}))
"""


def test_every_module_has_the_same_digest_under_each_python_and_in_another_folder(tmp_path):
    found = pythons()
    if len(found) < 2:
        pytest.skip("needs a second Python among 3.11, 3.12 and 3.13")
    elsewhere = tmp_path / "another" / "checkout"
    for name in ("reprolab", "stages", "tests", "bench"):
        shutil.copytree(ROOT / name, elsewhere / name, ignore=shutil.ignore_patterns("__pycache__"))
    files = [p for name in ("reprolab", "stages", "tests", "bench") for p in sorted((ROOT / name).rglob("*.py"))]
    here = {p.relative_to(ROOT).as_posix(): file_digest(p) for p in files}
    assert len(here) > 100
    for python in found:
        for root in (ROOT, elsewhere):
            result = subprocess.run([python, "-c", DIGESTS, str(ROOT), str(root)], capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
            theirs = json.loads(result.stdout)
            assert theirs == here, (python, root)
