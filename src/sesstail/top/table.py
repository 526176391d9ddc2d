"""The session rows of ``top``: a Line API widget that draws each row as one line.

Textual's ``DataTable`` renders every visible cell through rich (a ``Padding`` per cell) each
time any cell changes; with 50 sessions talking at once that was ~60 ms a frame here. This
widget keeps one ``Strip`` per row, rebuilt only when that row's cells change, and redraws
only the lines that changed. It knows nothing of sessions: rows are keys and ``Text`` cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cells = tuple[Text, ...]
_GAP = 2  # spaces between columns


class SessionTable(ScrollView, can_focus=True):
    """Rows of cells under fixed-width columns (a width of 0: the rest of the line)."""

    DEFAULT_CSS = """
    SessionTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "up", show=False),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("k", "cursor(-1)", "up", show=False),
        Binding("j", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "cursor(-1000000)", show=False),
        Binding("end", "cursor(1000000)", show=False),
        Binding("enter", "choose", "watch", show=False),
    ]
    cursor = reactive(0)

    class Chosen(Message):
        """Enter (or a click) on a row."""

        def __init__(self, table: SessionTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> SessionTable:
            return self.table

    def __init__(self, columns: Sequence[tuple[str, int]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.keys: list[str] = []
        self._cells: dict[str, Cells] = {}
        self._strips: dict[tuple[str, bool, int], Strip] = {}
        self.lines_rendered = 0  # rows drawn afresh (not from the cache), for the benchmark

    # -- content ------------------------------------------------------------------------

    def header(self) -> Text:
        """The column titles laid out as the rows are (for a header line above)."""
        return self._layout(tuple(Text(name, style="bold") for name, _ in self.columns))

    def set_rows(self, rows: Sequence[tuple[str, Cells]]) -> None:
        """Replace every row (the order changed); the cursor stays on its key if it can."""
        selected = self.selected
        self.keys = [key for key, _ in rows]
        self._cells = dict(rows)
        self._strips.clear()
        self.virtual_size = Size(self.size.width, len(self.keys))
        if selected in self._cells:
            self.cursor = self.keys.index(selected)
        else:
            self.cursor = min(self.cursor, max(0, len(self.keys) - 1))
        self.refresh()

    def update_row(self, key: str, cells: Cells) -> None:
        if self._cells.get(key) == cells:
            return
        self._cells[key] = cells
        for cursor in (False, True):
            self._strips.pop((key, cursor, self.size.width), None)
        self.refresh_line(self.keys.index(key))

    def cells_of(self, key: str) -> Cells:
        return self._cells[key]

    @property
    def selected(self) -> str | None:
        if 0 <= self.cursor < len(self.keys):
            return self.keys[self.cursor]
        return None

    def select(self, key: str) -> None:
        if key in self._cells:
            self.cursor = self.keys.index(key)

    # -- drawing ------------------------------------------------------------------------

    def _widths(self, width: int) -> list[int]:
        fixed = sum(w for _, w in self.columns) + _GAP * (len(self.columns) - 1) + 1
        rest = max(10, width - fixed)
        return [w or rest for _, w in self.columns]

    def _layout(self, cells: Cells, width: int | None = None) -> Text:
        line = Text(" ", no_wrap=True, end="")
        for index, (cell, cell_width) in enumerate(
            zip(cells, self._widths(width or self.size.width), strict=False)
        ):
            if index:
                line.append(" " * _GAP)
            piece = cell.copy()
            piece.truncate(cell_width, overflow="ellipsis", pad=True)
            line.append_text(piece)
        return line

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = y + self.scroll_offset.y
        if index >= len(self.keys):
            return Strip.blank(width, self.rich_style)
        key = self.keys[index]
        is_cursor = index == self.cursor and self.has_focus
        cache_key = (key, is_cursor, width)
        strip = self._strips.get(cache_key)
        if strip is None:
            self.lines_rendered += 1
            text = self._layout(self._cells[key], width)
            segments = list(text.render(self.app.console))
            segments = [s for s in segments if s.text != "\n"]
            strip = Strip(segments).adjust_cell_length(width)
            if is_cursor:
                strip = strip.apply_style(Style(reverse=True))
            strip = strip.apply_style(self.rich_style)
            self._strips[cache_key] = strip
        return strip

    def on_resize(self) -> None:
        self._strips.clear()
        self.virtual_size = Size(self.size.width, len(self.keys))

    def watch_cursor(self, old: int, new: int) -> None:
        for index in (old, new):
            if 0 <= index < len(self.keys):
                self.refresh_line(index)
        if 0 <= new < len(self.keys):
            self.scroll_to(y=self._scroll_for(new), animate=False)

    def _scroll_for(self, index: int) -> float:
        top = self.scroll_offset.y
        height = max(1, self.size.height)
        if index < top:
            return index
        if index >= top + height:
            return index - height + 1
        return top

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    # -- keys and mouse -----------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        if self.keys:
            self.cursor = max(0, min(len(self.keys) - 1, self.cursor + step))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 1))

    def action_choose(self) -> None:
        key = self.selected
        if key is not None:
            self.post_message(self.Chosen(self, key))

    def on_click(self, event: Click) -> None:
        index = event.y + self.scroll_offset.y
        if 0 <= index < len(self.keys):
            if index == self.cursor and event.chain >= 2:
                self.action_choose()
            self.cursor = index
