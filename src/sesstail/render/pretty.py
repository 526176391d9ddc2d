"""The human renderer: a session drawn as a readable conversation.

Each message becomes one frame: rows of rich renderables, each behind its own indent, all behind
a common lead (session label, receive time, sub-agent gutter). The frame is rendered to segments
in full before anything is written, so a message that fails half-way never leaves half a line;
any exception while drawing falls back to one compact line, and whatever the renderers produce
passes through :func:`~sesstail.render.sanitize.clean` once more at the segment level.

Remote text only ever enters rich as ``Text`` (never as a markup string) or, for assistant prose
that looks like Markdown, as cleaned Markdown source.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TextIO

import orjson
from markdown_it import MarkdownIt
from rich import box
from rich.cells import cell_len
from rich.color import ColorSystem
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown, MarkdownElement, Paragraph
from rich.panel import Panel
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from sesstail.protocol import Message
from sesstail.render.sanitize import clean, is_clean

# How much of long things to show.
RESULT_LINES = 6
ERROR_HEAD_LINES = 2
ERROR_TAIL_LINES = 4
THINKING_LINES = 10
PROMPT_LINES = 40
SUBAGENT_PROMPT_LINES = 6
DIFF_LINES = 6
MULTIEDIT_EDITS = 3
LINE_CHARS = 400
SUMMARY_CHARS = 160
PROSE_CHARS = 100_000
# Bounded memories, so that a watch of any length keeps a flat footprint.
MAX_CALLS = 4096
MAX_STREAMS = 256

_DIM = Style(dim=True)
_BOLD = Style(bold=True)
_TOOL_STYLE = Style(color="cyan", bold=True)
_ARROW = Style(color="cyan")
_GUTTER = Style(color="magenta", dim=True)
_ERROR = Style(color="red")
_WARN = Style(color="yellow")
_LABEL_COLORS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")

# Key input of the tools people see most; anything else shows its input as compact JSON.
_PATH_TOOLS = {"Read": "file_path", "Write": "file_path", "Edit": "file_path"}
_PATH_TOOLS |= {"MultiEdit": "file_path", "NotebookEdit": "notebook_path"}
_URL_TOOLS = {"WebFetch": "url", "WebSearch": "query"}

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
# Keys left out of the compact one-line summary of unknown messages.
_QUIET_KEYS = frozenset({"type", "subtype", "uuid", "session_id"})
# Messages that do not come between a tool call and its result, as far as the reader can see.
_TRANSPARENT = frozenset({"tool_progress", "stream_event", "keep_alive"})

_COLOR_SYSTEMS = {
    "standard": ColorSystem.STANDARD,
    "256": ColorSystem.EIGHT_BIT,
    "truecolor": ColorSystem.TRUECOLOR,
    "windows": ColorSystem.WINDOWS,
}

# One row of a frame: indent of its first line, indent of the others, their style, the body.
_Row = tuple[str, str, Style | None, RenderableType]


class _Malformed(Exception):
    """The message does not have the shape its type promises."""


def _render_frame(
    console: Console,
    options: ConsoleOptions,
    rows: list[_Row],
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
        lines = _plain_text_lines(console, body, width) if type(body) is Text else None
        if lines is None:
            lines = console.render_lines(body, options.update_width(width), pad=False)
        if isinstance(body, Markdown):
            while lines and not "".join(segment.text for segment in lines[-1]).strip():
                lines.pop()
        for number, raw_line in enumerate(lines):
            # Word wrap leaves a space at the end of a line, Markdown pads to the width.
            line = _rstrip_line(raw_line)
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


def _plain_text_lines(
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


def _rstrip_line(line: list[Segment]) -> list[Segment]:
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


class PrettyRenderer:
    """Draws messages as a conversation on ``file``, one message at a time."""

    def __init__(
        self,
        file: TextIO,
        *,
        color: bool,
        width: int | None = None,
        timestamps: bool = False,
        label: str | None = None,
        bell: bool | None = None,
    ) -> None:
        self._file = file
        self._console = _make_console(file, color=color, width=width)
        self._color_system = _COLOR_SYSTEMS.get(self._console.color_system or "")
        self._options_cache: ConsoleOptions | None = None
        self._options_at = 0.0
        self._timestamps = timestamps
        self._label: list[Segment] = []
        if label:
            name = clean(label.replace("\n", " "))[:24]
            # From the label without its padding: a session keeps its colour whatever the
            # width of the labels it is shown with.
            color_name = _LABEL_COLORS[zlib.crc32(label.strip().encode()) % len(_LABEL_COLORS)]
            self._label = [Segment(name + " ", Style(color=color_name, bold=True))]
        self._calls: dict[str, tuple[str, Any]] = {}
        self._reply_ids: dict[str, str] = {}
        self._progress_shown: dict[str, int] = {}
        self._model = ""
        self._last_call: str | None = None
        self._adjacent_call: str | None = None
        self._clock: tuple[int, str] = (-1, "")
        # Permission prompts still open: request id → (tool, tool_use_id). A prompt rings the
        # terminal bell once (by default only when drawing on a terminal).
        self._open_prompts: dict[str, tuple[str, str]] = {}
        self._prompted_calls: dict[str, str] = {}
        self._rung: dict[str, bool] = {}
        if bell is None:
            try:
                bell = file.isatty()
            except (AttributeError, ValueError):
                bell = False
        self._bell = bell
        self._system: dict[str, Callable[[dict[str, Any]], list[_Row]]] = {
            "init": self._init,
            "status": self._status,
            "compact_boundary": self._compact_boundary,
            "api_retry": self._api_retry,
            "task_started": self._task_started,
            "task_notification": self._task_notification,
            "task_progress": self._task_progress,
        }
        self._types: dict[str, Callable[[dict[str, Any]], list[_Row]]] = {
            "assistant": self._assistant,
            "user": self._user,
            "result": self._result,
            "tool_progress": self._tool_progress,
            "stream_event": _nothing,
            "keep_alive": _nothing,
            "rate_limit_event": self._rate_limit,
            "control_request": self._control_request,
            "control_cancel_request": self._control_cancel,
            "control_response": self._control_response,
            "system": self._system_message,
        }

    def message(self, msg: Message) -> None:
        """Draw one message now; never raises for a message's content (only for I/O)."""
        obj = msg.obj
        kind = obj.get("type")
        self._adjacent_call = self._last_call
        if kind not in _TRANSPARENT:
            self._last_call = None
        try:
            handler = self._types.get(kind) if isinstance(kind, str) else None
            rows = handler(obj) if handler else _compact_rows(obj)
        except Exception:
            rows = _compact_rows(obj)
        if not rows:
            return
        blank = kind == "result" or (
            kind == "user" and self._is_prompt(obj) and not obj.get("parent_tool_use_id")
        )
        lead_first, lead_rest = self._lead(msg, obj)
        try:
            segments = _render_frame(self._console, self._options(), rows, lead_first, lead_rest)
        except Exception:
            try:
                rows = _compact_rows(obj)
                segments = _render_frame(self._console, self._options(), rows, lead_first, [])
            except Exception:
                segments = [Segment("· (unreadable message)"), Segment.line()]
        if blank:
            segments.insert(0, Segment.line())
        self._write(segments)

    def close(self) -> None:
        """Flush the output; nothing is held back between messages."""
        with contextlib.suppress(ValueError):  # already closed
            self._file.flush()

    def _options(self) -> ConsoleOptions:
        # Asking the console for its size costs more than drawing a short line; a terminal
        # resize is still picked up within half a second.
        now = time.monotonic()
        if self._options_cache is None or now - self._options_at > 0.5:
            self._options_cache = self._console.options
            self._options_at = now
        return self._options_cache

    def _write(self, segments: list[Segment]) -> None:
        # What Console.print does once the segments exist, without its per-call overhead:
        # styles become ANSI codes (or nothing, without colour), then one write and a flush.
        color_system = self._color_system
        if color_system is None:
            text = "".join([segment.text for segment in segments if not segment.control])
        else:
            text = "".join(
                [
                    segment.style.render(segment.text, color_system=color_system)
                    if segment.style
                    else segment.text
                    for segment in segments
                    if not segment.control
                ]
            )
        try:
            self._file.write(text)
        except UnicodeEncodeError:
            # A terminal that cannot show some character (a legacy code page, an ASCII
            # locale) still gets the rest of the line.
            encoding = getattr(self._file, "encoding", None) or "ascii"
            self._file.write(text.encode(encoding, "replace").decode(encoding, "replace"))
        self._file.flush()

    # -- the lead: label, time, sub-agent gutter ---------------------------------------------

    def _lead(self, msg: Message, obj: dict[str, Any]) -> tuple[list[Segment], list[Segment]]:
        first = list(self._label)
        rest = list(self._label)
        if self._timestamps:
            stamp = self._stamp(msg.received_at)
            first.append(Segment(stamp + " ", _DIM))
            rest.append(Segment(" " * (len(stamp) + 1)))
        if isinstance(obj.get("parent_tool_use_id"), str):
            gutter = Segment("  │ ", _GUTTER)
            first.append(gutter)
            rest.append(gutter)
        return first, rest

    def _stamp(self, received_at: float) -> str:
        try:
            second = int(received_at)
        except (TypeError, ValueError, OverflowError):
            return "--:--:--"
        if second != self._clock[0]:
            try:
                self._clock = (second, time.strftime("%H:%M:%S", time.localtime(second)))
            except (ValueError, OverflowError, OSError):
                return "--:--:--"
        return self._clock[1]

    # -- conversation -------------------------------------------------------------------------

    def _assistant(self, obj: dict[str, Any]) -> list[_Row]:
        message = obj.get("message")
        if not isinstance(message, dict):
            raise _Malformed
        content = message.get("content")
        if isinstance(content, str):
            blocks: list[Any] = [{"type": "text", "text": content}]
        elif isinstance(content, list):
            blocks = content
        else:
            raise _Malformed
        stream = _parent(obj)
        rows: list[_Row] = []
        reply_id = message.get("id")
        if not isinstance(reply_id, str) or self._reply_ids.get(stream) != reply_id:
            rows.append(("", "", None, self._reply_header(message, stream)))
            if isinstance(reply_id, str):
                _remember(self._reply_ids, stream, reply_id, MAX_STREAMS)
        for block in blocks:
            rows.extend(self._assistant_block(block))
        error = obj.get("error")
        if isinstance(error, str) and error:
            rows.append(("  ", "  ", None, Text("✗ error: " + clean(error), _ERROR)))
        return rows

    def _reply_header(self, message: dict[str, Any], stream: str) -> Text:
        header = Text("● ", _ARROW)
        if stream:
            header.append("agent", _BOLD)
            _, tool_input = self._calls.get(stream, ("", None))
            description = _field(tool_input, "description") or _field(tool_input, "subagent_type")
            if description:
                header.append(" · " + _one_line(description, 80), _DIM)
        else:
            header.append("Claude", _BOLD)
        model = message.get("model")
        if isinstance(model, str) and model and model != self._model:
            # Named once when first seen (or when it changes), not on every reply.
            header.append(" · " + clean(model), _DIM)
            if not self._model:
                self._model = model
        return header

    def _assistant_block(self, block: Any) -> list[_Row]:
        if not isinstance(block, dict):
            raise _Malformed
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise _Malformed
            if not text.strip():
                return []
            return [("  ", "  ", None, _prose(text))]
        if kind == "thinking":
            thinking = block.get("thinking")
            lines, hidden = _excerpt(thinking if isinstance(thinking, str) else "", THINKING_LINES)
            body = Text("\n".join(lines) or "thinking…", Style(dim=True, italic=True))
            if hidden:
                body.append(f"\n… {hidden} more lines", _DIM)
            return [("  ✻ ", "    ", _DIM, body)]
        if kind == "redacted_thinking":
            return [("  ✻ ", "    ", _DIM, Text("(redacted thinking)", _DIM))]
        if kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
            return self._tool_use(block)
        summary = _compact_json({k: v for k, v in block.items() if k != "type"}, SUMMARY_CHARS)
        return [("  ", "  ", None, _one_row(f"[{_str(kind) or '?'}] {summary}", _DIM))]

    def _tool_use(self, block: dict[str, Any]) -> list[_Row]:
        call_id = _str(block.get("id"))
        name = _str(block.get("name")) or "?"
        tool_input = block.get("input")
        if call_id:
            _remember(self._calls, call_id, (name, tool_input), MAX_CALLS)
            self._last_call = call_id
        rows: list[_Row] = [("  → ", "    ", _ARROW, _call_line(name, tool_input))]
        diff = _edit_diff(name, tool_input)
        if diff is not None:
            rows.append(("      ", "      ", None, diff))
        return rows

    def _is_prompt(self, obj: dict[str, Any]) -> bool:
        message = obj.get("message")
        if not isinstance(message, dict):
            return False
        content = message.get("content")
        return isinstance(content, str) or (
            isinstance(content, list)
            and any(isinstance(b, dict) and b.get("type") == "text" for b in content)
        )

    def _user(self, obj: dict[str, Any]) -> list[_Row]:
        message = obj.get("message")
        if not isinstance(message, dict):
            raise _Malformed
        content = message.get("content")
        sub_agent = bool(_parent(obj))
        replay = obj.get("isReplay") is True
        if isinstance(content, str):
            return _prompt_rows(content, replay=replay, sub_agent=sub_agent)
        if not isinstance(content, list):
            raise _Malformed
        texts: list[str] = []
        results: list[_Row] = []
        adjacent = self._adjacent_call
        for block in content:
            if not isinstance(block, dict):
                raise _Malformed
            kind = block.get("type")
            if kind == "tool_result":
                results.extend(self._tool_result(block, adjacent))
                adjacent = None
            elif kind == "text":
                texts.append(_str(block.get("text")))
            else:
                texts.append(f"[{_str(kind) or '?'}]")
        rows = _prompt_rows("\n".join(texts), replay=replay, sub_agent=sub_agent) if texts else []
        return rows + results

    def _tool_result(self, block: dict[str, Any], adjacent: str | None) -> list[_Row]:
        call_id = _str(block.get("tool_use_id"))
        is_error = block.get("is_error") is True
        answered = self._prompt_answered(call_id, is_error, block.get("content"))
        body = Text(no_wrap=True, overflow="ellipsis")
        if call_id != adjacent and call_id in self._calls:
            # Not right under its call (parallel calls, a sub-agent in between): say whose.
            name, tool_input = self._calls[call_id]
            body.append(clean(name), Style(dim=True, bold=True))
            main, _ = _describe_call(name, tool_input)
            if main:
                body.append("  " + main, _DIM)
            body.append("\n")
        text = _result_text(block.get("content"))
        if is_error:
            text = _untag_error(text)
        style = _ERROR if is_error else None
        if is_error:
            body.append("✗ ", Style(color="red", bold=True))
            # A failure says what went wrong at the end (tracebacks, test summaries).
            head, hidden, tail = _head_and_tail(text, ERROR_HEAD_LINES, ERROR_TAIL_LINES)
        else:
            head, hidden = _excerpt(text, RESULT_LINES)
            tail = []
        if head:
            body.append("\n".join(head), style)
        else:
            body.append("(error)" if is_error else "(no output)", _DIM)
        if hidden:
            body.append(f"\n… {hidden} more line{'s' if hidden != 1 else ''}", _DIM)
        if tail:
            body.append("\n" + "\n".join(tail), style)
        return [*answered, ("    ⎿ ", "      ", _DIM, body)]

    def _prompt_answered(self, call_id: str, is_error: bool, content: Any) -> list[_Row]:
        """The line that closes an open prompt once its tool's result shows the answer."""
        request_id = self._prompted_calls.pop(call_id, None) if call_id else None
        if request_id is None or self._open_prompts.pop(request_id, None) is None:
            return []
        text = _result_text(content).lower()
        if not is_error:
            line = Text(f"✓ permission prompt {_one_line(request_id, 80)} answered: allowed")
            return [("  ", "  ", None, _styled(line, "green"))]
        verdict = "denied" if ("denied" in text or "rejected" in text) else "answered"
        line = Text(f"✗ permission prompt {_one_line(request_id, 80)} {verdict}")
        return [("  ", "  ", None, _styled(line, "red"))]

    def _tool_progress(self, obj: dict[str, Any]) -> list[_Row]:
        call_id = _str(obj.get("tool_use_id"))
        elapsed = _number(obj.get("elapsed_time_seconds")) or 0.0
        step = _progress_step(elapsed)
        if self._progress_shown.get(call_id, -1) >= step:
            return []
        _remember(self._progress_shown, call_id, step, MAX_CALLS)
        name = _str(obj.get("tool_name")) or self._calls.get(call_id, ("tool", None))[0]
        line = Text(f"{clean(name)} still running · {_duration(elapsed)}", _DIM)
        return [("    ⋯ ", "      ", _DIM, line)]

    def _result(self, obj: dict[str, Any]) -> list[_Row]:
        subtype = _str(obj.get("subtype")) or "result"
        failed = obj.get("is_error") is True or subtype.startswith("error")
        style = Style(color="red", bold=True) if failed else Style(color="green", bold=True)
        line = Text("■ ", style)
        line.append(clean(subtype), style)
        parts: list[str] = []
        duration = _number(obj.get("duration_ms"))
        if duration is not None:
            parts.append(_duration(duration / 1000))
        turns = _number(obj.get("num_turns"))
        if turns is not None:
            parts.append(f"{int(turns)} turn{'s' if turns != 1 else ''}")
        cost = _number(obj.get("total_cost_usd"))
        if cost is not None:
            parts.append(_cost(cost))
        usage = obj.get("usage")
        if isinstance(usage, dict):
            parts.extend(_usage(usage))
        denials = obj.get("permission_denials")
        if isinstance(denials, list) and denials:
            parts.append(f"{len(denials)} permission denial{'s' if len(denials) != 1 else ''}")
        if parts:
            line.append(" · " + " · ".join(parts))
        rows: list[_Row] = [("", "", None, line)]
        if failed:
            errors = obj.get("errors")
            messages = [e for e in errors if isinstance(e, str)] if isinstance(errors, list) else []
            result = obj.get("result")
            if not messages and isinstance(result, str) and result:
                messages = [result]
            for error in messages[:5]:
                lines, hidden = _excerpt(error, RESULT_LINES)
                body = Text("\n".join(lines), _ERROR)
                if hidden:
                    body.append(f"\n… {hidden} more lines", _DIM)
                rows.append(("  ✗ ", "    ", _ERROR, body))
        return rows

    # -- system messages ---------------------------------------------------------------------

    def _system_message(self, obj: dict[str, Any]) -> list[_Row]:
        subtype = obj.get("subtype")
        handler = self._system.get(subtype) if isinstance(subtype, str) else None
        return handler(obj) if handler else _compact_rows(obj)

    def _init(self, obj: dict[str, Any]) -> list[_Row]:
        line = Text("▶ session start", _BOLD)
        model = _str(obj.get("model"))
        if model:
            self._model = model
            line.append(" · model ", _DIM)
            line.append(clean(model), _BOLD)
        for key, name in (("cwd", "cwd"), ("permissionMode", "permissions")):
            value = _str(obj.get(key))
            if value:
                line.append(f" · {name} ", _DIM)
                line.append(clean(value))
        tools = obj.get("tools")
        if isinstance(tools, list):
            line.append(f" · {len(tools)} tools", _DIM)
        servers = obj.get("mcp_servers")
        if isinstance(servers, list) and servers:
            line.append(" · mcp ", _DIM)
            for number, server in enumerate(servers[:8]):
                name = _field(server, "name") or "?"
                status = _field(server, "status")
                line.append(", " if number else "")
                line.append(_one_line(name, 40))
                if status:
                    ok = status == "connected"
                    line.append(f" ({_one_line(status, 20)})", _DIM if ok else _WARN)
            if len(servers) > 8:
                line.append(f", +{len(servers) - 8}", _DIM)
        version = _str(obj.get("claude_code_version"))
        if version:
            line.append(" · Claude Code " + clean(version), _DIM)
        return [("", "", None, line)]

    def _status(self, obj: dict[str, Any]) -> list[_Row]:
        status = obj.get("status")
        rows: list[_Row] = []
        if status == "compacting":
            rows.append(("", "", None, Text("⟳ compacting context…", _WARN)))
        elif isinstance(status, str) and status:
            rows.append(("", "", None, Text("· status " + _one_line(status, 60), _DIM)))
        mode = obj.get("permissionMode")
        if isinstance(mode, str) and mode:
            rows.append(("", "", None, Text("· permission mode " + _one_line(mode, 40), _DIM)))
        return rows or [("", "", None, Text("· status cleared", _DIM))]

    def _compact_boundary(self, obj: dict[str, Any]) -> list[_Row]:
        meta = obj.get("compact_metadata")
        meta = meta if isinstance(meta, dict) else obj
        title = "context compacted"
        trigger = _field(meta, "trigger")
        if trigger:
            title += " · " + _one_line(trigger, 20)
        tokens = _number(meta.get("pre_tokens"))
        if tokens is not None:
            title += f" · {int(tokens):,} tokens before"
        return [("", "", None, Rule(Text(title, _WARN), style=_DIM, characters="─"))]

    def _api_retry(self, obj: dict[str, Any]) -> list[_Row]:
        line = Text("⚠ API retry", Style(color="yellow", bold=True))
        attempt = _number(obj.get("attempt"))
        maximum = _number(obj.get("max_retries"))
        if attempt is not None:
            line.append(f" {int(attempt)}" + (f"/{int(maximum)}" if maximum is not None else ""))
        delay = _number(obj.get("retry_delay_ms"))
        if delay is not None:
            line.append(f" in {_duration(delay / 1000)}")
        status = obj.get("error_status")
        if isinstance(status, (int, str)) and not isinstance(status, bool):
            line.append(f" · HTTP {_one_line(str(status), 10)}")
        error = obj.get("error")
        if isinstance(error, str) and error:
            line.append(" · " + _one_line(error, 120))
        line.stylize(_WARN)
        return [("", "", None, line)]

    def _rate_limit(self, obj: dict[str, Any]) -> list[_Row]:
        info = obj.get("rate_limit_info")
        info = info if isinstance(info, dict) else obj
        status = _field(info, "status") or "?"
        style = {"allowed": _DIM, "rejected": Style(color="red", bold=True)}.get(status, _WARN)
        line = Text("⚠ rate limit " + _one_line(status, 30), style)
        kind = _field(info, "rateLimitType")
        if kind:
            line.append(" · " + _one_line(kind, 30))
        utilization = _number(info.get("utilization"))
        if utilization is not None:
            line.append(f" · {utilization * 100:.0f}% used")
        resets = _number(info.get("resetsAt"))
        if resets is not None:
            line.append(" · resets " + _clock_time(resets))
        line.stylize(style)
        return [("", "", None, line)]

    def _task_started(self, obj: dict[str, Any]) -> list[_Row]:
        line = Text("⧉ task started", _BOLD)
        line.append(_task_tail(obj, "description"))
        return [("", "", None, line)]

    def _task_notification(self, obj: dict[str, Any]) -> list[_Row]:
        status = _field(obj, "status") or "update"
        style = _ERROR if status in ("failed", "error", "killed") else _BOLD
        line = Text("⧉ task " + _one_line(status, 30), style)
        line.append(_task_tail(obj, "summary"))
        return [("", "", None, line)]

    def _task_progress(self, obj: dict[str, Any]) -> list[_Row]:
        line = Text("⧉ task progress" + _task_tail(obj, "description"), _DIM)
        usage = obj.get("usage")
        if isinstance(usage, dict):
            tools = _number(usage.get("tool_uses"))
            tokens = _number(usage.get("total_tokens"))
            duration = _number(usage.get("duration_ms"))
            if tools is not None:
                line.append(f" · {int(tools)} tool uses")
            if tokens is not None:
                line.append(f" · {int(tokens):,} tokens")
            if duration is not None:
                line.append(" · " + _duration(duration / 1000))
        last = _field(obj, "last_tool_name")
        if last:
            line.append(" · last " + _one_line(last, 40))
        return [("", "", None, line)]

    # -- control messages --------------------------------------------------------------------

    def _control_request(self, obj: dict[str, Any]) -> list[_Row]:
        request = obj.get("request")
        if not isinstance(request, dict):
            raise _Malformed
        request_id = _one_line(_str(obj.get("request_id")) or "?", 80)
        subtype = _str(request.get("subtype")) or "?"
        if subtype != "can_use_tool":
            line = Text("⇄ control request " + _one_line(subtype, 40), _DIM)
            line.append(f" ({request_id})", _DIM)
            return [("", "", None, line)]
        name = _str(request.get("tool_name")) or "?"
        tool_input = request.get("input")
        parts: list[RenderableType] = [_call_line(name, tool_input)]
        diff = _edit_diff(name, tool_input)
        if diff is not None:
            parts.append(diff)
        command = _field(tool_input, "command") if name == "Bash" else ""
        if "\n" in command:
            lines, hidden = _excerpt(command, 8)
            extra = Text("\n".join(lines))
            if hidden:
                extra.append(f"\n… {hidden} more lines", _DIM)
            parts.append(extra)
        for key in ("description", "decision_reason", "blocked_path"):
            value = _field(request, key)
            if value:
                lines, _ = _excerpt(value, 4)
                parts.append(Text(key.replace("_", " ") + ": ", _BOLD) + Text("\n".join(lines)))
        parts.append(Text("request id: ", _BOLD) + Text(request_id))
        tool_use_id = _str(request.get("tool_use_id"))
        raw_id = _str(obj.get("request_id"))
        if raw_id:
            _remember(self._open_prompts, raw_id, (name, tool_use_id), MAX_CALLS)
            if tool_use_id:
                _remember(self._prompted_calls, tool_use_id, raw_id, MAX_CALLS)
            if self._bell and raw_id not in self._rung:
                _remember(self._rung, raw_id, True, MAX_CALLS)
                with contextlib.suppress(ValueError, OSError):
                    self._file.write("\a")
        title = Text(" PERMISSION REQUESTED ", Style(color="yellow", bold=True, reverse=True))
        panel = Panel(
            Group(*parts),
            title=title,
            title_align="left",
            border_style=Style(color="yellow", bold=True),
            box=box.HEAVY,
        )
        return [("", "", None, panel)]

    def _control_cancel(self, obj: dict[str, Any]) -> list[_Row]:
        raw_id = _str(obj.get("request_id"))
        request_id = _one_line(raw_id or "?", 80)
        prompt = self._open_prompts.pop(raw_id, None)
        if prompt is not None:
            name, tool_use_id = prompt
            self._prompted_calls.pop(tool_use_id, None)
            line = Text(
                f"⇄ permission prompt {request_id} ({_one_line(name, 40)}) withdrawn", _WARN
            )
            line.append(" · answered elsewhere, or the turn moved on", _DIM)
            return [("", "", None, line)]
        return [("", "", None, Text(f"⇄ permission prompt {request_id} withdrawn", _WARN))]

    def _control_response(self, obj: dict[str, Any]) -> list[_Row]:
        response = obj.get("response")
        if not isinstance(response, dict):
            raise _Malformed
        subtype = _str(response.get("subtype")) or "?"
        request_id = _one_line(_str(response.get("request_id")) or "?", 80)
        failed = subtype == "error"
        line = Text("⇄ control response " + _one_line(subtype, 30), _ERROR if failed else _DIM)
        line.append(f" ({request_id})")
        error = response.get("error")
        if failed and isinstance(error, str) and error:
            line.append(": " + _one_line(error, 200))
        return [("", "", None, line)]


