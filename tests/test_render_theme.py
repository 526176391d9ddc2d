"""Colours that read on a light background as on a dark one: the permission banner, inline
code, dim text, sub-agent gutters and session labels use no foreground that fades on white
(white, bright white, yellow without a background, light greys)."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from rich.style import Style

from sesstail.protocol import Message
from sesstail.render.pretty import PrettyRenderer

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
# The theme's own colours that fade on white (30-37, 90-97 as SGR codes): white, bright
# white, yellow, bright yellow, and the 256-colour indexes of the same.
_FADING_CODES = {"37": "white", "97": "bright_white", "33": "yellow", "93": "bright_yellow"}
_FADING_INDEXES = {3: "yellow", 7: "white", 11: "bright_yellow", 15: "bright_white"}
# Fixed colours (the 6×6×6 cube, the greys, 24-bit) are judged by their contrast with white:
# under 3:1 fades (grey70, #b2b2b2, is 2.1:1; every yellow of the cube is under 2:1).
_MIN_CONTRAST = 3.0


def _cube(index: int) -> tuple[int, int, int]:
    if index >= 232:
        level = 8 + (index - 232) * 10
        return level, level, level
    index -= 16
    steps = (0, 95, 135, 175, 215, 255)
    return steps[index // 36], steps[index // 6 % 6], steps[index % 6]


def _contrast_with_white(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in rgb)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def fading_runs(output: str) -> list[tuple[str, str]]:
    """Every run of visible text drawn in a foreground that fades on white, without a
    background of its own: (colour, text)."""
    found: list[tuple[str, str]] = []
    fg: str | None = None
    bg = False
    position = 0
    for match in [*_SGR.finditer(output), None]:
        end = match.start() if match is not None else len(output)
        text = output[position:end]
        if fg is not None and not bg and text.strip():
            found.append((fg, text))
        if match is None:
            break
        position = match.end()
        codes = match.group(1).split(";") if match.group(1) else ["0"]
        index = 0
        while index < len(codes):
            code = codes[index]
            if code in ("0", ""):
                fg, bg = None, False
            elif code == "39":
                fg = None
            elif code == "49":
                bg = False
            elif code in ("38", "48") and index + 1 < len(codes):
                if codes[index + 1] == "5":
                    number = int(codes[index + 2])
                    if code == "48":
                        bg = True
                    elif number in _FADING_INDEXES:
                        fg = _FADING_INDEXES[number]
                    elif number >= 16 and _contrast_with_white(_cube(number)) < _MIN_CONTRAST:
                        fg = f"color({number})"
                    else:
                        fg = None
                    index += 2
                else:
                    rgb = (int(codes[index + 2]), int(codes[index + 3]), int(codes[index + 4]))
                    if code == "48":
                        bg = True
                    else:
                        fg = f"#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x}"
                        if _contrast_with_white(rgb) >= _MIN_CONTRAST:
                            fg = None
                    index += 4
            elif code.isdigit() and (30 <= int(code) <= 37 or 90 <= int(code) <= 97):
                fg = _FADING_CODES.get(code)
            elif code.isdigit() and (40 <= int(code) <= 47 or 100 <= int(code) <= 107):
                bg = True
            index += 1
    return found


def assistant(block: dict[str, Any], msg_id: str, **extra: Any) -> dict[str, Any]:
    message = {"id": msg_id, "role": "assistant", "model": "claude-sonnet-4-5", "content": [block]}
    return {"type": "assistant", "message": message, "parent_tool_use_id": None, **extra}


def result(text: str, call_id: str, **extra: Any) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": call_id, "content": text, "is_error": False}
    return {"type": "user", "message": {"role": "user", "content": [block]}, **extra}


BANNER = {
    "type": "control_request",
    "request_id": "req_01",
    "request": {
        "subtype": "can_use_tool",
        "tool_name": "Bash",
        "tool_use_id": "toolu_B",
        "input": {"command": "rm -rf build", "description": "Clean the build"},
        "decision_reason": "not in the allow list",
        "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash"}]}],
    },
}
INLINE_CODE = assistant(
    {"type": "text", "text": "Run `make test` and then **check** the `build/` folder."}, "msg_1"
)
CODE_BLOCK = assistant({"type": "text", "text": "```python\nprint('hi')\n```"}, "msg_2")
DIM_TEXT = [
    assistant({"type": "thinking", "thinking": "Let me look at the tests first."}, "msg_3"),
    assistant({"type": "tool_use", "id": "toolu_R", "name": "Read", "input": {}}, "msg_3"),
    result("line one\nline two", "toolu_R"),
    {"type": "mystery", "detail": "an unknown message, drawn dim"},
    {"type": "system", "subtype": "thinking_tokens", "estimated_tokens": 1200},
]
TODOS = assistant(
    {
        "type": "tool_use",
        "id": "toolu_T",
        "name": "TodoWrite",
        "input": {
            "todos": [
                {"content": "Write the test", "status": "completed", "activeForm": "Writing"},
                {"content": "Fix the bug", "status": "in_progress", "activeForm": "Fixing"},
                {"content": "Ship it", "status": "pending", "activeForm": "Shipping"},
            ]
        },
    },
    "msg_4",
)


def sub_agents(count: int) -> list[dict[str, Any]]:
    """``count`` parallel sub-agents, each saying something behind its own gutter."""
    objs: list[dict[str, Any]] = []
    for number in range(count):
        call_id = f"toolu_agent{number}"
        task = {"type": "tool_use", "id": call_id, "name": "Task", "input": {"description": "x"}}
        objs.append(assistant(task, f"msg_t{number}"))
        reply = {"type": "text", "text": f"agent {number} here"}
        objs.append(assistant(reply, f"msg_a{number}", parent_tool_use_id=call_id))
    return objs


def draw(objs: list[dict[str, Any]], *, label: str | None = None, width: int = 100) -> str:
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=True, width=width, label=label, bell=False)
    for obj in objs:
        renderer.message(Message(json.dumps(obj), obj, 1_773_630_000.0))
    renderer.close()
    return out.getvalue()


@pytest.fixture(params=["truecolor", "256", "standard"])
def color_system(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Colour forced, as each kind of terminal gets it."""
    system = str(request.param)
    for name in ("NO_COLOR", "FORCE_COLOR", "COLORTERM", "TERM"):
        monkeypatch.delenv(name, raising=False)
    if system == "truecolor":
        monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.setenv("TERM", "xterm-256color" if system == "256" else "xterm")
    _forget_rendered_codes()
    yield system
    _forget_rendered_codes()  # nor does a later test get this colour system's codes


