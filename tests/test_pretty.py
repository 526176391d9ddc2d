"""The pretty renderer and the sanitizer: what a person following a session sees."""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesstail.protocol import Message
from sesstail.render.pretty import PrettyRenderer
from sesstail.render.pretty.text import clock_time
from sesstail.render.sanitize import clean

RECEIVED_AT = 1_773_630_000.25
SESSION = "session_01DemoSesstailWalkthrough"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(*objs: dict[str, Any], color: bool = False, width: int = 100, **options: Any) -> str:
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=color, width=width, **options)
    for obj in objs:
        renderer.message(Message(json.dumps(obj), obj, RECEIVED_AT))
    renderer.close()
    return out.getvalue()


def assistant(block: dict[str, Any], msg_id: str = "msg_01A", **extra: Any) -> dict[str, Any]:
    message = {"id": msg_id, "role": "assistant", "model": "claude-sonnet-4-5", "content": [block]}
    return {"type": "assistant", "message": message, "parent_tool_use_id": None, **extra}


def tool_use(name: str, tool_input: Any, call_id: str = "toolu_01", **extra: Any) -> dict[str, Any]:
    block = {"type": "tool_use", "id": call_id, "name": name, "input": tool_input}
    return assistant(block, **extra)


def tool_result(
    content: Any, call_id: str = "toolu_01", *, is_error: bool = False, **extra: Any
) -> dict[str, Any]:
    block = {
        "type": "tool_result",
        "tool_use_id": call_id,
        "content": content,
        "is_error": is_error,
    }
    return {"type": "user", "message": {"role": "user", "content": [block]}, **extra}


