"""The renderer: each message dispatched to the family that draws it, written at once.

Families: :mod:`.conversation` (prompts, replies, tools), :mod:`.system` (status lines and the
footer), :mod:`.prompts` (control messages and the permission banner); :mod:`.tools` holds the
tool table, :mod:`.markdown` the prose, :mod:`.layout` the frame and the wrapping.
Any exception while drawing falls back to one compact line: a message's content never raises.
"""

from __future__ import annotations

import contextlib
import datetime
import time
import weakref
import zlib
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from sesstail.protocol import Message
from sesstail.render.pretty import conversation, prompts, system
from sesstail.render.pretty.layout import (
    COLOR_SYSTEMS,
    Row,
    make_console,
    render_frame,
    segments_text,
)
from sesstail.render.pretty.state import Memory
from sesstail.render.pretty.text import (
    DIM,
    GUTTER_COLORS,
    SUMMARY_CHARS,
    compact_json,
    one_line,
    one_row,
    string,
)
from sesstail.render.sanitize import clean

# Readable on dark and light backgrounds: no yellow, no bright cyan or white.
_LABEL_COLORS = ("cyan", "magenta", "green", "blue", "bright_red", "bright_magenta", "bright_blue")
# Keys left out of the compact one-line summary of unknown messages.
_QUIET_KEYS = frozenset({"type", "subtype", "uuid", "session_id"})
# Messages that do not come between a tool call and its result, as far as the reader can see.
_TRANSPARENT = frozenset({"tool_progress", "stream_event", "keep_alive"})
# Live counters: folded into the line they drew until something else is drawn.
_FOLDING = frozenset({"thinking_tokens", "status"})

Handler = Callable[[Memory, dict[str, Any]], list[Row]]

# A message's own time is believed from 2000 until a day after it arrived: anything else is
# junk or a wrong clock, and the receive time is shown instead.
_EARLIEST = 946_684_800.0
_LATEST_AHEAD = 86_400.0
_TIME_KEYS = ("timestamp", "created_at")
_NO_STAMP = {"short": "--:--:--", "full": "----------T--:--:--------"}
# Carriage return, then erase the line: what redraws a live line in place.
_ERASE_LINE = "\r\x1b[2K"
# Without a terminal, the "still running" lines held back until it is known that the tool's
# result does not come next: per call (its latest lines), and calls at a time.
_HELD_PER_CALL = 8
_HELD_CALLS = 64


class LiveRow:
    """The bottom row of a terminal, where live lines are drawn (left open, without a newline),
    shared by every renderer writing to that terminal: one session's line is erased before
    another session writes, and drawn again below what it wrote; so the line is never left
    behind, stale, above the result it was waiting for."""

    __slots__ = ("owner", "text")

    def __init__(self) -> None:
        self.owner: PrettyRenderer | None = None
        self.text = ""


_LIVE_ROWS: weakref.WeakKeyDictionary[Any, LiveRow] = weakref.WeakKeyDictionary()


def live_row(file: Any) -> LiveRow:
    """The live row of ``file``, the same for every renderer that writes to it."""
    try:
        row = _LIVE_ROWS.get(file)
        if row is None:
            row = _LIVE_ROWS[file] = LiveRow()
        return row
    except TypeError:  # not weakly referenceable: a row of its own
        return LiveRow()


def _answers(obj: dict[str, Any], call_id: str) -> bool:
    """Whether a user message holds the result of tool call ``call_id``."""
    message = obj.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict)
        and block.get("type") == "tool_result"
        and block.get("tool_use_id") == call_id
        for block in content
    )


