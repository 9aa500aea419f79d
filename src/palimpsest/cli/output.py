"""The one way the ``palimpsest`` command line writes to the terminal.

Everything a command prints may hold stored data (messages, authors, ids, values, branch
names), and stored data may hold terminal control sequences. So every line goes through
:func:`render`, which escapes control characters (C0 including ESC, BEL, backspace and CR; DEL;
C1 including CSI and OSC; the bidirectional overrides) into visible text such as ``\\x1b``.
Colours are not control characters in the text: :func:`paint` wraps text in markers that carry
a per-process random nonce (stored data cannot forge them), and :func:`render` turns exactly
those markers into ANSI colours, or drops them when the stream is not a terminal. Tables drawn
with rich receive plain ``Text`` cells, never markup. ``--json`` output is JSON, whose escaping
already covers C0; the remaining controls (DEL, C1, bidi overrides) are written as ``\\uXXXX``,
which is the same JSON value.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_ANSI = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35",
         "cyan": "36", "bold": "1", "dim": "2"}
_NONCE = os.urandom(6).hex()
_MARK = re.compile(f"\ue000{_NONCE}([0-9;]+)\ue001")
_RESET = f"\ue000{_NONCE}0\ue001"
# C0 (with ESC, BEL, BS, CR, LF, TAB), DEL, C1 (with CSI and OSC), and the bidi controls
# that can make a terminal show text in another order than it is stored.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100
                                else f"\\u{ord(char):04x}")


def escape(text: str, *, keep: str = "") -> str:
    """``text`` with every control character written as a visible escape (``\\x1b``,
    ``\\n``, ``\\u202e``); characters in ``keep`` (e.g. ``"\\n"``) stay as they are."""
    if keep:
        return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape_char(m), text)
    return _CONTROL.sub(_escape_char, text)


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def use_color(stream: Any) -> bool:
    """Colours on a terminal, unless $NO_COLOR; always with $FORCE_COLOR."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return _isatty(stream)


def paint(text: str, *styles: str | None) -> str:
    """``text`` marked for colours; :func:`render` shows them when the line is written to a
    terminal."""
    codes = [_ANSI[s] for s in styles if s]
    if not codes:
        return text
    return f"\ue000{_NONCE}{';'.join(codes)}\ue001{text}{_RESET}"


def render(text: str, color: bool) -> str:
    """A line ready for the terminal: stored data escaped, colour markers turned into ANSI
    codes (``color``) or removed."""
    pieces = _MARK.split(text)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.append(escape(piece))
        elif color:
            out.append(f"\x1b[{piece}m")
    return "".join(out)


def plain(text: str) -> str:
    """``text`` escaped, without colours (table cells, titles)."""
    return render(text, False)


def echo(text: str = "") -> None:
    """Write one line to standard output (escaped; coloured on a terminal)."""
    sys.stdout.write(render(text, use_color(sys.stdout)) + "\n")


def err(text: str, style: str | None = None) -> None:
    """Write one line to standard error (escaped; coloured on a terminal)."""
    sys.stderr.write(render(paint(text, style), use_color(sys.stderr)) + "\n")


def write_data(data: bytes) -> None:
    """Raw bytes (a kv value, an export to ``-``): as they are into a pipe or file; on a
    terminal, decoded and escaped (line breaks and tabs kept) so they cannot drive it."""
    if _isatty(sys.stdout):
        sys.stdout.write(escape(data.decode("utf-8", "backslashreplace"), keep="\n\t"))
        sys.stdout.flush()
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def json_text(data: Any, *, indent: bool = True) -> str:
    """``data`` as JSON text (values with ``to_dict`` and bytes included), with DEL, C1 and
    bidi controls written as ``\\uXXXX`` escapes (still the same JSON)."""
    import orjson

    def default(value: Any) -> Any:
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_dict()
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, set | frozenset | tuple):
            return list(value)
        return str(value)

    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    text = orjson.dumps(data, default=default, option=option).decode()
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit_json(data: Any, *, indent: bool = True) -> None:
    sys.stdout.write(json_text(data, indent=indent) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
          title: str | None = None, styles: Sequence[str | None] | None = None) -> None:
    """A table: drawn with rich on a terminal, plain aligned columns otherwise (pipes).
    Cells are escaped and given to rich as plain text, never as markup."""
    cells = [[plain("" if c is None else str(c)) for c in row] for row in rows]
    if use_color(sys.stdout):
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
        grid = Table(title=Text(plain(title)) if title else None, show_edge=False,
                     header_style="bold")
        for i, name in enumerate(headers):
            grid.add_column(Text(plain(name)), style=(styles[i] if styles else None) or None,
                            overflow="fold")
        for row in cells:
            grid.add_row(*(Text(c) for c in row))
        Console(emoji=False, markup=False, highlight=False).print(grid)
        return
    if title:
        echo(title)
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback drawing rich bars on a terminal's stderr; None when not a
    terminal (or when disabled), so scripts and pipes stay quiet."""
    if not enabled or not use_color(sys.stderr):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), TextColumn(
            "{task.completed:>7}/{task.total:<7}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True) as bar:
        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))
        yield update