def prompt(content: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": content}, **extra}


def lines_of(text: str) -> list[str]:
    return text.splitlines()


# -- clean() ------------------------------------------------------------------------------------


def test_clean_escapes_every_control_c1_and_bidi_character() -> None:
    """clean() turns C0 (but tab and newline), DEL, C1 and bidi overrides into visible escapes."""
    unsafe = [
        *(c for c in range(0x20) if c not in (0x09, 0x0A)),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
    for code in unsafe:
        cleaned = clean(f"a{chr(code)}b")
        assert chr(code) not in cleaned
        assert cleaned == (f"a\\x{code:02x}b" if code < 0x100 else f"a\\u{code:04x}b")
    assert clean("\x1b[31mRED\x1b]0;title\x07") == "\\x1b[31mRED\\x1b]0;title\\x07"
    assert clean("tab\there\nnext") == "tab\there\nnext"
    assert clean("windows\r\nline") == "windows\\x0d\nline"
    assert clean("héllo wörld ✓ 日本") == "héllo wörld ✓ 日本"


def test_clean_returns_clean_text_unchanged() -> None:
    """clean() takes the fast path: text with nothing to escape comes back as the same object."""
    text = "plain text\nwith lines\tand tabs " * 50
    assert clean(text) is text


# -- conversation ----------------------------------------------------------------------------


def test_init_shows_model_cwd_mode_tools_and_mcp() -> None:
    """system/init draws a session start line with model, cwd, permission mode, tools, MCP."""
    out = render(
        {
            "type": "system",
            "subtype": "init",
            "model": "claude-sonnet-4-5",
            "cwd": "/home/dev/app",
            "permissionMode": "acceptEdits",
            "tools": ["Bash", "Edit", "Read"],
            "mcp_servers": [{"name": "github", "status": "connected"}],
            "claude_code_version": "2.1.0",
        }
    )
    for expected in ("session start", "claude-sonnet-4-5", "/home/dev/app", "acceptEdits"):
        assert expected in out
    assert "3 tools" in out
    assert "github (connected)" in out
    assert "2.1.0" in out


def test_user_prompt_string_and_text_blocks() -> None:
    """A user prompt shows its text, whether content is a string or a list of text blocks."""
    out = render(
        prompt("fix the flaky test"),
        prompt([{"type": "text", "text": "and then run the suite"}]),
    )
    assert "❯ fix the flaky test" in out
    assert "❯ and then run the suite" in out


def test_replayed_prompt_is_marked() -> None:
    """A user message with isReplay: true is marked as a replay."""
    out = render(prompt("fix the flaky test", isReplay=True))
    assert "(replay) fix the flaky test" in out


def test_blocks_of_one_reply_share_one_header() -> None:
    """Consecutive assistant messages with the same message.id draw one header, a new id another."""
    out = render(
        assistant({"type": "thinking", "thinking": "Run the tests first."}),
        assistant({"type": "text", "text": "Running the tests."}),
        tool_use("Bash", {"command": "pytest -q"}),
        tool_result("12 passed"),
        assistant({"type": "text", "text": "All green."}, msg_id="msg_01B"),
    )
    assert out.count("● Claude") == 2
    assert "Running the tests." in out
    assert "All green." in out


def test_thinking_is_shown_marked() -> None:
    """A thinking block is shown with its own mark, separate from the reply text."""
    out = render(assistant({"type": "thinking", "thinking": "The clock is local, the data UTC."}))
    assert "✻ The clock is local, the data UTC." in out


def test_thinking_is_dim_italic_in_colour() -> None:
    """With colour, thinking is drawn dim and italic (SGR 2 and 3)."""
    out = render(assistant({"type": "thinking", "thinking": "hmm"}), color=True)
    assert "\x1b[2;3mhmm" in out


def test_markdown_prose_is_rendered() -> None:
    """Assistant text with Markdown is rendered: list bullets drawn, emphasis marks gone."""
    out = render(
        assistant({"type": "text", "text": "Done:\n\n- **fixed** `parse`\n- added a test"})
    )
    assert "• fixed parse" in out
    assert "**" not in out
    assert "`" not in out


@pytest.mark.parametrize(
    ("name", "tool_input", "expected"),
    [
        ("Bash", {"command": "pytest -q tests/", "description": "Run tests"}, "pytest -q tests/"),
        ("Bash", {"command": "pytest -q tests/", "description": "Run tests"}, "Run tests"),
        ("Read", {"file_path": "/app/src/dates.py", "offset": 10, "limit": 5}, "/app/src/dates.py"),
        ("Read", {"file_path": "/app/src/dates.py", "offset": 10, "limit": 5}, "lines 10–14"),
        ("Write", {"file_path": "/app/new.py", "content": "a\nb\n"}, "/app/new.py  2 lines"),
        ("Edit", {"file_path": "/app/x.py", "old_string": "a", "new_string": "b"}, "/app/x.py"),
        ("MultiEdit", {"file_path": "/app/y.py", "edits": []}, "/app/y.py"),
        ("Grep", {"pattern": "def parse_", "path": "src"}, "def parse_  in src"),
        ("Glob", {"pattern": "**/*.py"}, "**/*.py"),
        ("WebFetch", {"url": "https://example.com/doc", "prompt": "x"}, "https://example.com/doc"),
        ("Task", {"description": "Check callers", "subagent_type": "Explore"}, "Check callers"),
        ("Task", {"description": "Check callers", "subagent_type": "Explore"}, "(Explore)"),
        ("Agent", {"description": "Explore repo", "prompt": "..."}, "Explore repo"),
        ("TodoWrite", {"todos": [{"status": "completed"}, {"status": "pending"}]}, "2 todos"),
    ],
)
def test_tool_call_is_one_line_with_its_key_input(
    name: str, tool_input: dict[str, Any], expected: str
) -> None:
    """Each tool call is one line: the tool name and its key input."""
    out = render(tool_use(name, tool_input), width=160)
    call_lines = [line for line in lines_of(out) if line.startswith("  → ")]
    assert len(call_lines) == 1
    assert call_lines[0].startswith(f"  → {name}")
    assert expected in call_lines[0]


def test_unknown_tool_input_is_shown_readably_whole() -> None:
    """An unknown tool's input is shown as key: value lines under its name, each value whole."""
    out = render(tool_use("Mystery", {"blob": "x" * 500, "n": 3}), width=100)
    lines = lines_of(out)
    call = lines.index("  → Mystery")
    assert lines[call + 1].startswith("      blob:")
    assert "".join(line.strip() for line in lines[call + 1 :]).count("x") == 500
    assert lines[-1] == "      n:    3"


def test_multiline_command_stays_on_one_line() -> None:
    """A multi-line Bash command shows its first line and a mark, never a second line."""
    out = render(tool_use("Bash", {"command": "cd app\nmake test"}))
    assert "  → Bash  cd app …" in out
    assert "make test" not in out


def test_edit_call_is_drawn_as_a_diff() -> None:
    """An Edit call shows old_string lines with '-' and new_string lines with '+'."""
    edit = {"file_path": "/app/d.py", "old_string": "x = 1\ny = 2", "new_string": "x = 3"}
    out = render(tool_use("Edit", edit))
    assert "- x = 1" in out
    assert "- y = 2" in out
    assert "+ x = 3" in out
    coloured = render(tool_use("Edit", edit), color=True)
    assert "\x1b[31m- x = 1" in coloured
    assert "\x1b[32m+ x = 3" in coloured


def test_long_edit_diff_is_truncated() -> None:
    """A long Edit diff shows a few lines per side and how many more there are."""
    old = "\n".join(f"old {i}" for i in range(30))
    out = render(tool_use("Edit", {"file_path": "/a", "old_string": old, "new_string": "new"}))
    assert "- old 5" in out
    assert "- old 6" not in out
    assert "24 more lines" in out


def test_tool_result_sits_under_its_call() -> None:
    """A result right after its call is drawn under it, without repeating the call."""
    out = render(tool_use("Bash", {"command": "echo hi"}), tool_result("hi"))
    assert lines_of(out)[-2:] == ["  → Bash  echo hi", "    ⎿ hi"]


def test_tool_result_is_matched_to_its_call_by_id() -> None:
    """A result that does not follow its call names the call it belongs to, found by id."""
    out = render(
        tool_use("Bash", {"command": "echo one"}, call_id="toolu_A"),
        tool_use("Read", {"file_path": "/etc/hosts"}, call_id="toolu_B"),
        tool_result("one", call_id="toolu_A"),
        tool_result("127.0.0.1 localhost", call_id="toolu_B"),
    )
    lines = lines_of(out)
    first = lines.index("    ⎿ Bash  echo one")
    assert lines[first + 1] == "      one"
    second = lines.index("    ⎿ Read  /etc/hosts")
    assert lines[second + 1] == "      127.0.0.1 localhost"


def test_tool_result_blocks_content_is_shown() -> None:
    """A result whose content is a list of blocks shows their text."""
    out = render(
        tool_use("Task", {"description": "d"}), tool_result([{"type": "text", "text": "ok"}])
    )
    assert "⎿ ok" in out


def test_long_tool_result_is_summarised() -> None:
    """A long result shows its first lines and how many more there are."""
    output = "\n".join(f"line {i}" for i in range(20))
    out = render(tool_use("Bash", {"command": "seq"}), tool_result(output))
    assert "line 5" in out
    assert "line 6" not in out
    assert "… 14 more lines" in out


def test_error_result_is_marked_and_keeps_its_end() -> None:
    """An error result is marked ✗ and shows its last lines, where failures say what broke."""
    output = "\n".join(["collected 6 items", *[f"noise {i}" for i in range(20)], "1 failed"])
    out = render(tool_use("Bash", {"command": "pytest"}), tool_result(output, is_error=True))
    assert "    ✗ collected 6 items" in out
    assert "1 failed" in out
    assert "more lines" in out


def test_error_result_is_red_in_colour() -> None:
    """With colour, an error result is drawn in red."""
    out = render(
        tool_result("<tool_use_error>File not found</tool_use_error>", is_error=True), color=True
    )
    assert "\x1b[31mFile not found" in out
    assert "tool_use_error" not in out


def test_sub_agent_messages_are_set_apart() -> None:
    """Messages with a parent_tool_use_id sit behind a gutter, under the Task that started them."""
    out = render(
        tool_use("Task", {"description": "Check other callers"}, call_id="toolu_T"),
        prompt("Find the callers", parent_tool_use_id="toolu_T"),
        assistant({"type": "text", "text": "Searching."}, "msg_S", parent_tool_use_id="toolu_T"),
        tool_use(
            "Grep", {"pattern": "parse"}, "toolu_G", msg_id="msg_S", parent_tool_use_id="toolu_T"
        ),
        tool_result("a.py:1", "toolu_G", parent_tool_use_id="toolu_T"),
    )
    lines = lines_of(out)
    start = lines.index("  │ ❯ Find the callers")
    assert lines[start + 1] == "  │ ● agent · Check other callers"
    assert all(line.startswith("  │ ") for line in lines[start:])
    assert "  │   → Grep  parse" in lines
    assert "  │     ⎿ a.py:1" in lines


def test_tool_progress_does_not_flood() -> None:
    """tool_progress shows one line, then only when 10 s, 30 s, and each further minute pass."""
    events = [
        {
            "type": "tool_progress",
            "tool_use_id": "toolu_1",
            "tool_name": "Bash",
            "elapsed_time_seconds": s,
        }
        for s in (1, 2, 3, 9, 12, 13, 29, 31, 45, 61, 62, 119, 125)
    ]
    out = render(*events)
    shown = [line for line in lines_of(out) if "still running" in line]
    assert [line.rsplit("· ", 1)[1] for line in shown] == [
        "1.0 s",
        "12.0 s",
        "31.0 s",
        "1 min 1 s",
        "2 min 5 s",
    ]
    assert shown[0] == "    ⋯ Bash still running · 1.0 s"


def test_stream_events_and_keep_alive_draw_nothing() -> None:
    """stream_event deltas and keep_alive frames draw nothing at all."""
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "All"}}
    out = render({"type": "stream_event", "event": delta}, {"type": "keep_alive"})
    assert out == ""


