"""Layout: a message's rows drawn as terminal lines behind a lead, and fast word wrap.

Each message becomes one frame: rows of rich renderables, each behind its own indent, all
behind a common lead (session label, receive time, sub-agent gutters). The frame is rendered
to segments in full before anything is written, so a message that fails half-way never leaves
half a line; whatever the renderers produce passes through
:func:`~sesstail.render.sanitize.clean` once more at the segment level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, TextIO

from rich.cells import cell_len
from rich.color import ColorSystem
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from sesstail.render.sanitize import clean, is_clean


class Fitted:
    """A body that draws itself as a ``Text`` once it knows its width (a path cut on the left)."""

    def fit(self, width: int) -> Text:
        raise NotImplementedError


class Hanging(Fitted):
    """Lines each behind a lead (a diff's ``- ``, a checklist's ``☑ ``); a line too long for
    the width wraps with its continuation under its own text, not under the lead, so that a
    wrapped diff line cannot pass for an unchanged one. Usable as a row's body and inside a
    banner alike."""

    __slots__ = ("_lines",)

    def __init__(self, lines: Sequence[tuple[str, Style | None, str, Style | None]]) -> None:
        # (lead, lead style, text, text style); both already cleaned.
        self._lines = lines

    def fit(self, width: int) -> Text:
        lines = self._lines
        style = lines[0][3] if lines else None
        if all(
            lead_style == style == line_style and cell_len(lead) + cell_len(line) <= width
            for lead, lead_style, line, line_style in lines
        ):
            # The usual case (a diff's side, all of it fits): one text of one style, which
            # the frame draws without laying out spans.
            return Text("\n".join([lead + line for lead, _, line, _ in lines]), style=style or "")
        out = Text()
        for number, (lead, lead_style, line, style) in enumerate(self._lines):
            if number:
                out.append("\n")
            lead_width = cell_len(lead)
            if lead_width + cell_len(line) <= width:
                if lead_style == style:  # one span: the same codes as a plain line
                    out.append(lead + line, style)
                else:
                    out.append(lead, lead_style)
                    out.append(line, style)
                continue
            out.append(lead, lead_style)
            room = max(width - lead_width, 8)
            for part, piece in enumerate(Text(line, style or "").wrap(_wrap_console(), room)):
                if part:
                    out.append("\n" + " " * lead_width, lead_style)
                out.append_text(piece)
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.fit(options.max_width)


@cache
def _wrap_console() -> Console:
    """The console ``Text.wrap`` asks for; a left-justified wrap never draws on it."""
    return Console(color_system=None, width=80, highlight=False, markup=False, emoji=False)


# One row of a frame: indent of its first line, indent of the others, their style, the body.
Row = tuple[str, str, Style | None, "RenderableType | Fitted"]


def render_frame(
    console: Console,
    options: ConsoleOptions,
    rows: list[Row],
    lead_first: list[Segment],
    lead_rest: list[Segment],
) -> list[Segment]:
    """One message as segments, every line behind the lead and its row's indent."""
    lead_width = sum(cell_len(segment.text) for segment in lead_first)
    newline = Segment.line()
    out: list[Segment] = []
    lead = lead_first
    for first, rest, indent_style, body in rows:
        indent_width = max(cell_len(first), cell_len(rest))
        width = max(options.max_width - lead_width - indent_width, 16)
        drawn = body.fit(width) if isinstance(body, Fitted) else body
        lines = plain_text_lines(console, drawn, width) if type(drawn) is Text else None
        if lines is None:
            lines = console.render_lines(drawn, options.update_width(width), pad=False)
        if isinstance(drawn, Markdown):
            # Rich opens a list or a table with a blank line, and closes every block with
            # one: under a "● Claude" or a call line, neither is wanted.
            while lines and not "".join(segment.text for segment in lines[-1]).strip():
                lines.pop()
            blank = 0
            while blank < len(lines) and not "".join(s.text for s in lines[blank]).strip():
                blank += 1
            del lines[:blank]
        for number, raw_line in enumerate(lines):
            # Word wrap leaves a space at the end of a line, Markdown pads to the width.
            line = rstrip_line(raw_line)
            out.extend(lead)
            lead = lead_rest
            indent = first if number == 0 else rest
            if indent and line:
                out.append(Segment(indent, indent_style))
            for segment in line:
                # A second line of defence: Markdown decodes entities, and rows are built
                # in many places; whatever happens, no control character reaches the terminal.
                if segment.control or is_clean(segment.text):
                    out.append(segment)
                else:
                    out.append(Segment(clean(segment.text), segment.style))
            out.append(newline)
    return out