def _forget_rendered_codes() -> None:
    """Rich keeps a style's escape codes on the style at its first render, whatever colour
    system asks next (one process has one terminal): so that each colour system is drawn
    afresh here, the renderers' module-level styles forget theirs."""
    seen: set[int] = set()

    def forget(value: Any, depth: int = 0) -> None:
        if id(value) in seen or depth > 3:
            return
        seen.add(id(value))
        if isinstance(value, Style):
            value._ansi = None
        elif isinstance(value, dict):
            for item in value.values():
                forget(item, depth + 1)
        elif isinstance(value, tuple | list):
            for item in value:
                forget(item, depth + 1)

    for name, module in list(sys.modules.items()):
        if name.startswith("sesstail.render"):
            for value in vars(module).values():
                forget(value)
    # Styles made by adding two (WARN_BOLD + a stylize) live in rich's caches.
    for cached in (Style._add, Style.parse):
        cache_clear = getattr(cached, "cache_clear", None)
        if cache_clear is not None:
            cache_clear()


# Lines drawn as warnings: close to the rate limit, a turn that needs the user, a prompt
# withdrawn, an API retry, a state change that needs action.
WARNINGS: list[dict[str, Any]] = [
    {
        "type": "rate_limit_event",
        "rate_limit_info": {"status": "allowed_warning", "rateLimitType": "five_hour"},
    },
    {
        "type": "system",
        "subtype": "post_turn_summary",
        "status_category": "blocked",
        "status_detail": "Waiting for approval",
        "needs_action": True,
    },
    {"type": "control_cancel_request", "request_id": "req_9"},
    {"type": "system", "subtype": "api_retry", "attempt": 2, "max_retries": 10},
    {"type": "system", "subtype": "session_state_changed", "state": "requires_action"},
]

ELEMENTS = {
    "permission banner": [BANNER],
    "inline code": [INLINE_CODE],
    "code block": [CODE_BLOCK],
    "dim text": DIM_TEXT,
    "todo list": [TODOS],
    "sub-agent gutters": sub_agents(8),
}


WIDTHS = pytest.mark.parametrize("width", [120, 60])