# -- system, rate limits, results --------------------------------------------------------------


def test_compaction_status_and_boundary() -> None:
    """Compaction shows a 'compacting context…' line, then a rule with trigger and pre_tokens."""
    out = render(
        {"type": "system", "subtype": "status", "status": "compacting"},
        {
            "type": "system",
            "subtype": "compact_boundary",
            "compact_metadata": {"trigger": "auto", "pre_tokens": 171000},
        },
    )
    assert "compacting context…" in out
    boundary = lines_of(out)[-1]
    assert "context compacted · auto · 171,000 tokens before" in boundary
    assert boundary.startswith("───")


def test_api_retry_line() -> None:
    """system/api_retry shows the attempt, the delay and the HTTP status, yellow in colour."""
    retry = {
        "type": "system",
        "subtype": "api_retry",
        "attempt": 2,
        "max_retries": 10,
        "retry_delay_ms": 4000,
        "error_status": 529,
    }
    assert "API retry 2/10 in 4.0 s · HTTP 529" in render(retry)
    assert "\x1b[1;33m⚠ API retry" in render(retry, color=True)


def test_rate_limit_event_line() -> None:
    """allowed_warning reads as words: the window, utilization as a percentage, the reset."""
    reset = 1_775_130_000
    out = render(
        {
            "type": "rate_limit_event",
            "rate_limit_info": {
                "status": "allowed_warning",
                "rateLimitType": "five_hour",
                "utilization": 0.91,
                "resetsAt": reset,
            },
        }
    )
    expected = "⚠ close to the rate limit · 91% of the five-hour limit used · resets "
    assert expected + clock_time(reset) in out