_SYSTEM: dict[str, Handler] = {
    "init": system.init,
    "status": system.status,
    "compact_boundary": system.compact_boundary,
    "api_retry": system.api_retry,
    "task_started": system.task_started,
    "task_notification": system.task_notification,
    "task_progress": system.task_progress,
    "thinking_tokens": system.thinking_tokens,
    "hook_started": system.hook_started,
    "hook_response": system.hook_response,
    "informational": system.informational,
    "local_command_output": system.local_command_output,
    # A local transcript's (sesstail.local.transcript).
    "local_command": conversation.local_command,
    "stop_hook_summary": system.stop_hook_summary,
    "post_turn_summary": system.post_turn_summary,
    "active_goal": system.active_goal,
    "autocompact_state": system.autocompact_state,
    "turn_handoff_available": system.turn_handoff_available,
    "conversation_reset": system.conversation_reset,
    "session_state_changed": system.session_state_changed,
}


def _nothing(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    return []


def _attachment(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    rows = system.hook_attachment(memory, obj)
    return compact_rows(obj) if rows is None else rows


def _progress(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    rows = system.transcript_progress(memory, obj)
    return compact_rows(obj) if rows is None else rows


_TYPES: dict[str, Handler] = {
    "assistant": conversation.assistant,
    "user": conversation.user,
    "result": system.result,
    "tool_progress": conversation.tool_progress,
    "stream_event": _nothing,
    "keep_alive": _nothing,
    "rate_limit_event": system.rate_limit,
    "control_cancel_request": prompts.control_cancel,
    "control_response": prompts.control_response,
    "env_manager_log": system.env_manager_log,
    # A local transcript's.
    "attachment": _attachment,
    "custom-title": system.custom_title,
    "progress": _progress,
    "queue-operation": system.queue_operation,
    "summary": system.transcript_summary,
    "file-history-snapshot": system.file_history_snapshot,
    # Seen both as types of their own and as system subtypes.
    "post_turn_summary": system.post_turn_summary,
    "active_goal": system.active_goal,
    "autocompact_state": system.autocompact_state,
    "turn_handoff_available": system.turn_handoff_available,
    "conversation_reset": system.conversation_reset,
    "session_state_changed": system.session_state_changed,
}


class PrettyRenderer:
    """Draws messages as a conversation on ``file``, one message at a time.

    ``timestamps``: None (or False) for none, ``"short"`` (or True) for ``HH:MM:SS``,
    ``"full"`` for RFC 3339 with the date and the zone offset; local time, the message's own
    (its ``timestamp`` or ``created_at``) when it has a believable one, else when it arrived.
    """

    def __init__(
        self,
        file: TextIO,
        *,
        color: bool,
        width: int | None = None,
        timestamps: bool | str | None = None,
        label: str | None = None,
        bell: bool | None = None,
        live: bool | None = None,
    ) -> None:
        self._file = file
        self._console = make_console(file, color=color, width=width)
        self._color_system = COLOR_SYSTEMS.get(self._console.color_system or "")
        self._options_cache: ConsoleOptions | None = None
        self._options_at = 0.0
        self._timestamps = timestamp_mode(timestamps)
        self._label: list[Segment] = []
        if label:
            name = clean(label.replace("\n", " "))[:24]
            # From the label without its padding: a session keeps its colour whatever the
            # width of the labels it is shown with.
            color_name = _LABEL_COLORS[zlib.crc32(label.strip().encode()) % len(_LABEL_COLORS)]
            self._label = [Segment(name + " ", Style(color=color_name, bold=True))]
        self._memory = Memory()
        self._clock: tuple[int, str] = (-1, "")
        # A prompt rings the terminal bell once (by default only when drawing on a terminal).
        if bell is None:
            try:
                bell = file.isatty()
            except (AttributeError, ValueError):
                bell = False
        self._bell = bell
        self._gutters: dict[str, Segment] = {}
        # Live lines, redrawn in place: by default on a terminal. Renderers of several
        # sessions sharing a terminal share its live row (see LiveRow).
        if live is None:
            try:
                live = file.isatty()
            except (AttributeError, ValueError):
                live = False
        self._memory.live = live
        self._row = live_row(file) if live else None
        # The live line left open (no newline yet): what it shows, and for which call.
        self._pending: tuple[str, str] | None = None
        # The progress line erased to write a line above it, to draw again below that line.
        self._restore: tuple[str, str] | None = None
        # Not live: "still running" lines by call, held back (see _hold).
        self._held: dict[str, list[str]] = {}
        # The backfill (--history, --since) was being drawn: a rule before the first live one.
        self._after_history = False

    def message(self, msg: Message) -> None:
        """Draw one message now; never raises for a message's content (only for I/O)."""
        obj = msg.obj
        kind = obj.get("type")
        memory = self._memory
        memory.adjacent_call = memory.last_call
        if kind not in _TRANSPARENT:
            memory.last_call = None
        subtype = obj.get("subtype")
        if not isinstance(subtype, str):
            subtype = None
        folding = (kind == "system" and subtype in _FOLDING) or (
            isinstance(kind, str) and kind in _TRANSPARENT
        )
        if memory.folded and not folding:
            memory.folded = ""
        if self._held and kind == "user":
            for call_id in [call_id for call_id in self._held if _answers(obj, call_id)]:
                del self._held[call_id]  # its result is here: no "still running" above it
        try:
            rows = self._rows(kind, subtype, obj)
        except Exception:
            rows = compact_rows(obj)
        if not rows:
            return
        live_key = self._live_key(kind, subtype, obj) if memory.live else None
        prefix = self._close_live(kind, obj, live_key) if self._pending is not None else ""
        hold = not memory.live and kind == "tool_progress"
        if self._held and not hold and kind not in _TRANSPARENT:
            prefix = self._release_held() + prefix
        blank = kind == "result" or (
            kind == "user" and conversation.is_prompt(obj) and not obj.get("parent_tool_use_id")
        )
        lead_first, lead_rest = self._lead(msg, obj)
        try:
            segments = render_frame(self._console, self._options(), rows, lead_first, lead_rest)
        except Exception:
            try:
                rows = compact_rows(obj)
                segments = render_frame(self._console, self._options(), rows, lead_first, [])
            except Exception:
                segments = [Segment("· (unreadable message)"), Segment.line()]
        if blank:
            segments.insert(0, Segment.line())
        if msg.backfill:
            self._after_history = True
        elif self._after_history:
            self._after_history = False
            segments[:0] = self._history_rule()
        if live_key is not None and segments and segments[-1].text == "\n":
            segments.pop()  # left open, to be redrawn by the next event
            self._pending = live_key
        if hold:
            self._hold(string(obj.get("tool_use_id")), segments)
            return
        if self._row is None:
            if prefix:
                segments.insert(0, Segment(prefix))
            self._write(segments)
            return
        self._write_shared(prefix, segments)

    def _write_shared(self, prefix: str, segments: list[Segment]) -> None:
        """Write on a terminal whose live row other renderers may hold."""
        row = self._row
        assert row is not None
        other = row.owner if row.owner is not self else None
        redraw = ""
        restore, self._restore = self._restore, None
        if other is not None:
            prefix = _ERASE_LINE + prefix
            if self._pending is not None:
                other._pending = None  # replaced by this line; its next event draws it again
            else:
                redraw = row.text
        text = self._text(segments)
        if self._pending is not None:
            row.owner, row.text = self, text.rpartition("\n")[2]
        elif restore is not None and other is None:
            self._pending = restore
            redraw = row.text
        elif other is None:
            row.owner, row.text = None, ""
        self._write_text(prefix + text + redraw)

    def _hold(self, call_id: str, segments: list[Segment]) -> None:
        """Keep a "still running" line back while not on a terminal: dropped if the tool's
        result comes next (it would stand, stale, above it), written before anything else."""
        lines = self._held.get(call_id)
        if lines is None:
            if len(self._held) >= _HELD_CALLS:
                self._write_text(self._release_held())
            lines = self._held[call_id] = []
        lines.append(self._text(segments))
        del lines[:-_HELD_PER_CALL]

    def _release_held(self) -> str:
        text = "".join(line for lines in self._held.values() for line in lines)
        self._held.clear()
        return text

    @staticmethod
    def _live_key(kind: Any, subtype: Any, obj: dict[str, Any]) -> tuple[str, str] | None:
        if kind == "tool_progress":
            return ("progress", string(obj.get("tool_use_id")))
        if kind == "system" and subtype == "thinking_tokens":
            return ("thinking", "")
        if kind == "system" and subtype == "status" and obj.get("status") == "requesting":
            return ("requesting", "")
        return None

    def _close_live(self, kind: Any, obj: dict[str, Any], live_key: tuple[str, str] | None) -> str:
        """What to write before the next line: erase the open live line (``CR``, erase line)
        when the new one replaces it, else end it so it stays.

        Erasing only the row the cursor is on is safe: if anything else (a status line on
        stderr) was written since, the cursor is on a fresh row and the live line stays.
        """
        pending = self._pending
        self._pending = None
        if pending is None:
            return ""
        replaces = live_key == pending or pending[0] == "requesting"
        if pending[0] == "thinking" and live_key is not None and live_key[0] == "thinking":
            replaces = True
        if pending[0] != "progress" or replaces:
            return _ERASE_LINE if replaces else "\n"
        # A tool still running: a progress line ended here would stand, stale, above the
        # tool's result. Another live line replaces it (its next event draws it again); a
        # line that is not live goes above it, and it is drawn again below; only the end of
        # the turn (a new prompt, the result) or the tool's own result ends it.
        if live_key is not None or (kind == "user" and _answers(obj, pending[1])):
            return _ERASE_LINE
        if kind == "result" or (kind == "user" and conversation.is_prompt(obj)):
            return "\n"
        self._restore = pending
        return _ERASE_LINE

    def _rows(self, kind: Any, subtype: Any, obj: dict[str, Any]) -> list[Row]:
        if kind == "control_request":
            return prompts.control_request(self._memory, obj, self._ring if self._bell else None)
        if kind == "system":
            handler = _SYSTEM.get(subtype) if isinstance(subtype, str) else None
        else:
            handler = _TYPES.get(kind) if isinstance(kind, str) else None
        return handler(self._memory, obj) if handler else compact_rows(obj)

    def _ring(self) -> None:
        self._file.write("\a")

    def _history_rule(self) -> list[Segment]:
        """The line between the history shown first and the live stream."""
        width = max(20, self._console.width - sum(len(s.text) for s in self._label))
        text = "── live " + "─" * (width - 8)
        return [*self._label, Segment(text, DIM), Segment.line()]

    def close(self) -> None:
        """End an open live line and flush; nothing is held back between messages."""
        with contextlib.suppress(ValueError, OSError):  # already closed
            if self._held:
                self._write_text(self._release_held())
            if self._pending is not None:
                self._file.write(_ERASE_LINE if self._pending[0] == "requesting" else "\n")
                self._pending = None
            if self._row is not None and self._row.owner is self:
                self._row.owner, self._row.text = None, ""
            self._file.flush()

    def _options(self) -> ConsoleOptions:
        # Asking the console for its size costs more than drawing a short line; a terminal
        # resize is still picked up within half a second.
        now = time.monotonic()
        if self._options_cache is None or now - self._options_at > 0.5:
            self._options_cache = self._console.options
            self._options_at = now
        return self._options_cache

    def _text(self, segments: list[Segment]) -> str:
        return segments_text(segments, self._color_system)

    def _write(self, segments: list[Segment]) -> None:
        self._write_text(self._text(segments))

    def _write_text(self, text: str) -> None:
        # One write and a flush per message.
        try:
            self._file.write(text)
        except UnicodeEncodeError:
            # A terminal that cannot show some character (a legacy code page, an ASCII
            # locale) still gets the rest of the line.
            encoding = getattr(self._file, "encoding", None) or "ascii"
            self._file.write(text.encode(encoding, "replace").decode(encoding, "replace"))
        self._file.flush()

    # -- the lead: label, time, sub-agent gutters ---------------------------------------------

    def _lead(self, msg: Message, obj: dict[str, Any]) -> tuple[list[Segment], list[Segment]]:
        first = list(self._label)
        rest = list(self._label)
        if self._timestamps is not None:
            stamp = self._stamp(message_time(obj, msg.received_at))
            first.append(Segment(stamp + " ", DIM))
            rest.append(Segment(" " * (len(stamp) + 1)))
        stream = obj.get("parent_tool_use_id")
        if isinstance(stream, str):
            # One gutter per level of sub-agent, each in its agent's colour: parallel
            # sub-agents are told apart, a sub-agent's own sub-agent sits one level deeper.
            for call_id in self._memory.depth(stream) or [stream]:
                gutter = self._gutter(call_id)
                first.append(gutter)
                rest.append(gutter)
        return first, rest

    def _gutter(self, call_id: str) -> Segment:
        gutter = self._gutters.get(call_id)
        if gutter is None:
            color = GUTTER_COLORS[len(self._gutters) % len(GUTTER_COLORS)]
            gutter = Segment("  │ ", Style(color=color, dim=True))
            if len(self._gutters) >= 4096:
                self._gutters.clear()
            self._gutters[call_id] = gutter
        return gutter

    def _stamp(self, at: float) -> str:
        mode = self._timestamps
        assert mode is not None
        try:
            second = int(at)
        except (TypeError, ValueError, OverflowError):
            return _NO_STAMP[mode]
        if second != self._clock[0]:
            try:
                if mode == "full":
                    moment = datetime.datetime.fromtimestamp(second).astimezone()
                    shown = moment.isoformat(timespec="seconds")
                else:
                    shown = time.strftime("%H:%M:%S", time.localtime(second))
            except (ValueError, OverflowError, OSError):
                return _NO_STAMP[mode]
            self._clock = (second, shown)
        return self._clock[1]


def timestamp_mode(timestamps: bool | str | None) -> str | None:
    """``timestamps`` as None, "short" or "full" (True, the old spelling, is "short")."""
    if timestamps is None or timestamps is False:
        return None
    if timestamps is True:
        return "short"
    mode = str(timestamps).lower()
    if mode not in _NO_STAMP:
        raise ValueError(f"timestamps must be None, 'short' or 'full', not {timestamps!r}")
    return mode


def message_time(obj: dict[str, Any], received_at: float) -> float:
    """When the message says it was made (``timestamp`` or ``created_at``, ISO 8601; a time
    without a zone read as UTC), if that is a believable time, else ``received_at``."""
    for key in _TIME_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            at = _epoch_of(value)
            if at is not None and _EARLIEST <= at <= received_at + _LATEST_AHEAD:
                return at
    return received_at


def _epoch_of(value: str) -> float | None:
    if not 10 <= len(value) <= 40:
        return None
    if value[-1:] in "zZ":
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def compact_rows(obj: Any) -> list[Row]:
    """The one-line form of any message: ``type/subtype`` and a short JSON summary."""
    try:
        if not isinstance(obj, dict):
            return [("", "", None, one_row("· " + compact_json(obj, SUMMARY_CHARS), DIM))]
        kind = obj.get("type")
        subtype = obj.get("subtype")
        key = string(kind) or "?"
        if isinstance(subtype, str):
            key += "/" + subtype
        line = Text("· ", DIM, no_wrap=True, overflow="ellipsis")
        line.append(one_line(key, 60), Style(dim=True, bold=True))
        rest = {k: v for k, v in obj.items() if k not in _QUIET_KEYS}
        if rest:
            line.append("  " + compact_json(rest, SUMMARY_CHARS), DIM)
        return [("", "", None, line)]
    except Exception:
        return [("", "", None, Text("· (unreadable message)", DIM))]
