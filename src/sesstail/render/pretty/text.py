"""Small pieces every family of messages uses: limits, styles, and remote text made safe.

Every helper here that returns text for the screen returns it cleaned
(:func:`~sesstail.render.sanitize.clean`): control characters visible, nothing dropped but
what a limit cuts, and then with a count of what was cut.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import orjson
from rich.style import Style
from rich.text import Text

from sesstail.render.sanitize import clean

# How much of long things to show.
RESULT_LINES = 6
ERROR_HEAD_LINES = 2
ERROR_TAIL_LINES = 4
THINKING_LINES = 10
SUBAGENT_PROMPT_LINES = 6
DIFF_LINES = 6
MULTIEDIT_EDITS = 3
LINE_CHARS = 400
SUMMARY_CHARS = 160
PROSE_CHARS = 100_000
# In a permission prompt what is approved is shown whole; only a file's content written by
# Write or an edit's text longer than this shows its head and tail with a count between.
PROMPT_HEAD_LINES = 30
PROMPT_TAIL_LINES = 10
# Bounded memories, so that a watch of any length keeps a flat footprint.
MAX_CALLS = 4096
MAX_STREAMS = 256

DIM = Style(dim=True)
BOLD = Style(bold=True)
DIM_BOLD = Style(dim=True, bold=True)
TOOL_STYLE = Style(color="cyan", bold=True)
ARROW = Style(color="cyan")
ERROR = Style(color="red")
ERROR_BOLD = Style(color="red", bold=True)
# Dark orange: a warning that reads on a light background as on a dark one (3.8:1 on white,
# 3.9:1 on Monokai's grey); the theme's yellow fades on white. A 16-colour terminal gets
# its theme's own yellow (the nearest it has).
WARN = Style(color="dark_orange3")
WARN_BOLD = Style(color="dark_orange3", bold=True)
OK_BOLD = Style(color="green", bold=True)
# Gutter colours for sub-agents, so that parallel ones are told apart. No yellow or white:
# they fade on a light background (tests/test_render_theme.py).
GUTTER_COLORS = ("magenta", "blue", "green", "cyan", "bright_blue", "bright_magenta")

BLANKS = " \t\n"


class Malformed(Exception):
    """The message does not have the shape its type promises."""


def excerpt(text: str, max_lines: int, *, cut: bool = True) -> tuple[list[str], int]:
    """The first ``max_lines`` lines of ``text``, cleaned (and cut), and how many were left."""
    # Blanks only: str.strip() would also take remote control characters (CR, \x1c-\x1f).
    text = text.rstrip(BLANKS).lstrip("\n")
    if not text:
        return [], 0
    parts = text.split("\n", max_lines)
    hidden = 0
    if len(parts) > max_lines:
        hidden = parts[max_lines].count("\n") + 1
        del parts[max_lines:]
    return [cut_line(part) if cut else clean(part) for part in parts], hidden


def cut_line(line: str) -> str:
    # A CR stays (as a visible escape): cutting at it would hide what it was meant to hide.
    if len(line) > LINE_CHARS:
        line = line[:LINE_CHARS] + "…"
    return clean(line)


def head_and_tail(
    text: str, head: int, tail: int, *, cut: bool = True
) -> tuple[list[str], int, list[str]]:
    """The first ``head`` and last ``tail`` lines of ``text``, and how many lie between."""
    first, hidden = excerpt(text, head + tail, cut=cut)
    if not hidden:
        return first, 0, []
    last = text.rstrip(BLANKS).rsplit("\n", tail)[1:]
    return first[:head], hidden, [cut_line(line) if cut else clean(line) for line in last]


def one_line(text: str, limit: int) -> str:
    """``text`` cleaned, on one line (first line and a mark if more), at most ``limit`` chars."""
    text = text.strip(BLANKS)
    first, newline, _ = text.partition("\n")
    more = bool(newline)
    if len(first) > limit:
        first, more = first[: limit - 1], True
    return clean(first) + (" …" if more else "")


def left_cut(text: str, limit: int) -> str:
    """``text`` on at most ``limit`` cells, cut on the left: a path keeps its file name."""
    if len(text) <= limit:
        return text
    return "…" + text[len(text) - max(limit - 1, 1) :]


def compact_json(value: Any, limit: int | None = None) -> str:
    """``value`` as compact JSON (non-ASCII kept), cleaned; cut to ``limit`` when given."""
    try:
        encoded = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except Exception:
        try:
            encoded = json.dumps(value, default=str, ensure_ascii=False)
        except Exception:
            encoded = repr(value)
    if limit is not None and len(encoded) > limit:
        encoded = encoded[: limit - 1] + "…"
    return clean(encoded)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 line``, ``2 lines``: the count and the word that goes with it."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def more_lines(hidden: int) -> str:
    return f"… {plural(hidden, 'more line')}"


def duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def cost(dollars: float) -> str:
    if dollars >= 1:
        return f"${dollars:,.2f}"
    if dollars >= 0.01 or dollars == 0:
        return f"${dollars:.3f}"
    return f"${dollars:.4f}"


def count(value: float) -> str:
    """A count with grouped digits; beyond a quadrillion as 1.2e+18 rather than 19 digits."""
    if abs(value) >= 1e15:
        return f"{value:.3g}"
    return f"{int(value):,}"


def clock_time(epoch: float, now: float | None = None) -> str:
    """A local time as ``14:00`` when it falls today, else with its day (``Thu 2 Apr 14:00``):
    a weekly limit's reset days away must not read as this afternoon."""
    if epoch > 1e11:  # milliseconds
        epoch /= 1000
    try:
        when = time.localtime(epoch)
        today = time.localtime(time.time() if now is None else now)
        if when[:3] == today[:3]:
            return time.strftime("%H:%M", when)
        return time.strftime(f"%a {when.tm_mday} %b %H:%M", when)
    except (ValueError, OverflowError, OSError):
        return "?"


