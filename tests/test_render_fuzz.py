"""Fuzzing the sanitiser, the line cutter, the banner and the frame parser with every control
character."""

from __future__ import annotations

import io
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sesstail.protocol import Message
from sesstail.render.pretty import PrettyRenderer
from sesstail.render.pretty.text import LINE_CHARS, cut_line, excerpt, one_line
from sesstail.render.sanitize import clean

UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CONTROLS = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]) + "".join(
    chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
# Every control character, printable ASCII, and a few wider characters.
TEXT = st.text(
    alphabet=st.sampled_from(CONTROLS)
    | st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    | st.sampled_from("é漢字✓→\u00a0"),
    max_size=300,
)


def escapes(text: str) -> int:
    """How many characters clean() adds: 3 for \\xNN, 5 for \\uNNNN."""
    return sum(3 if ord(c) < 0x100 else 5 for c in UNSAFE.findall(text))


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_clean_leaves_no_control_character_and_drops_nothing(text: str) -> None:
    """clean() leaves no unsafe character and only adds escapes: every other character stays."""
    cleaned = clean(text)
    assert UNSAFE.search(cleaned) is None
    assert len(cleaned) == len(text) + escapes(text)
    if "\\" not in text:  # the escapes taken out again give the text without its controls
        assert re.sub(r"\\x[0-9a-f]{2}|\\u20[26][0-9a-f]", "", cleaned) == UNSAFE.sub("", text)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_line_cutter_keeps_whole_short_lines_and_escapes_everything(text: str) -> None:
    """The line cutter returns clean() of a line up to LINE_CHARS, and never a control char."""
    line = text.replace("\n", " ")
    cut = cut_line(line)
    assert UNSAFE.search(cut) is None
    if len(line) <= LINE_CHARS:
        assert cut == clean(line)
    else:
        assert cut == clean(line[:LINE_CHARS]) + "…"
    lines, hidden = excerpt(text, 3)
    assert all(UNSAFE.search(part) is None for part in lines)
    stripped = text.rstrip(" \t\n").lstrip("\n")
    assert len(lines) + hidden == (stripped.count("\n") + 1 if stripped else 0)
    assert UNSAFE.search(one_line(text, 50)) is None


@settings(max_examples=150, deadline=None)
@given(command=TEXT, width=st.sampled_from([60, 120]))
def test_a_prompted_command_is_shown_whole(command: str, width: int) -> None:
    """Whatever a Bash command holds, the banner shows all of it (escaped) and no raw control."""
    request = {
        "subtype": "can_use_tool",
        "tool_name": "Bash",
        "input": {"command": command},
        "tool_use_id": "toolu_01F",
    }
    obj = {"type": "control_request", "request_id": "req_f", "request": request}
    out = io.StringIO()
    PrettyRenderer(out, color=True, width=width).message(Message(json.dumps(obj), obj, 0.0))
    drawn = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())
    assert UNSAFE.search(drawn) is None
    inside = "".join(line[1:-1] for line in drawn.splitlines() if line.startswith("┃"))
    expected = clean(command.strip(" \t\n"))
    assert re.sub(r"\s", "", expected) in re.sub(r"\s", "", inside)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(alphabet=CONTROLS + "ab"),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["status", "content", "data", "message", "compact_metadata", "compactMetadata", "hook_name",
     "exit_code", "outcome", "stderr", "estimated_tokens", "status_category", "needs_action",
     "goal", "new_conversation_id", "state", "modelUsage", "permission_denials", "errors",
     "is_error", "terminal_reason", "cost_usd", "attempt", "rate_limit_info", "task_id"]
)  # fmt: skip
SUBTYPES = st.sampled_from(
    ["init", "status", "compact_boundary", "api_retry", "task_started", "task_notification",
     "task_progress", "thinking_tokens", "hook_started", "hook_response", "informational",
     "local_command_output", "post_turn_summary", "active_goal", "autocompact_state",
     "turn_handoff_available", "conversation_reset", "session_state_changed"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["system", "result", "env_manager_log", "rate_limit_event"]),
    subtype=SUBTYPES,
    fields=st.dictionaries(FIELDS, JSON, max_size=5),
    live=st.booleans(),
)
def test_status_lines_never_raise_nor_leak_a_control(
    kind: str, subtype: str, fields: dict[str, object], live: bool
) -> None:
    """Every status family, fed junk of any shape (controls in its text), draws without raising."""
    obj = {**fields, "type": kind, "subtype": subtype}
    out = io.StringIO()
    renderer = PrettyRenderer(out, color=False, width=60, live=live)
    renderer.message(Message(json.dumps(obj, default=str), obj, 0.0))
    renderer.close()
    assert UNSAFE.search(out.getvalue().replace("\r\x1b[2K", "")) is None


# -- the frame parser, with every control character -----------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=4), st.booleans())
def test_frame_parser_keeps_every_control_character_in_messages(
    pairs: list[tuple[str, str]], ascii_only: bool
) -> None:
    """Messages whose type and text hold any control character (escaped in JSON, or raw
    where JSON allows it: DEL and C1), one per line in a frame: each comes out once, in
    order, equal to what was sent, and its line decodes to it."""
    from sesstail.protocol import Skipped, parse_frame

    objs = [{"type": kind, "text": text} for kind, text in pairs]
    frame = "\n".join(json.dumps(obj, ensure_ascii=ascii_only) for obj in objs)
    results = list(parse_frame(frame, 0.0))
    assert not any(isinstance(r, Skipped) for r in results)
    assert [r.obj for r in results if isinstance(r, Message)] == objs
    assert all(json.loads(r.line) == r.obj for r in results if isinstance(r, Message))


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_frame_parser_never_raises_on_raw_control_text(text: str) -> None:
    """A frame of raw text with any control character (a CR, a NUL, ESC…), alone or around
    a message: only Messages and Skipped, never an exception; the message still comes."""
    from sesstail.protocol import Skipped, parse_frame

    for frame in (text, text + '\n{"type":"a"}', '{"type":"a"}\n' + text):
        results = list(parse_frame(frame, 0.0))
        assert all(isinstance(r, Message | Skipped) for r in results)
        if frame != text:
            assert {"type": "a"} in [r.obj for r in results if isinstance(r, Message)]
