"""``sesstail ls --local`` as a table: id, title (the first prompt), project, last write, size.

The rows are ``sesstail.local.sessions.list_local_sessions`` dicts. Titles come from files
other programs wrote (prompts pasted from anywhere): cleaned, one line, never markup.
"""

from __future__ import annotations

import os
from typing import Any, TextIO

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from sesstail.render.sanitize import clean
from sesstail.render.sessions_table import ago


def size_text(size: Any) -> str:
    """Bytes as ``812 B``, ``4.2 kB``, ``13 MB``; "" when not a size."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return ""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            if unit == "B":
                return f"{size} B"
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1000
    return ""


def _home_short(path: Any) -> str:
    if not isinstance(path, str):
        return ""
    home = os.path.expanduser("~")
    if home not in ("", "/", "~") and (path == home or path.startswith(home + "/")):
        return "~" + path[len(home) :]
    return path


def _text(value: Any, style: Style | str = "") -> Text:
    return Text(clean(value).replace("\n", " ") if isinstance(value, str) else "", style)


def render_local_sessions(
    sessions: list[dict[str, Any]], out: TextIO, *, color: bool, now: float | None = None
) -> None:
    """Draw the table on ``out``. The id is never cut (it is what people copy); a long
    project path loses its left end, so the project's own name stays."""
    tty = _is_tty(out)
    common: dict[str, Any] = {
        "file": out,
        "highlight": False,
        "markup": False,
        "emoji": False,
        # Not a terminal: wide enough not to cut ids (rich honours a width only with a height).
        "width": None if tty else 200,
        "height": None if tty else 25,
    }
    if not color:
        console = Console(color_system=None, no_color=True, **common)
    else:
        console = Console(force_terminal=True, color_system="auto", **common)
        if console.color_system is None:  # TERM=dumb, yet colour was asked for
            console = Console(force_terminal=True, color_system="standard", **common)
    table = Table(box=None, pad_edge=False, header_style=Style(bold=True))
    table.add_column("ID", no_wrap=True, min_width=36)
    table.add_column("TITLE", overflow="ellipsis", no_wrap=True, max_width=60)
    table.add_column("PROJECT", overflow="ellipsis", no_wrap=True, max_width=40)
    table.add_column("UPDATED", no_wrap=True, justify="right")
    table.add_column("SIZE", no_wrap=True, justify="right")
    for item in sessions:
        project = _home_short(item.get("project"))
        if len(project) > 40:
            project = "…" + project[-39:]
        table.add_row(
            _text(item.get("id")),
            _text(item.get("title")),
            _text(project, Style(dim=True)),
            Text(ago(item.get("updated_at"), now), Style(dim=True)),
            Text(size_text(item.get("size")), Style(dim=True)),
        )
    console.print(table)


def _is_tty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