def parent(obj: dict[str, Any]) -> str:
    value = obj.get("parent_tool_use_id")
    return value if isinstance(value, str) else ""


def string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def field(container: Any, key: str) -> str:
    """A string field of a dict that may not be a dict; '' when absent or not a string."""
    if isinstance(container, dict):
        value = container.get(key)
        if isinstance(value, str):
            return value
    return ""


def number(value: Any) -> float | None:
    """A finite number, or None: remote numbers may be NaN, infinite or 400 digits long."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            result = float(value)
        except OverflowError:
            return None
        if math.isfinite(result):
            return result
    return None


def remember(memory: dict[str, Any], key: str, value: Any, limit: int) -> None:
    memory.pop(key, None)
    memory[key] = value
    if len(memory) > limit:
        del memory[next(iter(memory))]


def styled(text: Text, color: str) -> Text:
    text.stylize(Style(color=color, bold=True))
    return text


def one_row(text: str, style: Style | None = None) -> Text:
    return Text(clean(text), style or "", no_wrap=True, overflow="ellipsis")


def strip_sgr(text: str) -> str:
    """``text`` without SGR colour sequences (``ESC [ … m``), which tool output often holds.

    Only SGR goes: any other escape sequence stays, to be shown as a visible escape. One pass
    over the text, whatever it holds.
    """
    if "\x1b[" not in text:
        return text
    parts = text.split("\x1b[")
    out = [parts[0]]
    for part in parts[1:]:
        end = 0
        while end < len(part) and part[end] in "0123456789;:":
            end += 1
        if end < len(part) and part[end] == "m":
            out.append(part[end + 1 :])
        else:
            out.append("\x1b[" + part)
    return "".join(out)


def drop_tagged(text: str, tag: str) -> tuple[str, int]:
    """``text`` without its ``<tag>…</tag>`` blocks, and how many there were (one pass)."""
    opening, closing = f"<{tag}>", f"</{tag}>"
    if opening not in text:
        return text, 0
    out: list[str] = []
    position = 0
    dropped = 0
    while True:
        start = text.find(opening, position)
        if start < 0:
            break
        end = text.find(closing, start + len(opening))
        if end < 0:
            break
        out.append(text[position:start])
        position = end + len(closing)
        dropped += 1
    out.append(text[position:])
    return "".join(out), dropped


def tagged(text: str, tag: str) -> str | None:
    """What ``<tag>…</tag>`` holds in ``text``, or None when it holds no such tag."""
    opening, closing = f"<{tag}>", f"</{tag}>"
    start = text.find(opening)
    if start < 0:
        return None
    end = text.find(closing, start + len(opening))
    if end < 0:
        return None
    return text[start + len(opening) : end]
