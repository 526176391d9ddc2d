"""A "still running" line never stays, stale, above the result of the tool it waited for:
on a terminal it is erased, also when several labelled sessions share the terminal; without
one it is held back, and dropped when the result comes next."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from sesstail.protocol import Message
from sesstail.render.pretty import PrettyRenderer

WIDTHS = pytest.mark.parametrize("width", [120, 60])


class Terminal(io.StringIO):
    """stdout as a terminal."""

    def isatty(self) -> bool:
        return True


def screen(output: str) -> list[str]:
    """The rows a terminal shows for ``output``, knowing only newline and CR + erase line."""
    rows = [""]
    for index, part in enumerate(output.split("\r\x1b[2K")):
        if index:
            rows[-1] = ""
        pieces = part.split("\n")
        rows[-1] += pieces[0]
        rows.extend(pieces[1:])
    return rows[:-1] if rows[-1] == "" else rows


def call(name: str, command: str, call_id: str) -> dict[str, Any]:
    block = {"type": "tool_use", "id": call_id, "name": name, "input": {"command": command}}
    message = {"id": "msg_" + call_id, "role": "assistant", "model": "m", "content": [block]}
    return {"type": "assistant", "message": message, "parent_tool_use_id": None}


def progress(seconds: float, call_id: str) -> dict[str, Any]:
    return {
        "type": "tool_progress",
        "tool_use_id": call_id,
        "tool_name": "Bash",
        "elapsed_time_seconds": seconds,
    }


def result(text: str, call_id: str) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": call_id, "content": text, "is_error": False}
    return {"type": "user", "message": {"role": "user", "content": [block]}}


def reply(text: str, msg_id: str) -> dict[str, Any]:
    message = {"id": msg_id, "role": "assistant", "model": "m", "content": [text_block(text)]}
    return {"type": "assistant", "message": message, "parent_tool_use_id": None}


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def two_sessions(out: io.StringIO, width: int) -> dict[str, PrettyRenderer]:
    return {
        label: PrettyRenderer(out, color=False, width=width, label=label, bell=False)
        for label in ("alpha", "beta ")
    }


# Two sessions interleaved: each runs a tool that reports progress, the other one writing
# in between, and each tool's result comes while the other's is still running.
INTERLEAVED = [
    ("alpha", call("Bash", "npm test", "toolu_A")),
    ("alpha", progress(3, "toolu_A")),
    ("beta ", reply("Looking at the logs.", "msg_B1")),
    ("alpha", progress(12, "toolu_A")),
    ("beta ", call("Bash", "make lint", "toolu_B")),
    ("beta ", progress(2, "toolu_B")),
    ("alpha", progress(13, "toolu_A")),
    ("alpha", result("12 passing", "toolu_A")),
    ("beta ", progress(11, "toolu_B")),
    ("alpha", reply("Tests pass.", "msg_A2")),
    ("beta ", result("lint clean", "toolu_B")),
]


def play(out: io.StringIO, width: int, events: list[tuple[str, dict[str, Any]]]) -> str:
    renderers = two_sessions(out, width)
    for label, obj in events:
        renderers[label].message(Message(json.dumps(obj), obj, 1_773_630_000.0))
    for renderer in renderers.values():
        renderer.close()
    return out.getvalue()


@WIDTHS
def test_two_sessions_on_a_terminal_leave_no_running_line(width: int) -> None:
    """Sharing a terminal, each session's live line is erased when the other writes and drawn
    again below; once both results are in, no "still running" row is left on the screen."""
    out = play(Terminal(), width, INTERLEAVED)
    assert out.count("still running") >= 4  # they were drawn, live
    rows = screen(out)
    assert not [row for row in rows if "still running" in row]
    assert rows == [
        "alpha ● Claude · m",
        "alpha   → Bash  npm test",
        "beta  ● Claude · m",
        "beta    Looking at the logs.",
        "beta  ● Claude",
        "beta    → Bash  make lint",
        "alpha     ⎿ 12 passing",
        "alpha ● Claude",
        "alpha   Tests pass.",
        "beta      ⎿ lint clean",
    ]


@WIDTHS
def test_a_running_line_stays_at_the_bottom_while_the_other_session_writes(width: int) -> None:
    """While alpha's tool runs, beta's lines go above alpha's live line, which stays last."""
    out = play(Terminal(), width, INTERLEAVED[:3])
    rows = screen(out)
    assert rows[-1] == "alpha     ⋯ Bash still running · 3.0 s"
    assert rows[-2] == "beta    Looking at the logs."
    assert sum("still running" in row for row in rows) == 1


@WIDTHS
def test_two_sessions_without_a_terminal_print_no_stale_running_line(width: int) -> None:
    """Piped, "still running" lines are held back and dropped when the result comes next:
    none is printed above a result, in either session."""
    out = play(io.StringIO(), width, INTERLEAVED)
    assert "\x1b" not in out
    assert "still running" not in out
    lines = out.splitlines()
    assert lines.index("alpha     ⎿ 12 passing") > lines.index("alpha   → Bash  npm test")
    assert lines[-1] == "beta      ⎿ lint clean"


@WIDTHS
def test_without_a_terminal_a_running_line_is_kept_when_something_else_comes(width: int) -> None:
    """A tool still running when its session moves on (a new prompt, the end of the watch)
    keeps its last "still running" lines, printed before what came next."""
    prompt = {"type": "user", "message": {"role": "user", "content": "stop that"}}
    events = [
        ("alpha", call("Bash", "sleep 100", "toolu_A")),
        ("alpha", progress(3, "toolu_A")),
        ("beta ", reply("Meanwhile.", "msg_B")),
        ("alpha", prompt),
        ("beta ", call("Bash", "sleep 5", "toolu_B")),
        ("beta ", progress(1, "toolu_B")),
    ]
    lines = play(io.StringIO(), width, events).splitlines()
    running = lines.index("alpha     ⋯ Bash still running · 3.0 s")
    assert lines.index("beta    Meanwhile.") < running < lines.index("alpha ❯ stop that")
    assert lines[-1] == "beta      ⋯ Bash still running · 1.0 s"  # written by close()


def test_parallel_tools_of_one_session_share_one_live_line() -> None:
    """On a terminal, the progress of two parallel tools redraws one line, never ending one
    that would stay above its result."""
    out = Terminal()
    renderer = PrettyRenderer(out, color=False, width=100, bell=False)
    for obj in (
        call("Bash", "a", "toolu_1"),
        call("Bash", "b", "toolu_2"),
        progress(3, "toolu_1"),
        progress(3, "toolu_2"),
        result("one", "toolu_1"),
        progress(4, "toolu_2"),
        result("two", "toolu_2"),
    ):
        renderer.message(Message(json.dumps(obj), obj, 0.0))
    renderer.close()
    rows = screen(out.getvalue())
    assert not [row for row in rows if "still running" in row]
    assert rows[-4:] == ["    ⎿ Bash  a", "      one", "    ⎿ Bash  b", "      two"]