# -- building blocks -----------------------------------------------------------------------------


def _make_console(file: TextIO, *, color: bool, width: int | None) -> Console:
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


def _nothing(obj: dict[str, Any]) -> list[_Row]:
    return []


def _compact_rows(obj: Any) -> list[_Row]:
    """The one-line form of any message: ``type/subtype`` and a short JSON summary."""
    try:
        if not isinstance(obj, dict):
            return [("", "", None, _one_row("· " + _compact_json(obj, SUMMARY_CHARS), _DIM))]
        kind = obj.get("type")
        subtype = obj.get("subtype")
        key = _str(kind) or "?"
        if isinstance(subtype, str):
            key += "/" + subtype
        line = Text("· ", _DIM, no_wrap=True, overflow="ellipsis")
        line.append(_one_line(key, 60), Style(dim=True, bold=True))
        rest = {k: v for k, v in obj.items() if k not in _QUIET_KEYS}
        if rest:
            line.append("  " + _compact_json(rest, SUMMARY_CHARS), _DIM)
        return [("", "", None, line)]
    except Exception:
        return [("", "", None, Text("· (unreadable message)", _DIM))]


def _one_row(text: str, style: Style | None = None) -> Text:
    return Text(clean(text), style or "", no_wrap=True, overflow="ellipsis")


