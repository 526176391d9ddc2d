"""--tool, --grep and the --type pattern check (sesstail.select)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from sesstail.errors import UsageError
from sesstail.select import KNOWN_TYPES, ContentFilter, text_of, type_warning


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "assistant",
        "uuid": "u-a",
        "session_id": "s1",
        "parent_tool_use_id": None,
        "message": {"id": "msg_01X", "role": "assistant", "content": list(blocks)},
    }


def tool_use(call_id: str, name: str, **tool_input: Any) -> dict[str, Any]:
    return assistant({"type": "tool_use", "id": call_id, "name": name, "input": tool_input})


def tool_result(call_id: str, content: Any, *, is_error: bool = False) -> dict[str, Any]:
    return {
        "type": "user",
        "uuid": "u-r",
        "message": {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": call_id,
                    "content": content,
                    "is_error": is_error,
                }
            ],
        },
    }


BASH = tool_use("toolu_01B", "Bash", command="npm test", description="Run tests")
BASH_RESULT = tool_result("toolu_01B", "12 passing")
READ = tool_use("toolu_02R", "Read", file_path="/home/dev/app/src/flaky.test.ts")
READ_RESULT = tool_result(
    "toolu_02R", [{"type": "text", "text": "describe('retry', () => { jitter })"}]
)
MCP = tool_use("toolu_03M", "mcp__github__create_issue", title="Flaky retry test", labels=["ci"])
MCP_RESULT = tool_result("toolu_03M", [{"type": "text", "text": "Created issue #42"}])
THINKING = assistant(
    {"type": "thinking", "thinking": "The backoff jitter is unseeded.", "signature": "c2ln"}
)
PROSE = assistant({"type": "text", "text": "All tests pass now."})
PROMPT = {"type": "user", "message": {"role": "user", "content": "fix the flaky test"}}
RESULT = {
    "type": "result",
    "subtype": "success",
    "is_error": False,
    "num_turns": 3,
    "result": "Fixed: seeded the jitter.",
    "total_cost_usd": 0.083,
}
INIT = {
    "type": "system",
    "subtype": "init",
    "model": "claude-sonnet-4-5",
    "cwd": "/home/dev/app",
    "tools": ["Bash", "Edit"],
}
KEEP_ALIVE = {"type": "keep_alive"}
SESSION = [PROMPT, THINKING, BASH, BASH_RESULT, READ, READ_RESULT, MCP, MCP_RESULT, PROSE, RESULT]


def kept(content: ContentFilter, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [obj for obj in messages if content.keeps(obj)]


# -- type_warning ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    ["result", "system/init", "result/error_max_turns", "tool_progress", "env_manager_log"],
)
def test_type_warning_silent_for_known_patterns(pattern: str) -> None:
    assert pattern in KNOWN_TYPES
    assert type_warning(pattern) is None


@pytest.mark.parametrize(
    "pattern",
    [
        "progress",
        "progress/hook_progress",
        "progress/bash_progress",
        "file-history-snapshot",
        "queue-operation",
        "summary",
        "attachment",
        "system/local_command",
        "system/stop_hook_summary",
    ],
)
def test_type_warning_silent_for_a_local_transcripts_line_types(pattern: str) -> None:
    """What the README's Local sessions section tells you to pass to -t is not a typo."""
    assert type_warning(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "read_as"),
    [("system/turn_duration", "'result'"), ("system/api_error", "'system/api_retry'")],
)
def test_type_warning_names_what_a_transcripts_renamed_line_is_read_as(
    pattern: str, read_as: str
) -> None:
    warning = type_warning(pattern)
    assert warning is not None
    assert f"read as {read_as}" in warning


def test_type_warning_lenient_on_new_subtypes_of_known_types() -> None:
    assert type_warning("system/task_updated") is None
    assert type_warning("result/error_something_new") is None


@pytest.mark.parametrize(
    ("pattern", "suggestion"),
    [
        ("resutl", "'result'"),
        ("reslt", "'result'"),
        ("System", "'system'"),
        ("system/innit", "'system/init'"),
        ("system/Init", "'system/init'"),
        ("resutl/sucess", "'result/success'"),
        ("init", "'system/init'"),
    ],
)
def test_type_warning_names_the_nearest_known_pattern(pattern: str, suggestion: str) -> None:
    warning = type_warning(pattern)
    assert warning is not None
    assert f"did you mean {suggestion}?" in warning
    assert "\n" not in warning


def test_type_warning_for_an_unknown_type_lists_the_known_ones() -> None:
    warning = type_warning("zzqx")
    assert warning is not None
    assert warning.startswith("unknown message type 'zzqx'; known types: active_goal, assistant, ")
    assert "control_request" in warning
    assert "did you mean" not in warning