def test_task_lines() -> None:
    """Task started, notification and progress messages draw compact lines."""
    out = render(
        {
            "type": "system",
            "subtype": "task_started",
            "task_id": "t1",
            "description": "Explore repo",
        },
        {
            "type": "system",
            "subtype": "task_notification",
            "task_id": "t1",
            "status": "completed",
            "summary": "Found 3 call sites",
        },
        {
            "type": "system",
            "subtype": "task_progress",
            "task_id": "t1",
            "description": "Explore repo",
            "usage": {"tool_uses": 4, "total_tokens": 12000, "duration_ms": 30000},
            "last_tool_name": "Grep",
        },
    )
    lines = lines_of(out)
    assert lines[0] == "⧉ task started · Explore repo (t1)"
    assert lines[1] == "⧉ task completed · Found 3 call sites (t1)"
    assert "4 tool uses · 12,000 tokens · 30.0 s · last Grep" in lines[2]


def test_success_result_footer() -> None:
    """A result draws a footer with status, duration, turns, cost and tokens."""
    out = render(
        {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "duration_ms": 18234,
            "num_turns": 3,
            "result": "Fixed.",
            "total_cost_usd": 0.083,
            "usage": {
                "input_tokens": 40,
                "output_tokens": 900,
                "cache_read_input_tokens": 1200,
                "cache_creation_input_tokens": 300,
            },
        }
    )
    footer = lines_of(out)[-1]
    assert footer == (
        "■ success · 18.2 s · 3 turns · $0.083 · tokens 40 in / 900 out"
        " · cache 1,200 read / 300 written"
    )