def _prompt_rows(text: str, *, replay: bool, sub_agent: bool) -> list[_Row]:
    lines, hidden = _excerpt(text, SUBAGENT_PROMPT_LINES if sub_agent else PROMPT_LINES)
    body = Text()
    if replay:
        body.append("(replay) ", _DIM)
    body.append("\n".join(lines) or "(empty prompt)", _DIM if replay or sub_agent else _BOLD)
    if hidden:
        body.append(f"\n… {hidden} more lines", _DIM)
    return [("❯ ", "  ", _DIM if replay else _BOLD, body)]


def _prose(text: str) -> RenderableType:
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
    """A Markdown paragraph, word-wrapped by :func:`_plain_text_lines` when it can be.

    Rich pads the lines of a paragraph to the width with unstyled blanks, which
    :func:`_render_frame` strips again; here they are left out.
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
            lines = _plain_text_lines(console, text, options.max_width, unpadded=True)
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
    """Whether two Markdowns draw the same, as :func:`_render_frame` shows them."""
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system="truecolor")
    for width in (100, 37, 16):
        options = console.options.update_width(width)
        drawings = [
            [_rstrip_line(line) for line in console.render_lines(markdown, options, pad=False)]
            for markdown in (first, second)
        ]
        if drawings[0] != drawings[1]:
            return False
    return True


_markdown = _MarkdownFactory()


def _call_line(name: str, tool_input: Any) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(_one_line(name, 60), _TOOL_STYLE)
    main, extra = _describe_call(name, tool_input)
    if main:
        line.append("  " + main)
    if extra:
        line.append("  " + extra, _DIM)
    return line


def _describe_call(name: str, tool_input: Any) -> tuple[str, str]:
    """The key input of a tool call, and a dim remark; both cleaned, one line each."""
    if not isinstance(tool_input, dict):
        return _compact_json(tool_input, 120), ""
    key = _PATH_TOOLS.get(name) or _URL_TOOLS.get(name)
    if name == "Bash":
        command = _field(tool_input, "command")
        if command:
            extra = _one_line(_field(tool_input, "description"), 80)
            if tool_input.get("run_in_background") is True:
                extra = (extra + " " if extra else "") + "(background)"
            return _one_line(command, 200), extra
    elif key:
        value = _field(tool_input, key)
        if value:
            return _one_line(value, 200), _path_remark(name, tool_input)
    elif name in ("Grep", "Glob"):
        pattern = _field(tool_input, "pattern")
        if pattern:
            remarks = []
            path = _field(tool_input, "path")
            if path:
                remarks.append("in " + _one_line(path, 80))
            for option in ("glob", "type", "output_mode"):
                value = _field(tool_input, option)
                if value:
                    remarks.append(f"{option} {_one_line(value, 30)}")
            return _one_line(pattern, 120), " · ".join(remarks)
    elif name in ("Task", "Agent"):
        description = _field(tool_input, "description")
        agent = _field(tool_input, "subagent_type")
        if description or agent:
            return _one_line(description or agent, 120), (
                f"({_one_line(agent, 40)})" if description and agent else ""
            )
    elif name == "TodoWrite":
        todos = tool_input.get("todos")
        if isinstance(todos, list):
            done = sum(1 for t in todos if _field(t, "status") == "completed")
            active = sum(1 for t in todos if _field(t, "status") == "in_progress")
            return f"{len(todos)} todos", f"{done} done, {active} in progress"
    return _compact_json(tool_input, 120), ""


def _path_remark(name: str, tool_input: dict[str, Any]) -> str:
    if name == "Read":
        offset = _number(tool_input.get("offset"))
        limit = _number(tool_input.get("limit"))
        if offset is not None or limit is not None:
            start = int(offset or 1)
            return f"lines {start}–{start + int(limit) - 1}" if limit else f"from line {start}"
    elif name == "Write":
        content = tool_input.get("content")
        if isinstance(content, str):
            return f"{content.count(chr(10)) + (not content.endswith(chr(10)))} lines"
    elif name == "Edit" and tool_input.get("replace_all") is True:
        return "(replace all)"
    elif name == "MultiEdit":
        edits = tool_input.get("edits")
        if isinstance(edits, list):
            return f"{len(edits)} edit{'s' if len(edits) != 1 else ''}"
    return ""


def _edit_diff(name: str, tool_input: Any) -> Text | None:
    """An Edit or MultiEdit call as a small diff: removed lines red, added lines green."""
    if not isinstance(tool_input, dict):
        return None
    if name == "Edit":
        edits: list[Any] = [tool_input]
    elif name == "MultiEdit" and isinstance(tool_input.get("edits"), list):
        edits = tool_input["edits"]
    else:
        return None
    diff = Text(no_wrap=True, overflow="ellipsis")
    for edit in edits[:MULTIEDIT_EDITS]:
        for sign, key, style in (("-", "old_string", "red"), ("+", "new_string", "green")):
            lines, hidden = _excerpt(_field(edit, key), DIFF_LINES)
            for line in lines:
                diff.append(f"{sign} {line}\n", style)
            if hidden:
                diff.append(f"{sign} … {hidden} more lines\n", _DIM)
    if len(edits) > MULTIEDIT_EDITS:
        diff.append(f"… {len(edits) - MULTIEDIT_EDITS} more edits\n", _DIM)
    diff.rstrip()
    return diff if diff.plain else None


def _result_text(content: Any) -> str:
    """A tool result's text: its ``content`` is a string or a list of blocks."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text" and isinstance(block.get("text"), str):
                    parts.append(block["text"])
                else:
                    parts.append(f"[{_str(block.get('type')) or '?'}]")
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return _compact_json(content, SUMMARY_CHARS)