def test_type_warning_quotes_hostile_input_safely() -> None:
    warning = type_warning("\x1b]0;pwned\x07" + "x" * 500)
    assert warning is not None
    assert "\x1b" not in warning
    assert "\x07" not in warning
    assert len(warning) < 500


def test_type_warning_catches_a_control_request_subtype_that_never_matches() -> None:
    warning = type_warning("control_request/can_use_tool")
    assert warning is not None
    assert "'request'" in warning


# -- --tool ----------------------------------------------------------------------------------


def test_no_options_keep_everything() -> None:
    content = ContentFilter()
    assert not content.active
    assert kept(content, [*SESSION, KEEP_ALIVE]) == [*SESSION, KEEP_ALIVE]


def test_tool_keeps_its_calls_their_results_and_the_result() -> None:
    assert kept(ContentFilter(tools=["Bash"]), SESSION) == [BASH, BASH_RESULT, RESULT]


def test_tool_is_any_of_and_case_insensitive() -> None:
    content = ContentFilter(tools=["bash", "READ"])
    assert kept(content, SESSION) == [BASH, BASH_RESULT, READ, READ_RESULT, RESULT]


def test_tool_matches_mcp_tools_by_full_name_or_by_server() -> None:
    assert kept(ContentFilter(tools=["mcp__github__create_issue"]), SESSION) == [
        MCP,
        MCP_RESULT,
        RESULT,
    ]
    assert kept(ContentFilter(tools=["mcp__github"]), SESSION) == [MCP, MCP_RESULT, RESULT]
    assert kept(ContentFilter(tools=["create_issue"]), SESSION) == [RESULT]


def test_tool_result_is_linked_by_id_not_by_position() -> None:
    other = tool_result("toolu_99", "unrelated output")
    content = ContentFilter(tools=["Bash"])
    assert kept(content, [other, BASH, READ, other, READ_RESULT, BASH_RESULT]) == [
        BASH,
        BASH_RESULT,
    ]


def test_tool_keeps_progress_and_permission_prompts_with_their_answers() -> None:
    progress = {"type": "tool_progress", "tool_use_id": "toolu_01B", "tool_name": "Bash"}
    read_progress = {"type": "tool_progress", "tool_use_id": "toolu_02R", "tool_name": "Read"}
    prompt = {
        "type": "control_request",
        "request_id": "r1",
        "request": {
            "subtype": "can_use_tool",
            "tool_name": "Bash",
            "input": {"command": "rm -rf build"},
            "tool_use_id": "toolu_05",
        },
    }
    answer = {
        "type": "control_response",
        "response": {"subtype": "success", "request_id": "r1", "response": {"behavior": "allow"}},
    }
    cancel = {"type": "control_cancel_request", "request_id": "r1"}
    other_cancel = {"type": "control_cancel_request", "request_id": "r2"}
    later_result = tool_result("toolu_05", "removed")
    messages: list[dict[str, Any]] = [
        progress,
        read_progress,
        prompt,
        answer,
        cancel,
        other_cancel,
        later_result,
    ]
    assert kept(ContentFilter(tools=["Bash"]), messages) == [
        progress,
        prompt,
        answer,
        cancel,
        later_result,
    ]


def test_tool_drops_system_messages_and_keep_alives() -> None:
    assert kept(ContentFilter(tools=["Bash"]), [INIT, KEEP_ALIVE, PROMPT]) == []


def test_tool_memory_of_call_ids_is_bounded() -> None:
    content = ContentFilter(tools=["Bash"], memory=2)
    for n in range(3):
        assert content.keeps(tool_use(f"toolu_{n}", "Bash", command="true"))
    assert not content.keeps(tool_result("toolu_0", "forgotten"))
    assert content.keeps(tool_result("toolu_2", "remembered"))


def test_tool_with_an_empty_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="tool name"):
        ContentFilter(tools=[" "])


# -- --grep ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("flaky test", PROMPT),  # a prompt's string content
        ("jitter is unseeded", THINKING),  # thinking
        (r"^npm test$", BASH),  # a tool input's string value, not JSON-quoted
        ("12 passing", BASH_RESULT),  # a tool result's string content
        (r"describe\('retry'", READ_RESULT),  # a tool result's text blocks
        ("Flaky retry", MCP),  # an mcp tool's input
        ("#42", MCP_RESULT),
        ("seeded the jitter", RESULT),  # the result's text
        ("sonnet", INIT),  # a system message's fields
    ],
)
def test_grep_finds_each_kind_of_text(pattern: str, message: dict[str, Any]) -> None:
    content = ContentFilter(patterns=[pattern])
    assert kept(content, [*SESSION, INIT, KEEP_ALIVE]) == [message]