def test_long_duration_is_human() -> None:
    """Durations past a minute read as minutes and seconds."""
    out = render({"type": "result", "subtype": "success", "duration_ms": 125_000})
    assert "2 min 5 s" in out


def test_error_result_footer_is_red_with_its_errors() -> None:
    """An error result is drawn in red and lists its errors."""
    result = {
        "type": "result",
        "subtype": "error_max_turns",
        "is_error": True,
        "num_turns": 10,
        "total_cost_usd": 0.41,
        "errors": ["Reached max turns"],
    }
    out = render(result)
    assert "■ error_max_turns · 10 turns · $0.410" in out
    assert "✗ Reached max turns" in out
    assert "\x1b[1;31m■ \x1b[0m\x1b[1;31merror_max_turns" in render(result, color=True)


# -- control messages -------------------------------------------------------------------------


def test_permission_prompt_is_impossible_to_miss() -> None:
    """A can_use_tool request draws a banner with the tool, its input, the reason and request id."""
    request = {
        "type": "control_request",
        "request_id": "req-7f3a",
        "request": {
            "subtype": "can_use_tool",
            "tool_name": "Bash",
            "input": {"command": "rm -rf build"},
            "tool_use_id": "toolu_01",
            "decision_reason": "Command deletes files",
            "description": "Delete the build folder",
        },
    }
    out = render(request)
    assert "PERMISSION REQUESTED" in out
    assert "┃ Bash  " in out
    assert "┃ rm -rf build " in out
    assert "decision reason: Command deletes files" in out
    assert "description: Delete the build folder" in out
    assert "request id: req-7f3a" in out
    assert "┏" in out  # a heavy box around it
    assert "\x1b[1;30;43m  PERMISSION REQUESTED  " in render(request, color=True)


def test_other_control_messages_are_compact_lines() -> None:
    """Other control requests, cancellations and responses draw one line each with the id."""
    out = render(
        {"type": "control_request", "request_id": "r2", "request": {"subtype": "interrupt"}},
        {"type": "control_cancel_request", "request_id": "r1"},
        {"type": "control_response", "response": {"subtype": "success", "request_id": "r2"}},
        {
            "type": "control_response",
            "response": {"subtype": "error", "request_id": "r3", "error": "Unsupported"},
        },
    )
    assert lines_of(out) == [
        "⇄ control request interrupt (r2)",
        "⇄ permission prompt r1 withdrawn",
        "⇄ control response success (r2)",
        "⇄ control response error (r3): Unsupported",
    ]


# -- anything else, and broken messages --------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "key", "summary"),
    [
        ({"type": "zzz_new", "x": 1}, "zzz_new", '{"x":1}'),
        ({"type": "auth_status", "isAuthenticating": True}, "auth_status", "isAuthenticating"),
        ({"type": "tool_use_summary", "summary": "Read 3 files"}, "tool_use_summary", "Read 3"),
        (
            {"type": "prompt_suggestion", "suggestion": "run tests"},
            "prompt_suggestion",
            "run tests",
        ),
        (
            {"type": "system", "subtype": "files_persisted", "files": ["a.py"]},
            "system/files_persisted",
            "a.py",
        ),
    ],
)
def test_unknown_types_draw_a_compact_line(obj: dict[str, Any], key: str, summary: str) -> None:
    """Any other type or system subtype draws one line: type/subtype and a JSON summary."""
    obj = {**obj, "uuid": str(uuid.uuid4()), "session_id": SESSION}
    lines = lines_of(render(obj))
    assert len(lines) == 1
    assert lines[0].startswith(f"· {key}  ")
    assert summary in lines[0]
    assert SESSION not in lines[0]