def plain_text_lines(
    console: Console, text: Text, width: int, *, unpadded: bool = False
) -> list[list[Segment]] | None:
    """The lines of a ``Text`` as rich would lay them out, or None to let rich do it.

    ``render_lines`` costs several times more than this: most rows are short lines or cut
    lines (``no_wrap``), which need no layout, and the rest is printable ASCII, where word
    wrap is simple. ``unpadded``: wrap a left-justified text too, without the blanks with
    which rich pads its lines to the width (the caller strips them).
    """
    plain = text.plain
    if "\t" in plain or text.justify not in (None, "default", "left"):
        return None
    if text.spans or not text.style:
        segments: Iterable[Segment] = text.render(console)
    else:  # Text.render drops the base style of a text without spans
        segments = [Segment(plain, console.get_style(text.style))]
    # Most texts are one line: no need to look for line ends in each segment.
    lines = (list(Segment.split_lines(segments)) or [[]]) if "\n" in plain else [list(segments)]
    # Printable ASCII: a character is a cell, so plain's lines give the lengths.
    lengths = None
    if plain.isascii() and plain.replace("\n", "").isprintable():
        lengths = [len(part) for part in plain.split("\n")]
    wrapped: list[list[Segment]] | None = None
    for number, line in enumerate(lines):
        length = lengths[number] if lengths is not None else Segment.get_line_length(line)
        if length > width:
            if not text.no_wrap:
                if text.overflow not in (None, "fold") or (text.justify == "left" and not unpadded):
                    return None
                if wrapped is None:
                    wrapped = lines[:number]
                pieces = _wrap_ascii_line(line, width)
                if pieces is None:
                    return None
                wrapped.extend(pieces)
                continue
            cut = Segment.adjust_line_length(line, width - 1, pad=False)
            if cut and not cut[-1].control:
                cut[-1] = Segment(cut[-1].text + "…", cut[-1].style)
            else:
                cut.append(Segment("…"))
            lines[number] = cut
        elif wrapped is not None:
            wrapped.append(line)
    if wrapped is None:
        return lines
    if plain.endswith("\n"):  # as Text.wrap draws it: a last, empty line
        wrapped.append([])
    return wrapped


# A word and the blanks after it, as rich's word wrap (rich._wrap) splits a line.
_WORD = re.compile(r"\s*\S+\s*")
_NOT_BLANK = re.compile(r"[^ ]")


def _line_breaks(plain: str, width: int) -> list[int]:
    """Where rich's word wrap breaks ``plain`` (printable ASCII, one line) at ``width``.

    Line by line rather than word by word: the next line starts at the first word whose
    last character lies beyond the width. A word wider than a line (folded) or blanks
    opening the text (part of the first word) take the word-by-word way.
    """
    if plain.startswith(" "):
        return _word_breaks(plain, width)
    breaks: list[int] = []
    start = 0
    length = len(plain)
    while length - start > width:
        limit = start + width
        if plain[limit] == " ":
            match = _NOT_BLANK.search(plain, limit)
            if match is None:
                break
            start = match.start()
        else:
            space = plain.rfind(" ", start, limit)
            if space < 0:
                return _word_breaks(plain, width)
            start = space + 1
        breaks.append(start)
    return breaks