@WIDTHS
@pytest.mark.parametrize("element", [*ELEMENTS, "warnings"])
def test_no_element_uses_a_foreground_that_fades_on_white(
    color_system: str, element: str, width: int
) -> None:
    """The banner, inline code, dim text, todos and gutters, drawn in colour at 120 and 60
    columns, use no white, yellow or light grey foreground unless on a background of their own."""
    if element == "warnings" and color_system == "standard":
        pytest.skip("a 16-colour terminal draws a warning in its theme's own yellow")
    out = draw(ELEMENTS.get(element, WARNINGS), width=width)
    assert "\x1b[" in out  # colour was drawn
    assert fading_runs(out) == []


def test_every_session_label_colour_reads_on_white(color_system: str) -> None:
    """Whatever colour a session's label gets, it is not one that fades on white."""
    seen = set()
    for number in range(64):
        out = draw([INLINE_CODE], label=f"session-{number}")
        assert fading_runs(out) == [], number
        seen.add(_SGR.search(out).group(1))  # type: ignore[union-attr]
    assert len(seen) >= 5  # the labels did get several colours


@WIDTHS
def test_banner_title_and_inline_code_carry_their_own_background(
    color_system: str, width: int
) -> None:
    """The two elements drawn on a colour of their own keep it, at 120 and 60 columns: dark
    text on yellow for the banner's title, and inline code on its own background."""
    banner = draw([BANNER], width=width)
    title = re.search(r"\x1b\[([0-9;]*)m *PERMISSION REQUESTED", banner)
    assert title is not None
    assert re.search(r"(^|;)(43|48;5;3|48;2;)", title.group(1)), title.group(1)
    code = draw([INLINE_CODE], width=width)
    span = re.search(r"\x1b\[([0-9;]*)mmake test", code)
    assert span is not None
    assert re.search(r"(^|;)(4[0-7]|48;)", span.group(1)), span.group(1)


def test_the_check_sees_what_fades() -> None:
    """The check itself flags yellow, bright white and light grey text, and lets the same on
    a background, or a dark colour, pass."""
    assert fading_runs("\x1b[33mwarn\x1b[0m") == [("yellow", "warn")]
    assert fading_runs("\x1b[1;97mtitle\x1b[0m") == [("bright_white", "title")]
    assert fading_runs("\x1b[38;5;249mgrey70\x1b[0m") == [("color(249)", "grey70")]
    assert fading_runs("\x1b[38;2;230;230;230mpale\x1b[0m") == [("#e6e6e6", "pale")]
    assert fading_runs("\x1b[30;43m on yellow \x1b[0m") == []
    assert fading_runs("\x1b[38;5;130mdark orange\x1b[0m \x1b[2mdim\x1b[0m") == []


def test_ls_and_mcp_status_colours_read_on_white(color_system: str) -> None:
    """ls's requires_action (on a background of its own) and mcp-status's needs-auth use no
    foreground that fades on white."""
    from rich.console import Console

    from sesstail.render.control_view import mcp_table
    from sesstail.render.sessions_table import render_sessions

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    sessions = [{"id": "session_01A", "title": "t", "session_status": "requires_action"}]
    render_sessions(sessions, out, color=True)
    assert "\x1b[" in out.getvalue()
    if color_system != "standard":
        servers = {"mcpServers": [{"name": "s", "status": "needs-auth"}]}
        table = io.StringIO()
        Console(file=table, force_terminal=True, width=60, height=20).print(mcp_table(servers))
        assert "\x1b[" in table.getvalue()
        assert fading_runs(table.getvalue()) == []
    assert fading_runs(out.getvalue()) == []


def test_top_rows_use_no_colour_that_fades_on_white(color_system: str) -> None:
    """sesstail top's status and last-activity cells, for a waiting session and every kind
    of activity, use no foreground that fades on white (NEEDS YOU has its own background)."""
    from rich.console import Console

    from sesstail.top.app import _ACTIVITY_STYLES, last_cell, status_cell
    from sesstail.top.model import Activity, SessionState

    if color_system == "standard":
        pytest.skip("a 16-colour terminal draws dark orange in its theme's own yellow")
    waiting = SessionState("session_01A", prompts={"r1": {"request": {"tool_name": "Bash"}}})
    cells = [status_cell(waiting), last_cell(waiting)]
    for kind in _ACTIVITY_STYLES:
        busy = SessionState("session_01B", activity=Activity(kind, f"a {kind}", 0.0))
        cells += [status_cell(busy), last_cell(busy)]
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    for cell in cells:
        console.print(cell)
    assert "asks to use Bash" in out.getvalue()
    assert "\x1b[" in out.getvalue()
    assert fading_runs(out.getvalue()) == []
