"""A module's identity by meaning: a digest of its tokens, from Python's own tokenizer, without
what cannot change what it does.

Left out: comments, docstrings (a statement that is only a plain string), blank lines, line
breaks inside brackets and backslash continuations, the width of indentation (its structure
stays), spaces inside a line, the quotes and prefix of a plain string and how it is split into
adjacent pieces (the digest takes its value), how a number is written (its value), and a comma
before a closing bracket wherever it changes nothing (after an argument, or after the last of
two or more items). Everything else counts, so an edit that may change what the code does
changes the digest; parentheses a formatter adds or removes count as a change (an extra run,
never a stale result).

The digest is the same on Python 3.11, 3.12 and 3.13 (3.12 tokenizes an f-string into pieces:
they are joined back into the one token 3.11 gives), and it depends on nothing but the text.
Standard library only: the plan stage and `python3.X -c` in the tests import it alone.
"""

from __future__ import annotations

import ast
import hashlib
import io
import keyword
import token
import tokenize
from pathlib import Path

from reprolab.core.errors import UserError

SKIPPED = {token.COMMENT, token.NL, token.ENCODING, token.ENDMARKER}
FSTRING_START = getattr(token, "FSTRING_START", None)  # 3.12 and later
FSTRING_END = getattr(token, "FSTRING_END", None)
CLOSERS = (")", "]", "}")
NOT_CALLS = set(keyword.kwlist) | {"match", "case"}  # a name before "(" that does not make a call


def _raw(source: str) -> list[tuple[int, str]]:
    """The tokens, with each 3.12-style f-string joined back into one STRING token."""
    lines = source.splitlines(keepends=True)

    def text(start: tuple[int, int], end: tuple[int, int]) -> str:
        if start[0] == end[0]:
            return lines[start[0] - 1][start[1] : end[1]]
        return "".join([lines[start[0] - 1][start[1] :], *lines[start[0] : end[0] - 1], lines[end[0] - 1][: end[1]]])

    found: list[tuple[int, str]] = []
    depth, begun = 0, (0, 0)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if FSTRING_START is not None and tok.type == FSTRING_START:
            depth += 1
            if depth == 1:
                begun = tok.start
            continue
        if depth:
            if tok.type == FSTRING_END:
                depth -= 1
                if depth == 0:
                    found.append((token.STRING, text(begun, tok.end)))
            continue
        found.append((tok.type, tok.string))
    return found


def _plain(string: str) -> bool:
    """A string token without f (its value is known without running anything)."""
    prefix = string[: len(string) - len(string.lstrip("rRbBuUfF"))]
    return "f" not in prefix.lower()


def tokens(source: str) -> list[str]:
    """The normalized tokens of a module's source, each as KIND:TEXT."""
    raw = [t for t in _raw(source) if t[0] not in SKIPPED]
    kept: list[tuple[int, str]] = []
    i = 0
    while i < len(raw):
        kind, text = raw[i][0], raw[i][1]
        if kind == token.STRING:  # a run of adjacent strings: one value
            j = i
            while j < len(raw) and raw[j][0] == token.STRING:
                j += 1
            pieces = [t[1] for t in raw[i:j]]
            statement_start = not kept or kept[-1][0] in (token.NEWLINE, token.INDENT, token.DEDENT)
            ends_statement = j == len(raw) or raw[j][0] == token.NEWLINE
            if all(_plain(p) for p in pieces):
                if statement_start and ends_statement:  # a docstring, or any bare string: does nothing
                    i = j + 1
                    continue
                values = [ast.literal_eval(p) for p in pieces]
                kept.append((token.STRING, repr(values[0][:0].join(values))))
            else:
                kept.extend((token.STRING, p) for p in pieces)
            i = j
            continue
        if kind == token.NUMBER:
            text = repr(ast.literal_eval(text))
        elif kind == token.INDENT:
            text = ""
        elif kind in (token.NEWLINE, token.DEDENT):
            text = ""
            if kind == token.NEWLINE and (not kept or kept[-1][0] == token.NEWLINE):
                i += 1
                continue
        kept.append((kind, text))
        i += 1
    kept = _without_idle_commas(kept)
    return [f"{token.tok_name[kind]}:{text}" for kind, text in kept]


def _without_idle_commas(kept: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop a comma before a closing bracket where it changes nothing: in a call's or a
    definition's parentheses, or after the second or later item of any bracket. `(x,)`,
    `x[i,]` and `case (x,):` keep theirs."""
    out: list[tuple[int, str]] = []
    stack: list[dict] = []  # per open bracket: is it a call, and the commas at its level
    for kind, text in kept:
        if kind == token.OP and text in ("(", "[", "{"):
            before = out[-1] if out else (None, "")
            call = text == "(" and (
                (before[0] == token.NAME and before[1] not in NOT_CALLS)
                or (before[0] == token.OP and before[1] in (")", "]"))
                or before[0] == token.STRING
            )
            stack.append({"call": call, "commas": 0})
        elif kind == token.OP and text in CLOSERS and stack:
            level = stack.pop()
            if out and out[-1] == (token.OP, ",") and (level["call"] or level["commas"] >= 2):
                out.pop()
        elif kind == token.OP and text == "," and stack:
            stack[-1]["commas"] += 1
        out.append((kind, text))
    return out


def digest(source: str, where: str = "<source>") -> str:
    """sha256 of the normalized tokens (the first 32 hex digits); a source that does not
    parse is refused with its file and line."""
    try:
        compile(source, where, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        normalized = "\n".join(tokens(source))
    except SyntaxError as err:
        raise UserError(f"{where}:{err.lineno}: does not parse: {err.msg}") from None
    except tokenize.TokenError as err:
        raise UserError(f"{where}:{err.args[1][0]}: does not parse: {err.args[0]}") from None
    return hashlib.sha256(normalized.encode()).hexdigest()[:32]


def file_digest(path: Path, where: str | None = None) -> str:
    return digest(path.read_text(encoding="utf-8"), where or path.as_posix())