def _excerpt(text: str, max_lines: int) -> tuple[list[str], int]:
    """The first ``max_lines`` lines of ``text``, cleaned and cut, and how many were left."""
    # Blanks only: str.strip() would also take remote control characters (CR, \x1c-\x1f).
    text = text.rstrip(_BLANKS).lstrip("\n")
    if not text:
        return [], 0
    parts = text.split("\n", max_lines)
    hidden = 0
    if len(parts) > max_lines:
        hidden = parts[max_lines].count("\n") + 1
        del parts[max_lines:]
    return [_cut_line(part) for part in parts], hidden


_BLANKS = " \t\n"


def _untag_error(text: str) -> str:
    """The message inside ``<tool_use_error>…</tool_use_error>``, or ``text`` as it is."""
    stripped = text.strip()
    opening, closing = "<tool_use_error>", "</tool_use_error>"
    if stripped.startswith(opening) and stripped.endswith(closing):
        return stripped[len(opening) : -len(closing)]
    return text


def _cut_line(line: str) -> str:
    # A CR stays (as a visible escape): cutting at it would hide what it was meant to hide.
    if len(line) > LINE_CHARS:
        line = line[:LINE_CHARS] + "…"
    return clean(line)


def _head_and_tail(text: str, head: int, tail: int) -> tuple[list[str], int, list[str]]:
    """The first ``head`` and last ``tail`` lines of ``text``, and how many lie between."""
    first, hidden = _excerpt(text, head + tail)
    if not hidden:
        return first, 0, []
    last = text.rstrip(_BLANKS).rsplit("\n", tail)[1:]
    return first[:head], hidden, [_cut_line(line) for line in last]