def test_unknown_type_summary_is_truncated() -> None:
    """The compact line of an unknown type with a large body stays one short line."""
    lines = lines_of(render({"type": "zzz_new", "blob": "y" * 10_000}, width=500))
    assert len(lines) == 1
    assert len(lines[0]) < 200


MALFORMED: list[dict[str, Any]] = [
    {"type": "assistant", "message": "not an object"},
    {"type": "assistant", "message": {"id": 5, "content": 42}},
    {"type": "assistant", "message": {"content": [1, "two", None]}},
    {"type": "assistant", "message": {"content": [{"type": "tool_use", "input": [1, 2]}]}},
    {"type": "assistant", "message": {"content": [{"type": "text", "text": 3}]}},
    {"type": "assistant", "message": {"content": [{"type": "thinking", "thinking": None}]}},
    {
        "type": "assistant",
        "message": {"content": [{"type": "tool_use", "name": "Edit", "input": {"old_string": 1}}]},
    },
    {"type": "user", "message": None},
    {"type": "user", "message": {"content": 7}},
    {"type": "user", "message": {"content": [{"type": "tool_result", "content": {"a": 1}}]}},
    {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "content": 3.5, "is_error": "yes"}]},
    },
    {"type": "result", "duration_ms": "slow", "num_turns": None, "usage": [], "errors": "x"},
    {"type": "result", "subtype": 5, "total_cost_usd": float("inf")},
    {"type": "result", "is_error": True, "errors": [1, None, {"a": 2}]},
    {"type": "system"},
    {"type": "system", "subtype": "init", "tools": 3, "mcp_servers": [1, {"name": 2}]},
    {"type": "system", "subtype": "compact_boundary", "compact_metadata": "big"},
    {"type": "system", "subtype": "api_retry", "attempt": "two", "error_status": [529]},
    {"type": "system", "subtype": "task_progress", "usage": {"duration_ms": "long"}},
    {"type": "rate_limit_event", "rate_limit_info": "nope"},
    {"type": "rate_limit_event", "rate_limit_info": {"utilization": "high", "resetsAt": 10**30}},
    {"type": "tool_progress", "elapsed_time_seconds": "a while"},
    {"type": "control_request", "request": "can_use_tool"},
    {"type": "control_request", "request": {"subtype": "can_use_tool", "input": "rm"}},
    {"type": "control_response", "response": 1},
    {"type": "control_cancel_request"},
    {"type": "stream_event", "event": "x"},
]


@pytest.mark.parametrize("obj", MALFORMED)
def test_malformed_messages_never_raise(obj: dict[str, Any]) -> None:
    """A message with missing fields or fields of the wrong type still draws a line."""
    out = render(obj)
    if obj["type"] != "stream_event":
        assert out.strip()


def test_malformed_message_falls_back_to_the_compact_line() -> None:
    """A message that cannot be drawn as its type is drawn as the compact line instead."""
    out = render({"type": "assistant", "message": "not an object"})
    assert out == '· assistant  {"message":"not an object"}\n'


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "message",
        "content",
        "subtype",
        "input",
        "request",
        "response",
        "usage",
        "errors",
        "rate_limit_info",
        "parent_tool_use_id",
        "id",
        "name",
        "tool_use_id",
        "status",
        "modelUsage",
        "permission_denials",
        "compactMetadata",
        "data",
        "isMeta",
        "isSynthetic",
        "estimated_tokens",
        "exit_code",
    ]
)
TYPES = st.sampled_from(
    [
        "assistant",
        "user",
        "result",
        "system",
        "tool_progress",
        "rate_limit_event",
        "control_request",
        "control_response",
        "control_cancel_request",
        "stream_event",
        "env_manager_log",
        "post_turn_summary",
        "conversation_reset",
        "zzz",
    ]
)


