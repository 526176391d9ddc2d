"""Pictures of control answers: the MCP servers as a table, the context window as a bar chart.

Everything in an answer comes from the session's machine: it enters rich only as cleaned
``Text``, never as markup.
"""

from __future__ import annotations

import math
from typing import Any, TextIO

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.style import Style
from rich.table import Table
from rich.text import Text

from sesstail.render.sanitize import clean

BAR_WIDTH = 40
MIN_BAR_WIDTH = 8
_STATUS_STYLES = {
    "connected": Style(color="green", bold=True),
    "failed": Style(color="red", bold=True),
    "needs-auth": Style(color="dark_orange3", bold=True),
    "pending": Style(color="dark_orange3"),
    "disabled": Style(dim=True),
}
# Claude Code names its context categories with colour names; anything else cycles these.
# No yellow or white: they fade on a light background.
_PALETTE = (
    "cyan",
    "magenta",
    "blue",
    "green",
    "dark_orange3",
    "bright_red",
    "bright_cyan",
    "grey50",
)
_NAMED_COLORS = {
    "promptBorder": "bright_black",
    "inactive": "bright_black",
    "claude": "bright_red",
    "permission": "blue",
    "warning": "dark_orange3",
    "success": "green",
    "error": "red",
}


def _text(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else "" if value is None else str(value)
    text = text.replace("\n", " ")
    return clean(text if len(text) <= limit else text[: limit - 1] + "…")


def _number(value: Any) -> float | None:
    """A finite number, or None: remote numbers may be NaN, infinite or 400 digits long."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            return None
        if math.isfinite(number):
            return number
    return None


def _count(value: float) -> str:
    """A token count as people read it: grouped digits, or 1.2e+308 beyond a quadrillion."""
    if abs(value) >= 1e15:
        return f"{value:.3g}"
    return f"{int(value):,}"


def _ratio(part: float, whole: float) -> float | None:
    """``part / whole`` when it is a finite number (1e308 / 1e-308 is not)."""
    if whole <= 0:
        return None
    ratio = part / whole
    return ratio if math.isfinite(ratio) else None


def mcp_table(response: dict[str, Any]) -> RenderableType:
    """``mcp_status``: one row per server, its state coloured."""
    servers = response.get("mcpServers")
    if not isinstance(servers, list) or not servers:
        return Text("no MCP servers", Style(dim=True))
    return _McpTable(servers)


class _McpTable:
    """The MCP servers as a table fitted to the width it is given: a detail wraps between
    words and is as wide as its longest word (a host:port, a URL), so that none is split;
    where that leaves too little room, the version column goes first."""

    def __init__(self, servers: list[Any]) -> None:
        self._servers = servers
        self._rows: list[tuple[Text, ...]] = []
        for server in servers:
            if not isinstance(server, dict):
                continue
            status = _text(server.get("status"), 30) or "?"
            info = server.get("serverInfo")
            version = ""
            if isinstance(info, dict):
                version = " ".join(
                    _text(info.get(k), 40) for k in ("name", "version") if info.get(k)
                )
            tools = server.get("tools")
            count = str(len(tools)) if isinstance(tools, list) else ""
            detail = _text(server.get("error"), 200)
            scope = _text(server.get("scope"), 30)
            if scope and not detail:
                detail = f"scope {scope}"
            self._rows.append(
                (
                    Text(_text(server.get("name"), 60) or "?"),
                    Text(status, _STATUS_STYLES.get(status, Style(color="dark_orange3"))),
                    Text(version, Style(dim=True)),
                    Text(count),
                    Text(detail, Style(color="red") if server.get("error") else Style(dim=True)),
                )
            )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self._rows
        longest = min(
            max([len(word) for row in rows for word in row[4].plain.split()], default=0), 40
        )

        def column(index: int, heading: str) -> int:
            return max([len(heading), *(row[index].cell_len for row in rows)])

        # Each column is set off by three blanks (the head's box); the version needs a few
        # cells to say anything.
        fixed = column(0, "server") + column(1, "status") + column(3, "tools") + 3 * 3
        with_version = fixed + min(column(2, "version"), 12) + 3 + longest
        keep_version = with_version <= options.max_width
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("server", style=Style(bold=True), no_wrap=True)
        table.add_column("status", no_wrap=True)
        if keep_version:
            table.add_column("version", overflow="ellipsis", no_wrap=True)
        table.add_column("tools", justify="right", no_wrap=True)
        table.add_column("detail", overflow="fold", min_width=longest or None)
        for row in rows:
            table.add_row(*(row if keep_version else (*row[:2], *row[3:])))
        connected = sum(
            1 for s in self._servers if isinstance(s, dict) and s.get("status") == "connected"
        )
        yield table
        yield Text(f"{connected} of {len(self._servers)} connected", Style(dim=True))


def _bar(tokens: float, scale: float, style: Style, width: int = BAR_WIDTH) -> Text:
    """A horizontal bar ``width`` cells long, in eighths of a cell, ``tokens`` out of ``scale``."""
    ratio = _ratio(tokens, scale)
    ratio = 1.0 if ratio is None and tokens > 0 and scale > 0 else max(0.0, min(1.0, ratio or 0.0))
    eighths = round(width * 8 * ratio)
    full, rest = divmod(eighths, 8)
    bar = "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])
    if tokens > 0 and not bar:
        bar = "▏"
    return Text(bar.ljust(width), style)


def context_chart(response: dict[str, Any]) -> RenderableType:
    """``get_context_usage``: each category as a bar against the context window, and totals."""
    return _ContextChart(response)


class _ContextChart:
    """The chart drawn at the width it is given: on a narrow terminal the bars shrink first,
    so the token counts and shares are never cut."""

    def __init__(self, response: dict[str, Any]) -> None:
        self._response = response

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        response = self._response
        total = _number(response.get("totalTokens")) or 0.0
        maximum = _number(response.get("maxTokens")) or 0.0
        percentage = _number(response.get("percentage"))
        if percentage is None:
            ratio = _ratio(total, maximum)
            percentage = None if ratio is None else 100 * ratio
        model = _text(response.get("model"), 60)
        header = Text("context ", Style(bold=True))
        if model:
            header.append(model, Style(bold=True))
        header.append(f"  {_count(total)} / {_count(maximum)} tokens", Style())
        if percentage is not None:
            pct_style = Style(color="red", bold=True) if percentage >= 80 else Style(bold=True)
            header.append(f"  ({percentage:.0f}%)", pct_style)
        scale = maximum or total
        rows: list[tuple[Text, float, Style, Text, str]] = []
        categories = response.get("categories")
        for number, category in enumerate(categories if isinstance(categories, list) else []):
            if not isinstance(category, dict):
                continue
            tokens = _number(category.get("tokens")) or 0.0
            color = category.get("color")
            color_name = _NAMED_COLORS.get(color, "") if isinstance(color, str) else ""
            style = Style(color=color_name or _PALETTE[number % len(_PALETTE)])
            name = _text(category.get("name"), 40) or "?"
            if name.lower().startswith("free"):
                style = Style(dim=True)
            ratio = _ratio(tokens, scale)
            share = "" if ratio is None else f"{100 * ratio:.1f}%"
            rows.append((Text(name), tokens, style, Text(_count(tokens)), share))
        # The columns other than the bar, and the gaps between the four columns.
        others = max([r[0].cell_len for r in rows], default=0) + 6
        others += max([r[3].cell_len for r in rows], default=0)
        others += max([len(r[4]) for r in rows], default=0)
        width = max(MIN_BAR_WIDTH, min(BAR_WIDTH, options.max_width - max(others, 6)))
        whole = Text("", no_wrap=True)
        whole.append(_bar(total, scale, Style(color="bright_red", bold=True), width))
        whole.append("  used")
        table = Table(box=None, show_header=False, pad_edge=False, show_edge=False)
        table.add_column("category", no_wrap=True, overflow="ellipsis")
        table.add_column("bar", no_wrap=True)
        table.add_column("tokens", justify="right", no_wrap=True)
        table.add_column("share", justify="right", no_wrap=True)
        for label, tokens, style, count, share in rows:
            table.add_row(label, _bar(tokens, scale, style, width), count, share)
        yield Group(header, whole, Text(""), table)


def print_picture(picture: RenderableType, file: TextIO, *, color: bool) -> None:
    """Draw one picture on ``file`` (a terminal's width, or 100 columns when piped)."""
    common: dict[str, Any] = {"file": file, "highlight": False, "markup": False, "emoji": False}
    if color:
        console = Console(force_terminal=True, **common)
    else:
        width = None if getattr(file, "isatty", lambda: False)() else 100
        console = Console(color_system=None, no_color=True, width=width, **common)
    console.print(picture)
