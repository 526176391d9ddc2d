"""top's model: how list items and stream messages become a session's status, turn and line."""

from __future__ import annotations

from typing import Any

import pytest

from sesstail.protocol import Message, encode
from sesstail.top.model import Board, SessionState, format_duration, one_line, summarize

SID = "session_01Model"


def msg(obj: dict[str, Any], at: float) -> Message:
    return Message(encode(obj), obj, at)


def item(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": SID,
        "title": "Fix it",
        "session_status": status,
        "updated_at": "2026-12-01T10:00:00Z",
        "session_context": {"model": "claude-opus-4"},
        **extra,
    }


PROMPT = {
    "type": "control_request",
    "request_id": "r1",
    "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "ls"}},
}
TEXT = {"type": "assistant", "message": {"content": [{"type": "text", "text": "Looking."}]}}
RESULT = {"type": "result", "subtype": "success", "total_cost_usd": 0.5, "duration_ms": 90_000}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_open_prompt_means_waiting_whatever_else_is_said() -> None:
    """A pending can_use_tool is requires_action until cancelled, answered or a result."""
    state = SessionState(SID)
    state.apply(msg(PROMPT, 1.0))
    state.apply(msg(TEXT, 2.0))
    assert state.status == "requires_action"
    state.apply(msg({"type": "control_cancel_request", "request_id": "r1"}, 3.0))
    assert state.status == "running"
    state.apply(msg(PROMPT, 4.0))
    state.apply(msg(RESULT, 5.0))
    assert state.status == "idle"
    assert state.prompts == {}


def test_a_control_response_on_the_stream_closes_the_prompt() -> None:
    """An answer seen on the stream (answered elsewhere) closes the prompt here too."""
    state = SessionState(SID)
    state.apply(msg(PROMPT, 1.0))
    answer = {"type": "control_response", "response": {"subtype": "success", "request_id": "r1"}}
    state.apply(msg(answer, 2.0))
    assert state.prompts == {}


def test_the_freshest_word_wins_between_list_and_stream() -> None:
    """The list changing after the stream spoke overrides it; the stream speaking again wins."""
    clock = Clock()
    board = Board(clock)
    board.update_list([item("idle")])
    board.apply(SID, msg(TEXT, 1001.0))
    assert board.sessions[SID].status == "running"
    clock.now = 1002.0
    board.update_list([item("idle")])  # the same word as before: not news
    assert board.sessions[SID].status == "running"
    clock.now = 1003.0
    assert board.update_list([item("archived")]) == {SID: ("running", "archived")}
    assert board.sessions[SID].status == "archived"
    board.apply(SID, msg(TEXT, 1004.0))
    assert board.sessions[SID].status == "running"


def test_the_turn_runs_from_its_first_message_to_its_result() -> None:
    """turn_seconds counts from the turn's first message; the result's duration is kept."""
    state = SessionState(SID)
    state.apply(msg(TEXT, 100.0))
    state.apply(msg(TEXT, 130.0))
    assert state.turn_seconds(160.0) == 60.0
    state.apply(msg(RESULT, 190.0))
    assert state.turn_seconds(200.0) is None
    assert state.last_turn_seconds == 90.0
    assert state.cost_usd == 0.5


def test_a_session_first_seen_running_counts_its_turn_from_then() -> None:
    """Running in the list, nothing on the stream yet: the turn counts from first sight."""
    clock = Clock()
    board = Board(clock)
    board.update_list([item("running")])
    assert board.sessions[SID].turn_seconds(1010.0) == 10.0
    assert board.sessions[SID].model == "claude-opus-4"


def test_sessions_are_ordered_waiting_first_and_archived_hidden() -> None:
    """Waiting, then running, then idle; archived only when asked for."""
    board = Board(Clock())
    board.update_list(
        [
            {"id": "a", "session_status": "idle"},
            {"id": "b", "session_status": "archived"},
            {"id": "c", "session_status": "running"},
            {"id": "d", "session_status": "requires_action"},
        ]
    )
    assert [s.session_id for s in board.ordered()] == ["d", "c", "a"]
    assert [s.session_id for s in board.ordered(frozenset({"archived"}))] == ["b"]


def test_a_session_gone_from_the_list_is_no_longer_shown() -> None:
    """The list stops naming a session: its row goes."""
    board = Board(Clock())
    board.update_list([item("idle")])
    board.update_list([])
    assert board.ordered() == []


def test_a_session_listed_after_the_first_list_is_a_change_from_nothing() -> None:
    """The first list says how things stand; a session that appears later is a change."""
    board = Board(Clock())
    assert board.update_list([item("requires_action")]) == {}
    later = {**item("requires_action"), "id": "session_01New"}
    assert board.update_list([item("requires_action"), later]) == {
        "session_01New": ("", "requires_action")
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (TEXT, ("text", "Looking.")),
        (
            {
                "type": "assistant",
                "message": {
                    "content": [
                        {"type": "tool_use", "name": "Bash", "input": {"command": "npm test"}}
                    ]
                },
            },
            ("tool", "Bash: npm test"),
        ),
        (
            {
                "type": "user",
                "message": {
                    "content": [{"type": "tool_result", "content": "boom\nmore", "is_error": True}]
                },
            },
            ("tool_error", "boom more"),
        ),
        ({"type": "user", "message": {"content": "run it"}}, ("user", "› run it")),
        (RESULT, ("result", "done: success")),
        (
            {"type": "result", "subtype": "error_max_turns", "errors": ["Reached max turns"]},
            ("result_error", "error_max_turns: Reached max turns"),
        ),
        (PROMPT, ("prompt", "wants Bash: ls")),
        ({"type": "keep_alive"}, None),
        ({"type": "stream_event", "event": {}}, None),
        ({"type": "brand_new_type"}, ("other", "brand_new_type")),
    ],
)
def test_each_kind_of_message_gets_its_line(
    obj: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    """The last-activity line for each message family; noise leaves the line alone."""
    assert summarize(obj) == expected


def test_one_line_escapes_flattens_and_bounds() -> None:
    """Control characters escaped, newlines and tabs as spaces, long text cut with …"""
    assert one_line("a\x1b[2Jb\n\tc") == "a\\x1b[2Jb c"
    assert one_line("x" * 500, 10) == "x" * 9 + "…"
    assert one_line(None) == ""


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5s"), (65, "1m 05s"), (3 * 3600 + 120, "3h 02m")]
)
def test_durations_read_at_a_glance(seconds: float, text: str) -> None:
    """Turn times as 5s, 1m 05s, 3h 02m."""
    assert format_duration(seconds) == text