@settings(max_examples=300, deadline=None)
@given(kind=TYPES, fields=st.dictionaries(KEYS, JSON, max_size=5))
def test_arbitrary_messages_never_raise(kind: str, fields: dict[str, Any]) -> None:
    """Whatever shape a message has, drawing it never raises."""
    render({**fields, "type": kind}, color=True)


# -- untrusted text -----------------------------------------------------------------------------

EVIL = "\x1b[31mRED\x1b]0;title\x07 and \x9b2J and \u202eevil"


def evil_messages() -> list[dict[str, Any]]:
    return [
        {"type": "system", "subtype": "init", "model": EVIL, "cwd": EVIL},
        prompt(EVIL),
        assistant({"type": "text", "text": EVIL}),
        assistant({"type": "text", "text": "**bold** " + EVIL}, msg_id="msg_02"),
        assistant({"type": "thinking", "thinking": EVIL}),
        tool_use("Bash", {"command": EVIL, "description": EVIL}),
        tool_use("Edit", {"file_path": EVIL, "old_string": EVIL, "new_string": EVIL}, "toolu_2"),
        tool_result(EVIL),
        tool_result(EVIL, "toolu_2", is_error=True),
        {"type": "result", "subtype": "error_during_execution", "is_error": True, "errors": [EVIL]},
        {
            "type": "control_request",
            "request_id": EVIL,
            "request": {"subtype": "can_use_tool", "tool_name": EVIL, "input": {"x": EVIL}},
        },
        {"type": "zzz_new", "x": EVIL},
        {"type": "system", "subtype": EVIL, "x": EVIL},
    ]


def test_escape_sequences_are_neutralised_without_colour() -> None:
    """Without colour, remote escape sequences reach the output only as visible text."""
    out = render(*evil_messages(), label="a\x1bb", timestamps=True)
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in out
    assert "\\x1b[31mRED\\x1b]0;title\\x07" in out


def test_escape_sequences_are_neutralised_with_colour() -> None:
    """With colour, only rich's own SGR codes appear: none of the remote escape sequences do."""
    out = render(*evil_messages(), color=True)
    assert "\x1b]0;title" not in out
    assert "\x1b[31mRED\x1b" not in out
    for raw in ("\x07", "\x9b", "\u202e"):
        assert raw not in out
    assert "\x1b" not in ANSI.sub("", out)


def test_markdown_entities_cannot_smuggle_controls() -> None:
    """HTML entities that Markdown decodes (bidi overrides) are neutralised after rendering."""
    text = "**x** &#x202e;evil &#x2066;more &#27;[31m"
    for color in (False, True):
        out = render(assistant({"type": "text", "text": text}), color=color)
        assert "\u202e" not in out
        assert "\u2066" not in out
        assert "\x1b[31m" not in out
        assert "evil" in out
    assert "\x1b" not in render(assistant({"type": "text", "text": text}))


def test_remote_markup_is_shown_literally() -> None:
    """Rich markup in remote text is not parsed: brackets appear exactly as sent."""
    markup = "[bold red]hi[/bold red] [link=http://x]y[/link]"
    out = render(
        prompt(markup),
        tool_use("Bash", {"command": markup}),
        tool_result(markup),
        {"type": "zzz_new", "x": markup},
        width=200,
    )
    assert out.count(markup) == 4  # prompt, call, result, and inside the JSON summary
    coloured = render(prompt(markup), color=True)
    assert markup in ANSI.sub("", coloured)
    assert "\x1b]8;" not in coloured


# -- options ------------------------------------------------------------------------------------


def test_no_ansi_codes_without_colour() -> None:
    """color=False writes no escape codes at all."""
    out = render(
        tool_use("Edit", {"file_path": "/a", "old_string": "a", "new_string": "b"}),
        tool_result("boom", is_error=True),
        {"type": "result", "subtype": "error_max_turns", "is_error": True},
    )
    assert "\x1b" not in out


def test_timestamps_prefix_the_first_line_of_each_message() -> None:
    """timestamps=True puts the local receive time HH:MM:SS before each message's first line."""
    out = render(prompt("one\ntwo"), timestamps=True)
    stamp = time.strftime("%H:%M:%S", time.localtime(RECEIVED_AT))
    assert lines_of(out)[1:] == [f"{stamp} ❯ one", "           two"]


