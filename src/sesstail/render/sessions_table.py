"""``sesstail ls`` as a table: id, title, status (coloured), model, last update."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console
from rich.style import Style
from rich.table import Table
from rich.text import Text

from sesstail.render.sanitize import clean

_STATUS_STYLES = {
    # Black on yellow, as the permission banner's title: reverse video would draw the
    # theme's background colour (white, on a light theme) on yellow.
    "requires_action": Style(color="grey0", bgcolor="yellow", bold=True),
    "running": Style(color="green", bold=True),
    "idle": Style(),
    "archived": Style(dim=True),
}


# The times an update time can plausibly be: 1970 to 9999, as the ISO dates go.
_EPOCHS = (0.0, 253_402_300_799.0)


def ago(when: Any, now: float | None = None) -> str:
    """An ISO 8601 time (or epoch seconds) as "3 min ago"; "" when it cannot be read."""
    # Remote numbers are untrusted too: -Infinity, NaN, a 400-digit integer or a year 1 date
    # read as "" rather than raise, and so does any number outside the years 1970–9999.
    try:
        if isinstance(when, int | float) and not isinstance(when, bool):
            epoch = float(when)
        elif isinstance(when, str):
            epoch = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        else:
            return ""
    except (ValueError, OverflowError, OSError):
        return ""
    if not _EPOCHS[0] <= epoch <= _EPOCHS[1]:  # -1e308: "3170979… (300 digits) y ago"
        return ""
    seconds = (time.time() if now is None else now) - epoch
    if not math.isfinite(seconds):
        return ""
    if seconds < 0:
        return "just now" if seconds > -60 else ""
    if seconds < 60:
        return "just now"
    for size, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def _text(value: Any, style: Style | str = "") -> Text:
    return Text(clean(value).replace("\n", " ") if isinstance(value, str) else "", style)


def _cut(text: Text) -> Text:
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def render_sessions(
    sessions: list[dict[str, Any]], out: TextIO, *, color: bool, now: float | None = None
) -> None:
    """Draw the table on ``out``; remote text is cleaned and never parsed as markup."""
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
    # The id is what people copy and the status what they look for: on a narrow terminal the
    # title and the model give way, never those two.
    ids = [_text(item.get("id")) for item in sessions]
    statuses = [_text(item.get("session_status")) for item in sessions]
    table = Table(box=None, pad_edge=False, header_style=Style(bold=True))
    table.add_column("ID", no_wrap=True, min_width=max([t.cell_len for t in ids], default=2))
    # Wrappable columns are the ones rich shrinks; their cells are cut, not wrapped.
    table.add_column("TITLE", overflow="ellipsis", max_width=60)
    table.add_column(
        "STATUS", no_wrap=True, min_width=max([t.cell_len for t in statuses], default=6)
    )
    table.add_column("MODEL", overflow="ellipsis", max_width=30)
    table.add_column("UPDATED", no_wrap=True, justify="right")
    for item, id_text in zip(sessions, ids, strict=True):
        status = item.get("session_status")
        context = item.get("session_context")
        model = context.get("model") if isinstance(context, dict) else None
        table.add_row(
            id_text,
            _cut(_text(item.get("title"))),
            _text(status, _STATUS_STYLES.get(status if isinstance(status, str) else "", "")),
            _cut(_text(model, Style(dim=True))),
            Text(ago(item.get("updated_at"), now), Style(dim=True)),
        )
    console.print(table)


def _is_tty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
