"""Markdown: assistant prose drawn as Markdown when it uses some, fast and bounded.

Remote text enters rich only cleaned; Markdown decodes entities, so the layout cleans the
drawn segments once more. No pattern here is super-linear on any input (issue 8, item 9).
"""

from __future__ import annotations

import io
import re
from typing import ClassVar

from markdown_it import MarkdownIt
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markdown import Markdown, MarkdownElement, Paragraph
from rich.segment import Segment
from rich.text import Text

from sesstail.render.pretty.layout import plain_text_lines, rstrip_line
from sesstail.render.pretty.text import PROSE_CHARS
from sesstail.render.sanitize import clean

# Worth the cost of a Markdown parse only if the text uses some Markdown. Linear on any text:
# every repeated part stops at the character that could start the next try (a backtick, a
# bracket, a line end), so no position is scanned twice, whatever a remote machine sends.
_MARKDOWN_HINT = re.compile(
    r"```|`[^`\n]+`|\*\*|\*[^*\s]|__|\[[^\[\]\n]*\]\("
    r"|^[ \t]{0,3}(?:#{1,6}\s|[-*+]\s|\d{1,9}[.)]\s|>|\|)",
    re.MULTILINE,
)
# markdown-it is linear but slow (~10 µs a list item, ~15 µs a bracket): a very long text, or
# one dense with markup characters, is shown as plain text rather than hold the terminal.
MARKDOWN_CHARS = 40_000
MARKDOWN_MARKS = 4_000


def prose(text: str) -> RenderableType:
    """Assistant text: Markdown when it uses any, plain text otherwise (a parse is costly)."""
    if len(text) > PROSE_CHARS:
        text = text[:PROSE_CHARS] + "\n…"
    text = clean(text)
    if (
        len(text) <= MARKDOWN_CHARS
        and _MARKDOWN_HINT.search(text)
        and _markup_marks(text) <= MARKDOWN_MARKS
    ):
        return _markdown(text)
    return Text(text)


def _markup_marks(text: str) -> int:
    return sum(text.count(mark) for mark in "[*`<_!&|#>")


class _MarkdownFactory:
    """``Markdown(text, hyperlinks=False)``, with one markdown-it parser for all texts.

    Rich's ``Markdown`` builds a new parser, with all its rule chains, for every text: that
    cost more than the parse itself (~130 of ~210 µs). Here each Markdown is a copy of one
    that rich made, with its own parse by a parser set up as rich sets up its own, and with
    :class:`_Paragraph` for paragraphs if a probe draws the same with it. Should rich's
    Markdown ever change shape or parse differently, every text gets a plain ``Markdown``.
    """

    _FIELDS = frozenset(
        {"markup", "parsed", "code_theme", "justify", "style", "hyperlinks"}
        | {"inline_code_lexer", "inline_code_theme"}
    )
    _PROBE = (
        "# a\n\n~~b~~ *c* **d** `e` [f](g)\n\n| h |\n|---|\n| i |\n\n- j\n1. k\n> l\n\n"
        "  A paragraph of words, `code spans` and **bold words** long enough to wrap at "
        "any of the widths tried, with a_word_that_is_longer_than_sixteen_characters.\n\n"
        "- an item long enough to wrap, with `code` at the end of a line: `x` `y` `z` `w`\n"
        "- é and 漢字 and\ta tab, then another long line that will have to wrap somewhere\n"
    )

    def __init__(self) -> None:
        self._ready = False
        self._template: Markdown | None = None
        self._parser: MarkdownIt | None = None
        self._class: type[Markdown] = Markdown

    def __call__(self, text: str) -> Markdown:
        if not self._ready:
            self._prepare()
        template, parser = self._template, self._parser
        if template is None or parser is None:
            return Markdown(text, hyperlinks=False)
        markdown = Markdown.__new__(self._class)
        markdown.__dict__.update(template.__dict__)
        markdown.markup = text
        markdown.parsed = parser.parse(text)
        return markdown

    def _prepare(self) -> None:
        self._ready = True
        try:
            template = Markdown(self._PROBE, hyperlinks=False)
            parser = MarkdownIt().enable("strikethrough").enable("table")
            expected = [token.as_dict() for token in template.parsed]
            if set(vars(template)) == self._FIELDS and expected == [
                token.as_dict() for token in parser.parse(self._PROBE)
            ]:
                self._template, self._parser = template, parser
                if _same_drawing(template, _copy_as(template, _Markdown)):
                    self._class = _Markdown
        except Exception:  # any surprise: rich's own Markdown, as before
            self._template = self._parser = None
            self._class = Markdown


class _Paragraph(Paragraph):
    """A Markdown paragraph, word-wrapped by :func:`.layout.plain_text_lines`
    when it can be.

    Rich pads the lines of a paragraph to the width with unstyled blanks, which
    :func:`~sesstail.render.pretty.layout.render_frame` strips again; here they are left out.
    """

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        text = self.text
        text.justify = self.justify
        lines = None
        if (
            self.justify == "left"
            and not text.style
            and text.end == "\n"
            and text.overflow is None
            and options.overflow is None
            and not text.no_wrap
            and not options.no_wrap
            and not text.plain.endswith("\n")
        ):
            lines = plain_text_lines(console, text, options.max_width, unpadded=True)
        if lines is None:
            yield text
            return
        newline = Segment.line()
        for line in lines:
            yield from line
            yield newline


class _Markdown(Markdown):
    """Rich's Markdown with faster paragraphs."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "paragraph_open": _Paragraph,
    }


def _copy_as(markdown: Markdown, cls: type[Markdown]) -> Markdown:
    copy = Markdown.__new__(cls)
    copy.__dict__.update(markdown.__dict__)
    return copy


def _same_drawing(first: Markdown, second: Markdown) -> bool:
    """Whether two Markdowns draw the same, as :func:`.layout.render_frame` shows them."""
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system="truecolor")
    for width in (100, 37, 16):
        options = console.options.update_width(width)
        drawings = [
            [rstrip_line(line) for line in console.render_lines(markdown, options, pad=False)]
            for markdown in (first, second)
        ]
        if drawings[0] != drawings[1]:
            return False
    return True


_markdown = _MarkdownFactory()


class Trimmed:
    """A Markdown without the blank lines rich draws before a list or table and after the
    last block: for a Markdown inside a banner, where the frame's own trimming cannot reach."""

    __slots__ = ("_markdown",)

    def __init__(self, markdown: Markdown) -> None:
        self._markdown = markdown

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = [rstrip_line(line) for line in console.render_lines(self._markdown, options)]
        while lines and not lines[-1]:
            lines.pop()
        start = 0
        while start < len(lines) and not lines[start]:
            start += 1
        newline = Segment.line()
        for line in lines[start:]:
            yield from line
            yield newline