def test_grep_is_any_of() -> None:
    content = ContentFilter(patterns=["12 passing", "All tests pass"])
    assert kept(content, SESSION) == [BASH_RESULT, PROSE]


def test_grep_keeps_a_matching_prompt_with_its_withdrawal() -> None:
    prompt = {
        "type": "control_request",
        "request_id": "r7",
        "request": {
            "subtype": "can_use_tool",
            "tool_name": "Bash",
            "input": {"command": "rm -rf /"},
        },
    }
    cancel = {"type": "control_cancel_request", "request_id": "r7"}
    other_cancel = {"type": "control_cancel_request", "request_id": "r8"}
    assert kept(ContentFilter(patterns=["rm -rf"]), [prompt, cancel, other_cancel]) == [
        prompt,
        cancel,
    ]


def test_grep_judges_a_stream_event_by_its_delta() -> None:
    delta = {
        "type": "stream_event",
        "event": {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "All tests"},
        },
    }
    assert ContentFilter(patterns=["All tests"]).keeps(delta)
    assert not ContentFilter(patterns=["content_block"]).keeps(delta)


def test_grep_skips_ids_and_signatures() -> None:
    assert kept(ContentFilter(patterns=["toolu_01B|c2ln|msg_01X"]), SESSION) == []


def test_text_of_is_capped() -> None:
    huge = tool_result("toolu_01B", "x" * 5_000_000 + "NEEDLE")
    assert len(text_of(huge)) == 1 << 20
    assert not ContentFilter(patterns=["NEEDLE"]).keeps(huge)
    assert ContentFilter(patterns=["NEEDLE"], text_limit=6_000_000).keeps(huge)


def test_grep_runs_in_linear_time_on_a_catastrophic_pattern() -> None:
    content = ContentFilter(patterns=[r"(a+)+$"])
    message = tool_result("toolu_01B", "a" * 50_000 + "!")
    started = time.monotonic()
    assert not content.keeps(message)  # a backtracking engine takes exponential time to fail
    assert time.monotonic() - started < 1.0
    assert ContentFilter(patterns=[r"(a+)+!$"]).keeps(message)


def test_grep_survives_a_lone_surrogate() -> None:
    message = tool_result("toolu_01B", "before \ud800 after")
    assert ContentFilter(patterns=["after"]).keeps(message)
    assert not ContentFilter(patterns=["absent"]).keeps(message)


@pytest.mark.parametrize("pattern", ["(unclosed", "a{1001}", r"(?<=x)y", r"(a)\1"])
def test_invalid_grep_pattern_is_a_usage_error(pattern: str) -> None:
    with pytest.raises(UsageError, match="invalid --grep pattern") as caught:
        ContentFilter(patterns=[pattern])
    assert caught.value.hint is not None


def test_grep_does_not_import_re2_until_needed() -> None:
    script = (
        "import sys\n"
        "from sesstail.select import ContentFilter\n"
        "ContentFilter(tools=['Bash'])\n"
        "before = 're2' in sys.modules\n"
        "ContentFilter(patterns=['x'])\n"
        "print(before, 're2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True"]


def test_exclude_grep_drops_what_matches_any_of_its_patterns() -> None:
    content = ContentFilter(excluded=["12 passing", "All tests pass"])
    assert BASH_RESULT not in kept(content, SESSION)
    assert PROSE not in kept(content, SESSION)
    assert len(kept(content, SESSION)) == len(SESSION) - 2


def test_grep_and_exclude_grep_both_hold() -> None:
    content = ContentFilter(patterns=["12 passing|All tests pass"], excluded=["All tests"])
    assert kept(content, SESSION) == [BASH_RESULT]


def test_exclude_grep_runs_in_linear_time_and_names_itself_in_errors() -> None:
    message = tool_result("toolu_01B", "a" * 50_000 + "!")
    started = time.monotonic()
    assert ContentFilter(excluded=[r"(a+)+$"]).keeps(message)
    assert time.monotonic() - started < 1.0
    with pytest.raises(UsageError, match="invalid --exclude-grep pattern"):
        ContentFilter(excluded=["(unclosed"])


# -- both ------------------------------------------------------------------------------------


def test_tool_and_grep_must_both_hold() -> None:
    failing = tool_use("toolu_06", "Bash", command="npm run lint")
    failing_result = tool_result("toolu_06", "2 errors", is_error=True)
    content = ContentFilter(tools=["Bash"], patterns=["error"])
    messages = [*SESSION, failing, failing_result, tool_result("toolu_02R", "error in Read")]
    assert kept(content, messages) == [failing_result]