def _word_breaks(plain: str, width: int) -> list[int]:
    """``rich._wrap.divide_line`` for printable ASCII: len() for cell_len(), slices for
    chop_cells()."""
    breaks: list[int] = []
    offset = 0
    # match() at the end of the last word, as rich does it: finditer would retry the
    # pattern at every position of a long run of blanks (quadratic).
    match = _WORD.match(plain)
    while match is not None:
        start, end = match.span()
        word = match.group()
        match = _WORD.match(plain, end)
        word_length = len(word.rstrip())
        if width - offset >= word_length:
            offset += len(word)
        elif word_length > width:
            chunks = [word[index : index + width] for index in range(0, len(word), width)]
            for chunk in chunks[:-1]:
                if start:
                    breaks.append(start)
                start += len(chunk)
            if start:
                breaks.append(start)
            offset = len(chunks[-1])
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def _wrap_ascii_line(line: list[Segment], width: int) -> list[list[Segment]] | None:
    """``line`` word-wrapped at ``width`` exactly as ``Text.wrap`` does it (overflow "fold"),
    or None unless it is printable ASCII, where a character is a cell.

    Rich measures every word with ``cell_len`` and builds a ``Text`` per line; wrapping
    prose and thinking that way is where most of the drawing time went.
    """
    plain = "".join([segment.text for segment in line])
    if not (plain.isascii() and plain.isprintable()):
        return None
    breaks = _line_breaks(plain, width)
    breaks.append(len(plain))
    # Cut the segments at the breaks; a line longer than the width (trailing blanks) is cropped.
    pieces: list[list[Segment]] = []
    piece: list[Segment] = []
    breaks_iter = iter(breaks)
    cut = next(breaks_iter)
    position = 0
    for segment in line:
        text = segment.text
        end = position + len(text)
        start = 0
        while cut < end:
            if cut - position > start:
                piece.append(Segment(text[start : cut - position], segment.style))
            start = cut - position
            pieces.append(piece)
            piece = []
            cut = next(breaks_iter)
        if start < len(text):
            piece.append(Segment(text[start:], segment.style) if start else segment)
        position = end
    pieces.append(piece)
    return [
        Segment.adjust_line_length(piece, width, pad=False)
        if sum([len(segment.text) for segment in piece]) > width
        else piece
        for piece in pieces
    ]


def rstrip_line(line: list[Segment]) -> list[Segment]:
    """``line`` without trailing blanks, unless they carry a background colour."""
    line = list(line)
    while line:
        last = line[-1]
        if last.control or (last.style is not None and last.style.bgcolor is not None):
            break
        text = last.text.rstrip(" ")
        if text:
            line[-1] = Segment(text, last.style)
            break
        line.pop()
    return line


def segments_text(segments: list[Segment], color_system: ColorSystem | None) -> str:
    """What Console.print does once the segments exist, without its per-call overhead:
    styles become ANSI codes (or nothing, without colour)."""
    if color_system is None:
        return "".join([segment.text for segment in segments if not segment.control])
    return "".join(
        [
            segment.style.render(segment.text, color_system=color_system)
            if segment.style
            else segment.text
            for segment in segments
            if not segment.control
        ]
    )


COLOR_SYSTEMS = {
    "standard": ColorSystem.STANDARD,
    "256": ColorSystem.EIGHT_BIT,
    "truecolor": ColorSystem.TRUECOLOR,
    "windows": ColorSystem.WINDOWS,
}


def make_console(file: TextIO, *, color: bool, width: int | None) -> Console:
    common: dict[str, Any] = {
        "file": file,
        "width": width,
        "highlight": False,
        "markup": False,
        "emoji": False,
        "soft_wrap": False,
    }
    if not color:
        return Console(color_system=None, no_color=True, **common)
    console = Console(force_terminal=True, no_color=False, color_system="auto", **common)
    if console.color_system is None:  # e.g. TERM=dumb: colour was asked for, so give some
        console = Console(force_terminal=True, no_color=False, color_system="standard", **common)
    return console