def _one_line(text: str, limit: int) -> str:
    """``text`` cleaned, on one line (first line and a mark if more), at most ``limit`` chars."""
    text = text.strip(_BLANKS)
    first, newline, _ = text.partition("\n")
    more = bool(newline)
    if len(first) > limit:
        first, more = first[: limit - 1], True
    return clean(first) + (" …" if more else "")


def _compact_json(value: Any, limit: int) -> str:
    try:
        encoded = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except Exception:
        try:
            encoded = json.dumps(value, default=str, ensure_ascii=False)
        except Exception:
            encoded = repr(value)
    if len(encoded) > limit:
        encoded = encoded[: limit - 1] + "…"
    return clean(encoded)


def _task_tail(obj: dict[str, Any], key: str) -> str:
    tail = ""
    text = _field(obj, key)
    if text:
        tail += " · " + _one_line(text, 120)
    task_id = _field(obj, "task_id")
    if task_id:
        tail += f" ({_one_line(task_id, 40)})"
    return tail


def _usage(usage: dict[str, Any]) -> list[str]:
    parts = []
    tokens_in = _number(usage.get("input_tokens"))
    tokens_out = _number(usage.get("output_tokens"))
    if tokens_in is not None or tokens_out is not None:
        parts.append(f"tokens {int(tokens_in or 0):,} in / {int(tokens_out or 0):,} out")
    read = _number(usage.get("cache_read_input_tokens"))
    written = _number(usage.get("cache_creation_input_tokens"))
    if read or written:
        parts.append(f"cache {int(read or 0):,} read / {int(written or 0):,} written")
    return parts