def test_label_prefixes_every_line() -> None:
    """A session label is put before every line drawn."""
    out = render(prompt("one\ntwo"), tool_use("Bash", {"command": "ls"}), label="api")
    assert all(line.startswith("api ") for line in lines_of(out) if line)


def test_width_none_lets_rich_decide() -> None:
    """width=None renders without error, at rich's own width."""
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False)
    renderer.message(Message("", prompt("hello"), RECEIVED_AT))
    renderer.close()
    assert "❯ hello" in out.getvalue()


def test_each_message_is_written_at_once() -> None:
    """message() writes its output before returning; nothing waits for close()."""
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False, width=80)
    renderer.message(Message("", prompt("now"), RECEIVED_AT))
    assert "❯ now" in out.getvalue()


# -- the demo session ---------------------------------------------------------------------------


def demo_records() -> list[dict[str, Any]]:
    text = resources.files("sesstail.server").joinpath("demo_session.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_demo_session_has_the_recorded_shape() -> None:
    """Every demo line is {recorded_at, message}, in time order, with the demo session id."""
    records = demo_records()
    assert len(records) > 20
    times = [record["recorded_at"] for record in records]
    assert all(set(record) == {"recorded_at", "message"} for record in records)
    assert all(isinstance(t, float | int) for t in times)
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert 8 <= times[-1] <= 10
    for record in records:
        message = record["message"]
        assert isinstance(message["type"], str)
        assert message["session_id"] == SESSION
        assert message["type"] != "keep_alive"
    # One permission prompt, which the server waits on: it asks about a call already made.
    prompts = [r["message"] for r in records if r["message"]["type"] == "control_request"]
    assert [p["request"]["subtype"] for p in prompts] == ["can_use_tool"]
    assert "uuid" not in prompts[0]


def test_demo_session_uuids_are_unique_uuid4() -> None:
    """Every demo message but stream events and the control request has its own uuid4."""
    messages = [record["message"] for record in demo_records()]
    carrying = [m for m in messages if m["type"] not in ("stream_event", "control_request")]
    ids = [m["uuid"] for m in carrying]
    assert len(ids) == len(set(ids)) == len(carrying)
    assert all(uuid.UUID(value).version == 4 for value in ids)


def test_demo_session_tells_the_whole_story() -> None:
    """The demo holds every kind of message the walkthrough promises, in order."""
    keys = []
    for record in demo_records():
        message = record["message"]
        key = message["type"]
        if "subtype" in message:
            key += "/" + message["subtype"]
        if key == "assistant":
            key += "/" + message["message"]["content"][0]["type"]
        keys.append(key)
    order = [
        "system/init",
        "user",
        "assistant/thinking",
        "assistant/text",
        "assistant/tool_use",
        "tool_progress",
        "system/task_started",
        "system/task_notification",
        "system/status",
        "system/compact_boundary",
        "system/api_retry",
        "rate_limit_event",
        "stream_event",
        "result/success",
    ]
    positions = [keys.index(key) for key in order]
    assert positions == sorted(positions)
    assert keys[-1] == "result/success"
    assert any(r["message"].get("parent_tool_use_id") for r in demo_records())


def test_demo_session_renders_the_failing_and_passing_runs() -> None:
    """The whole demo renders without a fallback line, showing both test runs and the cost."""
    records = demo_records()
    out = render(*(record["message"] for record in records), width=120)
    assert "    ✗ F....." in out
    assert "FAILED tests/test_dates.py::test_due_tomorrow" in out
    assert "14 passed in 0.21s" in out
    assert "-     today = date.today()" in out
    assert "+     today = datetime.now(timezone.utc).date()" in out
    assert "  │ ● agent · Check other callers" in out
    assert "■ success" in out
    assert "$0.083" in out
    assert not [line for line in lines_of(out) if line.startswith("· ")]
    assert "\x1b" not in out
    assert "\x1b" not in ANSI.sub("", render(*(r["message"] for r in records), color=True))
