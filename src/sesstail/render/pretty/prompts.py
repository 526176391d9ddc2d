"""Control messages, and the permission banner where a user decides (PROTOCOL §4).

The banner shows what is being approved whole: the command, the path, the arguments, each
wrapped at any width and never cut; every control character in them visible (a CR cannot
hide what came before it). Only a Write's long content and long edits show their head and
tail with the number of lines between.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TextIO

from rich import box
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.style import Style
from rich.text import Text

from sesstail.render.pretty.layout import (
    COLOR_SYSTEMS,
    Row,
    make_console,
    render_frame,
    segments_text,
)
from sesstail.render.pretty.markdown import Trimmed
from sesstail.render.pretty.state import Memory
from sesstail.render.pretty.text import (
    BOLD,
    DIM,
    ERROR,
    MAX_CALLS,
    WARN,
    Malformed,
    compact_json,
    one_line,
    remember,
    string,
)
from sesstail.render.pretty.tools import call_body, prompt_call_line
from sesstail.render.sanitize import clean

# Black on yellow reads on dark and light backgrounds alike (reverse video of yellow text
# gives white on yellow on a light theme). grey0 is the fixed black of the 256 colours: a
# bold "black" is drawn as the theme's grey by terminals that brighten bold colours.
_TITLE = Style(color="grey0", bgcolor="yellow", bold=True)
# The default foreground: yellow lines, bold or not, fade on a white background.
_BORDER = Style(bold=True)
_REASONS = ("description", "decision_reason", "blocked_path")


def permission_banner(request: dict[str, Any], request_id: str) -> Panel:
    """A ``can_use_tool`` request as a banner: tool, whole input, reasons, request id."""
    name = string(request.get("tool_name")) or "?"
    tool_input = request.get("input")
    parts: list[RenderableType] = [prompt_call_line(name, tool_input)]
    parts.extend(
        Trimmed(part) if isinstance(part, Markdown) else part
        for part in call_body(name, tool_input, whole=True)
    )
    for key in _REASONS:
        value = request.get(key)
        if isinstance(value, str) and value:
            parts.append(Text(key.replace("_", " ") + ": ", BOLD) + Text(clean(value)))
    suggestions = request.get("permission_suggestions")
    if isinstance(suggestions, list) and suggestions:
        parts.append(Text("suggested rules: ", BOLD) + Text(compact_json(suggestions), DIM))
    parts.append(Text("request id: ", BOLD) + Text(clean(request_id)))
    return Panel(
        Group(*parts),
        title=Text(" PERMISSION REQUESTED ", _TITLE),
        title_align="left",
        border_style=_BORDER,
        box=box.HEAVY,
    )


def control_request(
    memory: Memory, obj: dict[str, Any], ring: Callable[[], None] | None = None
) -> list[Row]:
    request = obj.get("request")
    if not isinstance(request, dict):
        raise Malformed
    raw_id = string(obj.get("request_id"))
    request_id = one_line(raw_id or "?", 80)
    subtype = string(request.get("subtype")) or "?"
    if subtype != "can_use_tool":
        line = Text("⇄ control request " + one_line(subtype, 40), DIM)
        line.append(f" ({request_id})", DIM)
        if subtype == "request_user_dialog":
            kind = string(request.get("dialog_kind"))
            if kind:
                line.append(" · " + one_line(kind, 40), DIM)
            line.append(" · a question for the user, not shown here", WARN)
        return [("", "  ", None, line)]
    name = string(request.get("tool_name")) or "?"
    tool_use_id = string(request.get("tool_use_id"))
    if raw_id:
        remember(memory.open_prompts, raw_id, (name, tool_use_id), MAX_CALLS)
        if tool_use_id:
            remember(memory.prompted_calls, tool_use_id, raw_id, MAX_CALLS)
        if ring is not None and raw_id not in memory.rung:
            remember(memory.rung, raw_id, True, MAX_CALLS)
            with contextlib.suppress(ValueError, OSError):
                ring()
    return [("", "", None, permission_banner(request, raw_id or "?"))]


def control_cancel(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    raw_id = string(obj.get("request_id"))
    request_id = one_line(raw_id or "?", 80)
    prompt = memory.open_prompts.pop(raw_id, None)
    if prompt is not None:
        name, tool_use_id = prompt
        memory.prompted_calls.pop(tool_use_id, None)
        line = Text(f"⇄ permission prompt {request_id} ({one_line(name, 40)}) withdrawn", WARN)
        line.append(" · answered elsewhere, or the turn moved on", DIM)
        return [("", "  ", None, line)]
    return [("", "  ", None, Text(f"⇄ permission prompt {request_id} withdrawn", WARN))]


def control_response(memory: Memory, obj: dict[str, Any]) -> list[Row]:
    response = obj.get("response")
    if not isinstance(response, dict):
        raise Malformed
    subtype = string(response.get("subtype")) or "?"
    request_id = one_line(string(response.get("request_id")) or "?", 80)
    failed = subtype == "error"
    line = Text("⇄ control response " + one_line(subtype, 30), ERROR if failed else DIM)
    line.append(f" ({request_id})")
    error = response.get("error")
    if failed and isinstance(error, str) and error:
        line.append(": " + one_line(error, 200))
    return [("", "  ", None, line)]


def draw_permission_prompt(
    prompt: dict[str, Any], file: TextIO, *, color: bool, width: int | None = None
) -> None:
    """Draw one ``can_use_tool`` request's banner on ``file``, for a caller about to ask
    whether to allow it (``watch -i``) when the stream's renderer did not draw it (JSONL
    output, or a filter that hides control requests)."""
    request = prompt.get("request")
    if not isinstance(request, dict):
        return
    console = make_console(file, color=color, width=width)
    row: Row = ("", "", None, permission_banner(request, string(prompt.get("request_id")) or "?"))
    segments = render_frame(console, console.options, [row], [], [])
    file.write(segments_text(segments, COLOR_SYSTEMS.get(console.color_system or "")))
    file.flush()