def _progress_step(elapsed: float) -> int:
    """Which progress line a running tool is due: the first one, then 10 s, 30 s, each minute."""
    if elapsed < 10:
        return 0
    if elapsed < 30:
        return 1
    if elapsed < 60:
        return 2
    return 2 + int(elapsed // 60)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _cost(dollars: float) -> str:
    if dollars >= 1:
        return f"${dollars:.2f}"
    if dollars >= 0.01 or dollars == 0:
        return f"${dollars:.3f}"
    return f"${dollars:.4f}"


def _clock_time(epoch: float) -> str:
    if epoch > 1e11:  # milliseconds
        epoch /= 1000
    try:
        return time.strftime("%H:%M", time.localtime(epoch))
    except (ValueError, OverflowError, OSError):
        return "?"


def _parent(obj: dict[str, Any]) -> str:
    parent = obj.get("parent_tool_use_id")
    return parent if isinstance(parent, str) else ""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _field(container: Any, key: str) -> str:
    """A string field of a dict that may not be a dict; '' when absent or not a string."""
    if isinstance(container, dict):
        value = container.get(key)
        if isinstance(value, str):
            return value
    return ""


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return float(value)
    return None


def _remember(memory: dict[str, Any], key: str, value: Any, limit: int) -> None:
    memory.pop(key, None)
    memory[key] = value
    if len(memory) > limit:
        del memory[next(iter(memory))]


def _styled(text: Text, color: str) -> Text:
    text.stylize(Style(color=color, bold=True))
    return text
